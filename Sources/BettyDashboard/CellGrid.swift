/// The screen as the dashboard computes it: a grid of cells, independent of any terminal library.
/// The curses driver only copies cells to the terminal; golden tests read `lines`.
public struct CellGrid: Equatable, Sendable {
    public let size: GridSize
    public private(set) var cells: [Cell]

    public init(_ size: GridSize) {
        self.size = size
        cells = Array(repeating: Cell(), count: max(0, size.columns) * max(0, size.rows))
    }

    public subscript(column: Int, row: Int) -> Cell {
        get { cells[row * size.columns + column] }
        set { cells[row * size.columns + column] = newValue }
    }

    public func contains(column: Int, row: Int) -> Bool {
        column >= 0 && row >= 0 && column < size.columns && row < size.rows
    }

    /// Writes `text` from (column, row), one cell per Unicode scalar, clipped at `limit` columns
    /// (default: the grid's right edge). Returns the column after the last cell written.
    @discardableResult
    public mutating func put(_ text: String, column: Int, row: Int, style: Style = Style(), limit: Int? = nil) -> Int {
        let end = min(size.columns, limit.map { column + max(0, $0) } ?? size.columns)
        var x = column
        guard row >= 0, row < size.rows else { return x }
        for scalar in text.unicodeScalars {
            guard x < end else { break }
            if x >= 0 { self[x, row] = Cell(scalar, style) }
            x += 1
        }
        return x
    }

    /// Sets the style of a run of cells without changing their characters.
    public mutating func paint(column: Int, row: Int, width: Int, style: Style) {
        guard row >= 0, row < size.rows else { return }
        for x in max(0, column)..<min(size.columns, column + max(0, width)) { self[x, row].style = style }
    }

    /// The grid as text, one string per row, trailing spaces kept (every row is `columns` wide).
    public var lines: [String] {
        (0..<size.rows).map { row in
            var s = String.UnicodeScalarView()
            for x in 0..<size.columns { s.append(self[x, row].character) }
            return String(s)
        }
    }
}

public struct GridSize: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var columns: Int
    public var rows: Int
    public init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
    }
    public var description: String { "\(columns)x\(rows)" }
}

/// One character cell: a single-width Unicode scalar and how to draw it.
public struct Cell: Equatable, Sendable {
    public var character: Unicode.Scalar
    public var style: Style
    public init(_ character: Unicode.Scalar = " ", _ style: Style = Style()) {
        self.character = character
        self.style = style
    }
}

/// How a cell is drawn. Colours are the eight ANSI ones; a terminal without colour draws only the
/// attributes.
public struct Style: Equatable, Hashable, Sendable {
    public var foreground: Color?
    public var bold: Bool
    public var dim: Bool
    public var reverse: Bool
    public init(foreground: Color? = nil, bold: Bool = false, dim: Bool = false, reverse: Bool = false) {
        self.foreground = foreground
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
    }
}

public enum Color: Int, CaseIterable, Sendable {
    case black, red, green, yellow, blue, magenta, cyan, white
}

/// What the terminal can show: Unicode (braille, box drawing) needs a UTF-8 locale.
public struct TerminalCapabilities: Equatable, Sendable {
    public var unicode: Bool
    public var colors: Bool
    public init(unicode: Bool = true, colors: Bool = true) {
        self.unicode = unicode
        self.colors = colors
    }
}
