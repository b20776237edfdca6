/// Why `DashboardLoop.run` returned. Either way the caller closes the terminal.
public enum DashboardExit: Equatable, Sendable {
    /// The user pressed `q`; the run, if any, goes on without the dashboard.
    case quit
    /// `shouldEnd` turned true (the run finished or failed).
    case ended
}
