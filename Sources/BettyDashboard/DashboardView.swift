/// What the user chose to see, changed by keys; the model and this view decide the screen.
public struct DashboardView: Equatable, Sendable {
    public var logScale = false
    /// An exponential moving average drawn over each curve (TensorBoard's smoothing slider).
    public var smoothing = false
    /// The last this many global steps, or nil for the whole run.
    public var window: Int?
    /// One level shown full-screen, or nil for the overview.
    public var focus: String?
    public var showHelp = false
    public init() {}
}

/// The dashboard's keys. The terminal driver maps key codes to these; view keys change
/// `DashboardView`, run keys go to the `DashboardHost`.
public enum DashboardKey: Equatable, Sendable {
    case togglePause      // p
    case stepOnce         // s (while paused)
    case toggleLogScale   // l
    case toggleSmoothing  // m
    case widenWindow      // +
    case narrowWindow     // -
    case cycleFocus       // tab
    case quit             // q
    case help             // ?
    case interrupt        // Ctrl-C: pauses the engine
}

/// What the dashboard asks of whoever runs the engine (the REPL's run controller). Called from the
/// dashboard's thread; every method returns at once.
public protocol DashboardHost: AnyObject, Sendable {
    /// `p`: pause a running engine at its next step boundary, or resume a paused one.
    func togglePause()
    /// `s`: one global step while paused (ignored otherwise).
    func stepOnce()
    /// Ctrl-C inside the dashboard: pause (never leave the program).
    func interruptFromDashboard()
}
