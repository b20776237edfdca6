import BettyDashboard

/// A screen the dashboard can draw on and read keys from. `CursesTerminal` is the real one; tests use
/// a fake, so the dashboard's loop runs without a terminal.
public protocol TerminalDriver: AnyObject {
    var size: GridSize { get }
    var capabilities: TerminalCapabilities { get }
    /// Shows `grid`; cells beyond the terminal's size are not drawn.
    func draw(_ grid: CellGrid)
    /// Waits up to `timeoutMilliseconds` (0: only what is already typed) for a key or a resize.
    func readKey(timeoutMilliseconds: Int) -> TerminalInput?
    /// Gives the terminal back as it was; safe to call more than once.
    func close()
}

public enum TerminalInput: Equatable, Sendable {
    case key(Unicode.Scalar)
    /// The terminal changed size; `size` already reports the new one.
    case resize(GridSize)
}
