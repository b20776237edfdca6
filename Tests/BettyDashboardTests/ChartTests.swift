import BettyDashboard
import Testing

@Suite struct ChartTests {
    static let rect = GridRect(column: 0, row: 0, columns: 40, rows: 8)

    func draw(_ values: [Float], options: ChartOptions = ChartOptions()) -> (CellGrid, ChartSummary) {
        var series = Series()
        for (x, y) in values.enumerated() { series.append(x: x * 10, y: y) }
        var grid = CellGrid(GridSize(columns: Self.rect.columns, rows: Self.rect.rows))
        let summary = BrailleChart.draw([ChartLine(series, color: .cyan)], in: Self.rect, on: &grid, options: options)
        return (grid, summary)
    }

    /// Braille cells of the plot area (right of the labels, above the step axis) and their dot count.
    func braille(_ grid: CellGrid) -> [(column: Int, row: Int, dots: Int)] {
        var found: [(Int, Int, Int)] = []
        for row in 0..<grid.size.rows {
            for column in 0..<grid.size.columns {
                let v = grid[column, row].character.value
                if v >= 0x2800 && v <= 0x28FF { found.append((column, row, (v - 0x2800).nonzeroBitCount)) }
            }
        }
        return found
    }

    @Test func logScaleHidesZeroAndNegativeValuesAndSaysSo() {
        let (grid, summary) = draw([1, 0, -3, 10, 100, 0.1], options: ChartOptions(logScale: true))
        #expect(summary.hidden == 2)
        #expect(summary.hasData)
        #expect(grid.lines.joined().contains("2 ≤0 hidden"))
        #expect(grid.lines.allSatisfy { !$0.contains("NaN") && !$0.contains("inf") })
        let (empty, none) = draw([0, -1], options: ChartOptions(logScale: true))
        #expect(!none.hasData)
        #expect(empty.lines.joined().contains("no data (2 ≤0 hidden)"))
    }

    @Test func nonFiniteValuesAreMarkedAndTheScaleStaysFinite() {
        let (grid, summary) = draw([1, 2, .nan, 3, .infinity, 2])
        #expect(summary.nonFiniteColumns == 2)
        #expect(grid.lines[0].contains("!"))
        #expect(grid.lines[0].hasPrefix("      3"))
        #expect(grid.lines[6].hasPrefix("      1"))
        #expect(grid.lines.joined().contains("! NaN/inf"))
    }

    @Test func aFlatLineDrawsOneRow() {
        let (grid, _) = draw(Array(repeating: 5, count: 30))
        let cells = braille(grid)
        #expect(!cells.isEmpty)
        #expect(Set(cells.map(\.row)).count == 1)
        #expect(cells.count == Self.rect.columns - 8)
        #expect(grid.lines.allSatisfy { !$0.contains("nan") })
    }

    @Test func aSinglePointDrawsOneDot() {
        let (grid, summary) = draw([0.5])
        #expect(summary.hasData)
        let cells = braille(grid)
        #expect(cells.count == 1)
        #expect(cells.first?.dots == 1)
    }

    @Test func smoothingDrawsABrightLineOverTheDimRawCurve() {
        var noise = RecordedRun.Noise(state: 11)
        let values = (0..<60).map { _ in 1 + noise.next() }
        let (grid, _) = draw(values, options: ChartOptions(smoothing: true))
        let styles = braille(grid).map { grid[$0.column, $0.row].style }
        #expect(styles.contains { $0.bold && !$0.dim })
        #expect(styles.contains { $0.dim })
        let (plain, _) = draw(values)
        #expect(braille(plain).allSatisfy { !plain[$0.column, $0.row].style.dim })
    }

    @Test func asciiFallbackUsesNoUnicode() {
        let (grid, _) = draw([1, 3, 2, 5, 4], options: ChartOptions(unicode: false))
        let text = grid.lines.joined()
        #expect(text.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(text.contains(":") || text.contains("."))
    }

    @Test func theWindowShowsOnlyTheLastSteps() {
        let (grid, _) = draw((0..<100).map(Float.init), options: ChartOptions(window: 200))
        // Steps 791...990: the last 200 global steps, of which the series holds every tenth.
        #expect(grid.lines[7].hasPrefix("        791"))
        #expect(grid.lines[7].hasSuffix("990"))
    }
}
