import BettyDashboard
import BettyTerminal
import Synchronization

/// A terminal that replays scripted input, one item per `readKey`, and records every frame and timeout.
final class FakeTerminal: TerminalDriver {
    var size = GridSize(columns: 40, rows: 10)
    var capabilities = TerminalCapabilities()
    /// nil entries stand for a timeout with nothing typed.
    var script: [TerminalInput?]
    private(set) var frames: [CellGrid] = []
    private(set) var timeouts: [Int] = []
    private(set) var closed = 0

    init(_ script: [TerminalInput?] = []) { self.script = script }

    func draw(_ grid: CellGrid) { frames.append(grid) }

    func readKey(timeoutMilliseconds: Int) -> TerminalInput? {
        timeouts.append(timeoutMilliseconds)
        guard !script.isEmpty else { return nil }
        let input = script.removeFirst()
        // As curses does: the size has changed by the time the resize is read.
        if case let .resize(newSize) = input { size = newSize }
        return input
    }

    func close() { closed += 1 }
}

final class RecordingHost: DashboardHost {
    private let log = Mutex<[String]>([])
    var calls: [String] { log.withLock { $0 } }
    func togglePause() { log.withLock { $0.append("pause") } }
    func stepOnce() { log.withLock { $0.append("step") } }
    func interruptFromDashboard() { log.withLock { $0.append("interrupt") } }
}
