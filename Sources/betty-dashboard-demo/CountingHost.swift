import BettyDashboard

/// A host that only counts what the dashboard asked, so the test can see each key arrived.
final class CountingHost: DashboardHost {
    private let counts = Locked((pause: 0, step: 0, interrupt: 0))

    func togglePause() { counts.withLock { $0.pause += 1 } }
    func stepOnce() { counts.withLock { $0.step += 1 } }
    func interruptFromDashboard() { counts.withLock { $0.interrupt += 1 } }

    var summary: String {
        counts.withLock { "pause \($0.pause) step \($0.step) interrupt \($0.interrupt)" }
    }
}
