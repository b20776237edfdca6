/// A rectangle of cells inside a `CellGrid`; layouts split these, panels draw into them.
public struct GridRect: Equatable, Sendable {
    public var column: Int
    public var row: Int
    public var columns: Int
    public var rows: Int

    public init(column: Int, row: Int, columns: Int, rows: Int) {
        self.column = column
        self.row = row
        self.columns = max(0, columns)
        self.rows = max(0, rows)
    }

    public var isEmpty: Bool { columns <= 0 || rows <= 0 }
    public var maxColumn: Int { column + columns }
    public var maxRow: Int { row + rows }

    /// The rectangle inside a one-cell border.
    public var inner: GridRect { inset(1) }

    public func inset(_ n: Int) -> GridRect {
        GridRect(column: column + n, row: row + n, columns: columns - 2 * n, rows: rows - 2 * n)
    }

    /// Splits off the top `n` rows (clamped), returning (top, rest).
    public func splitTop(_ n: Int) -> (GridRect, GridRect) {
        let k = min(max(0, n), rows)
        return (GridRect(column: column, row: row, columns: columns, rows: k),
                GridRect(column: column, row: row + k, columns: columns, rows: rows - k))
    }

    /// Splits off the left `n` columns (clamped), returning (left, rest).
    public func splitLeft(_ n: Int) -> (GridRect, GridRect) {
        let k = min(max(0, n), columns)
        return (GridRect(column: column, row: row, columns: k, rows: rows),
                GridRect(column: column + k, row: row, columns: columns - k, rows: rows))
    }

    /// `count` cells of `self` split as evenly as possible along `columns`; the first ones get the
    /// remainder so the layout is the same every time.
    public func columns(_ count: Int) -> [GridRect] {
        guard count > 0 else { return [] }
        var x = column
        return (0..<count).map { i in
            let w = columns / count + (i < columns % count ? 1 : 0)
            defer { x += w }
            return GridRect(column: x, row: row, columns: w, rows: rows)
        }
    }

    public func rows(_ count: Int) -> [GridRect] {
        guard count > 0 else { return [] }
        var y = row
        return (0..<count).map { i in
            let h = rows / count + (i < rows % count ? 1 : 0)
            defer { y += h }
            return GridRect(column: column, row: y, columns: columns, rows: h)
        }
    }
}
