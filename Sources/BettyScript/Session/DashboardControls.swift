import BettyDashboard

/// The dashboard's run keys, acting on a session's run from the dashboard's thread: atomics only,
/// every call returns at once, and the engine sees them at its next step boundary. Works for a run
/// in the background (the prompt's) and in the foreground (a `--dashboard` replay).
public final class DashboardControls: DashboardHost {
    private let runs: RunController

    init(_ runs: RunController) { self.runs = runs }

    public func togglePause() {
        switch runs.current.state {
        case .paused: runs.resume()
        case .running: runs.requestPause()
        default: break
        }
    }

    public func stepOnce() { runs.grantStep() }

    /// Withdraws any pause, asked for or in force, and any steps granted: the dashboard is closing
    /// over a replay that nobody else can resume.
    public func release() { runs.resume() }

    public func interruptFromDashboard() {
        if runs.current.state == .running { runs.requestPause() }
    }
}

extension Session {
    /// What the dashboard's `p`, `s` and Ctrl-C do to this session's run.
    public var dashboardControls: DashboardControls { DashboardControls(runs) }
}
