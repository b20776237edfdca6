/// A plot area at sub-cell resolution: with Unicode each cell is a 2x4 braille dot matrix, without
/// it a 1x2 matrix drawn as ' . :'. Lines are drawn in dot space and turned into glyphs at the end.
struct DotCanvas {
    let columns: Int
    let rows: Int
    let unicode: Bool
    private var bits: [UInt8]
    private var styles: [Style?]

    init(columns: Int, rows: Int, unicode: Bool) {
        self.columns = max(0, columns)
        self.rows = max(0, rows)
        self.unicode = unicode
        bits = Array(repeating: 0, count: self.columns * self.rows)
        styles = Array(repeating: nil, count: self.columns * self.rows)
    }

    var dotsPerCell: (x: Int, y: Int) { unicode ? (2, 4) : (1, 2) }
    var dotColumns: Int { columns * dotsPerCell.x }
    var dotRows: Int { rows * dotsPerCell.y }

    /// Sets one dot; the cell takes the style of whatever was drawn last, so a bright line drawn over
    /// a dim one stays bright where they meet.
    mutating func set(_ x: Int, _ y: Int, style: Style) {
        guard x >= 0, y >= 0, x < dotColumns, y < dotRows else { return }
        let (dx, dy) = dotsPerCell
        let i = (y / dy) * columns + x / dx
        bits[i] |= Self.bit(x % dx, y % dy, unicode: unicode)
        styles[i] = style
    }

    mutating func vertical(_ x: Int, from y0: Int, to y1: Int, style: Style) {
        for y in min(y0, y1)...max(y0, y1) { set(x, y, style: style) }
    }

    /// Bresenham between two dots, both ends included.
    mutating func line(from a: (x: Int, y: Int), to b: (x: Int, y: Int), style: Style) {
        var (x, y) = a
        let dx = abs(b.x - a.x), dy = -abs(b.y - a.y)
        let sx = a.x < b.x ? 1 : -1, sy = a.y < b.y ? 1 : -1
        var err = dx + dy
        while true {
            set(x, y, style: style)
            if x == b.x && y == b.y { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// Copies the non-empty cells into `grid` with their top-left at `origin`.
    func render(into grid: inout CellGrid, at origin: (column: Int, row: Int)) {
        for r in 0..<rows {
            for c in 0..<columns {
                let i = r * columns + c
                guard bits[i] != 0, grid.contains(column: origin.column + c, row: origin.row + r) else { continue }
                grid[origin.column + c, origin.row + r] = Cell(Self.glyph(bits[i], unicode: unicode), styles[i] ?? Style())
            }
        }
    }

    /// Braille dot numbering: left column dots 1,2,3,7 and right column 4,5,6,8, top to bottom.
    static func bit(_ x: Int, _ y: Int, unicode: Bool) -> UInt8 {
        guard unicode else { return y == 0 ? 1 : 2 }
        let left: [UInt8] = [0x01, 0x02, 0x04, 0x40]
        let right: [UInt8] = [0x08, 0x10, 0x20, 0x80]
        return x == 0 ? left[y] : right[y]
    }

    static func glyph(_ bits: UInt8, unicode: Bool) -> Unicode.Scalar {
        if unicode { return Unicode.Scalar(0x2800 + UInt32(bits))! }
        switch bits {
        case 1: return "'"
        case 2: return "."
        default: return ":"
        }
    }
}
