import BettyDashboard
import BettyTerminal

/// Draws the test pattern until `q` (or the deadline), redrawing at each resize.
func runPattern(on terminal: any TerminalDriver, until deadline: ContinuousClock.Instant?) -> String {
    terminal.draw(pattern(terminal.size, terminal.capabilities))
    while deadline.map({ ContinuousClock.now < $0 }) ?? true {
        switch terminal.readKey(timeoutMilliseconds: 100) {
        case .key("q"): return "quit"
        case .resize: terminal.draw(pattern(terminal.size, terminal.capabilities))
        default: break
        }
    }
    return "ended"
}

private func pattern(_ size: GridSize, _ capabilities: TerminalCapabilities) -> CellGrid {
    var grid = CellGrid(size)
    grid.put("pattern \(size)", column: 0, row: 0, style: Style(bold: true))
    grid.put("unicode \(capabilities.unicode ? "yes" : "no") colors \(capabilities.colors ? "yes" : "no")",
             column: 0, row: 1)
    grid.put(capabilities.unicode ? "box ┌─┐ braille ⣿⡇" : "box +-+ braille ##", column: 0, row: 2,
             style: Style(foreground: .green))
    grid.put("bottom-right", column: size.columns - 12, row: size.rows - 1, style: Style(reverse: true))
    return grid
}
