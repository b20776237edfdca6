/// Computes the whole screen from the model and the view: a pure function, so the curses driver
/// only copies the grid and the golden tests compare its text.
public enum DashboardRenderer {
    /// Below this the panels cannot hold a readable chart; the screen says so instead.
    public static let minimumSize = GridSize(columns: 60, rows: 16)

    public static func render(_ model: MonitorModel, view: DashboardView, size: GridSize,
                              capabilities: TerminalCapabilities) -> CellGrid {
        var grid = CellGrid(size)
        guard size.columns >= minimumSize.columns, size.rows >= minimumSize.rows else {
            drawTooSmall(size, on: &grid)
            return grid
        }
        let context = RenderContext(model: model, view: view, capabilities: capabilities)
        let full = GridRect(column: 0, row: 0, columns: size.columns, rows: size.rows)
        let (header, rest) = full.splitTop(1)
        let body = GridRect(column: 0, row: rest.row, columns: size.columns, rows: rest.rows - 1)
        let footer = GridRect(column: 0, row: body.maxRow, columns: size.columns, rows: 1)
        context.drawHeader(in: header, on: &grid)
        if let name = view.focus, let level = model.level(named: name) {
            context.drawFocus(level, in: body, on: &grid)
        } else {
            context.drawOverview(in: body, on: &grid)
        }
        context.drawFooter(in: footer, on: &grid)
        if view.showHelp { context.drawHelp(in: full, on: &grid) }
        return grid
    }

    static func drawTooSmall(_ size: GridSize, on grid: inout CellGrid) {
        let rect = GridRect(column: 0, row: 0, columns: size.columns, rows: size.rows)
        let needed = minimumSize
        grid.putCentered("terminal too small: \(size)", in: rect, line: max(0, size.rows / 2 - 1), style: Style(bold: true))
        grid.putCentered("the dashboard needs \(needed)", in: rect, line: size.rows / 2)
    }
}

/// What every drawing function needs: the model, the view and the terminal's abilities.
struct RenderContext {
    let model: MonitorModel
    let view: DashboardView
    let capabilities: TerminalCapabilities

    var unicode: Bool { capabilities.unicode }

    var chartOptions: ChartOptions {
        ChartOptions(logScale: view.logScale, smoothing: view.smoothing, window: view.window, unicode: unicode)
    }

    /// Levels keep their colour everywhere (panel title, hypergradient curve, compact list).
    func color(ofLevel name: String) -> Color {
        let palette: [Color] = [.cyan, .green, .magenta, .yellow, .blue, .red]
        let i = model.levels.firstIndex { $0.name == name } ?? 0
        return palette[i % palette.count]
    }
}
