/// The overview: a grid of chart panels (one per level, then hypergradients, memory, validation)
/// above a strip with the program's paths and the last output lines. Panels that do not fit are
/// dropped from the end; levels that do not fit become a compact list with sparklines.
extension RenderContext {
    static let minimumPanel = GridSize(columns: 38, rows: 7)

    enum Panel: Equatable {
        case level(String)
        case levelList
        case hypergradient
        case memory
        case validation
    }

    func drawOverview(in body: GridRect, on grid: inout CellGrid) {
        let stripRows = min(10, max(5, body.rows / 4))
        let (charts, strip) = body.splitTop(body.rows - stripRows)
        let (columns, panels) = arrangement(for: charts)
        for (panel, rect) in place(panels, columns: columns, in: charts) { draw(panel, in: rect, on: &grid) }
        let (program, output) = strip.splitLeft(max(24, strip.columns / 3))
        drawProgram(in: program, on: &grid)
        drawOutput(in: output, on: &grid)
    }

    /// How many panel columns and which panels, level panels first.
    func arrangement(for area: GridRect) -> (columns: Int, panels: [Panel]) {
        let maxColumns = max(1, area.columns / Self.minimumPanel.columns)
        let maxRows = max(1, area.rows / Self.minimumPanel.rows)
        let slots = maxColumns * maxRows
        var extras: [Panel] = []
        if model.levels.contains(where: { $0.hypergradientNorm != nil }) { extras.append(.hypergradient) }
        extras.append(.memory)
        if !model.metrics.isEmpty { extras.append(.validation) }
        let levels = model.levels.map { Panel.level($0.name) }
        // Every level gets its own panel if that leaves room for at least the first extra.
        if levels.count + min(1, extras.count) <= slots {
            let panels = levels + extras.prefix(slots - levels.count)
            return (min(maxColumns, panels.count), panels)
        }
        // Otherwise one list holds the levels and the other slots hold what extras fit.
        let panels = [Panel.levelList] + extras.prefix(max(0, slots - maxRows))
        return (min(maxColumns, panels.count), panels)
    }

    /// Row-major placement; a short last row stretches its panels, and the level list takes a whole
    /// column so it can show as many levels as possible.
    func place(_ panels: [Panel], columns: Int, in area: GridRect) -> [(Panel, GridRect)] {
        guard !panels.isEmpty, columns > 0 else { return [] }
        if panels.first == .levelList {
            let cells = area.columns(columns)
            let rest = Array(panels.dropFirst())
            let others = columns > 1
                ? place(rest, columns: columns - 1,
                        in: GridRect(column: cells[1].column, row: area.row, columns: area.maxColumn - cells[1].column,
                                     rows: area.rows))
                : []
            return [(.levelList, cells[0])] + others
        }
        let rowCount = (panels.count + columns - 1) / columns
        var placed: [(Panel, GridRect)] = []
        for (r, rowRect) in area.rows(rowCount).enumerated() {
            let slice = Array(panels[(r * columns)..<min(panels.count, (r + 1) * columns)])
            for (panel, rect) in zip(slice, rowRect.columns(slice.count)) { placed.append((panel, rect)) }
        }
        return placed
    }

    func draw(_ panel: Panel, in rect: GridRect, on grid: inout CellGrid) {
        switch panel {
        case .level(let name):
            if let level = model.level(named: name) { drawLevelPanel(level, in: rect, on: &grid) }
        case .levelList: drawLevelList(model.levels, in: rect, on: &grid)
        case .hypergradient: drawHypergradientPanel(in: rect, on: &grid)
        case .memory: drawMemoryPanel(in: rect, on: &grid)
        case .validation: drawValidationPanel(in: rect, on: &grid)
        }
    }

    /// One level full screen: its loss large and, when it has paths, its hypergradient norm below.
    func drawFocus(_ level: LevelState, in body: GridRect, on grid: inout CellGrid) {
        guard level.hypergradientNorm != nil else {
            drawLevelPanel(level, in: body, on: &grid)
            return
        }
        let (top, bottom) = body.splitTop(body.rows * 2 / 3)
        drawLevelPanel(level, in: top, on: &grid)
        drawHypergradientPanel(in: bottom, only: level.name, on: &grid)
    }
}
