/// Panel borders and the text helpers every panel uses; box-drawing characters need Unicode, so
/// an ASCII terminal gets '+', '-' and '|'.
extension CellGrid {
    public mutating func fill(_ rect: GridRect, with character: Unicode.Scalar = " ", style: Style = Style()) {
        for y in max(0, rect.row)..<min(size.rows, rect.maxRow) {
            for x in max(0, rect.column)..<min(size.columns, rect.maxColumn) { self[x, y] = Cell(character, style) }
        }
    }

    /// A border around `rect` with `title` set into the top edge.
    public mutating func box(_ rect: GridRect, title: String = "", unicode: Bool, style: Style = Style(dim: true),
                             titleStyle: Style = Style(bold: true)) {
        guard rect.columns >= 2, rect.rows >= 2 else { return }
        let (h, v, tl, tr, bl, br): (Unicode.Scalar, Unicode.Scalar, Unicode.Scalar, Unicode.Scalar, Unicode.Scalar, Unicode.Scalar) =
            unicode ? ("─", "│", "┌", "┐", "└", "┘") : ("-", "|", "+", "+", "+", "+")
        let right = rect.maxColumn - 1
        let bottom = rect.maxRow - 1
        for x in rect.column...right {
            set(x, rect.row, x == rect.column ? tl : x == right ? tr : h, style)
            set(x, bottom, x == rect.column ? bl : x == right ? br : h, style)
        }
        for y in (rect.row + 1)..<bottom {
            set(rect.column, y, v, style)
            set(right, y, v, style)
        }
        if !title.isEmpty, rect.columns > 4 {
            put(" " + title + " ", column: rect.column + 1, row: rect.row, style: titleStyle, limit: rect.columns - 2)
        }
    }

    /// Text clipped to `rect`'s width on one of its rows.
    @discardableResult
    public mutating func put(_ text: String, in rect: GridRect, line: Int, column offset: Int = 0,
                             style: Style = Style()) -> Int {
        guard line >= 0, line < rect.rows, offset < rect.columns else { return rect.column + offset }
        return put(text, column: rect.column + offset, row: rect.row + line, style: style,
                   limit: rect.columns - offset)
    }

    /// Text right-aligned on one row of `rect`.
    public mutating func putRight(_ text: String, in rect: GridRect, line: Int, style: Style = Style()) {
        let n = text.unicodeScalars.count
        put(text, in: rect, line: line, column: max(0, rect.columns - n), style: style)
    }

    /// Text centred on one row of `rect`.
    public mutating func putCentered(_ text: String, in rect: GridRect, line: Int, style: Style = Style()) {
        let n = text.unicodeScalars.count
        put(text, in: rect, line: line, column: max(0, (rect.columns - n) / 2), style: style)
    }

    private mutating func set(_ x: Int, _ y: Int, _ c: Unicode.Scalar, _ style: Style) {
        if contains(column: x, row: y) { self[x, y] = Cell(c, style) }
    }
}
