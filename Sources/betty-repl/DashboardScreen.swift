import BettyDashboard
import BettyScript
import BettyTensor
import BettyTerminal
import Foundation

/// The REPL's dashboard: one feed and one loop for the whole session, so opening it again shows the
/// run from its start; the terminal is taken only while it is open. Lines the session prints while it
/// is open go to its output panel and are printed when it closes, so nothing is lost from the transcript.
final class DashboardScreen {
    private let session: Session
    private let console: Console
    private let feed = MonitorFeed()
    private let loop: DashboardLoop

    init(session: Session, console: Console) {
        self.session = session
        self.console = console
        let started = ContinuousClock.now
        let feed = self.feed
        loop = DashboardLoop(feed: feed, host: session.dashboardControls, terminal: ClosedTerminal()) { [session] in
            // The step counter between step events, and memory at the redraw rate.
            feed.publish(.run(session.runStatus))
            return MemorySample(globalStep: session.runStatus.globalStep, time: (ContinuousClock.now - started) / .seconds(1),
                                residentBytes: ProcessMemory.residentBytes() ?? 0,
                                liveBytes: MemoryStats.liveBytes, peakBytes: MemoryStats.peakBytes)
        }
        session.monitor = feed
    }

    /// The terminal for the dashboard, or nil after printing why there is none (TERM unset or dumb,
    /// not a terminal): plain output then goes on.
    func openTerminal() -> CursesTerminal? {
        do {
            return try CursesTerminal.open()
        } catch {
            console.write("\(error)")
            return nil
        }
    }

    /// Shows the dashboard on `terminal` until `q` or `shouldEnd`, then gives the terminal back as it was.
    @discardableResult
    func show(on terminal: CursesTerminal, until shouldEnd: () -> Bool = { false }) -> DashboardExit {
        let held = Locked<[String]>([])
        let feed = self.feed
        console.divert { text in
            held.withLock { $0.append(text) }
            for line in Self.panelLines(text) { feed.publish(.output(line)) }
        }
        loop.terminal = terminal
        let exit = loop.run(until: shouldEnd)
        terminal.close()
        loop.terminal = ClosedTerminal()
        console.endDivert { held.withLock { $0 } }
        return exit
    }

    /// `dashboard` at the prompt.
    func showAtPrompt() {
        guard let terminal = openTerminal() else { return }
        show(on: terminal)
    }

    /// Keeps the closed dashboard's history current (the prompt calls this a few times a second).
    func absorb() { loop.absorb() }

    /// What a printed text shows in the output panel: progress lines are the curves already; an error
    /// shows its first line (the caret lines need the source beside them).
    static func panelLines(_ text: String) -> [OutputLine] {
        if text.hasPrefix("[Problem ") { return [] }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard let first = lines.first else { return [] }
        if first.contains(": error: ") || first.hasPrefix("error: ") { return [OutputLine(.error, first)] }
        if first.contains(": expectation failed: ") { return [OutputLine(.expectationFailed, first)] }
        if first.hasPrefix("ok: ") { return [OutputLine(.expectationPassed, first)] }
        let kind: OutputLine.Kind = first.hasPrefix("warning: ") || first.hasPrefix("note: ") ? .warning : .info
        return lines.map { OutputLine($0.hasPrefix("warning: ") || $0.hasPrefix("note: ") ? .warning : kind, $0) }
    }
}

/// The dashboard's terminal while it is closed: the loop keeps folding events, nothing is drawn.
private final class ClosedTerminal: TerminalDriver {
    var size: GridSize { GridSize(columns: 0, rows: 0) }
    var capabilities: TerminalCapabilities { TerminalCapabilities() }
    func draw(_ grid: CellGrid) {}
    func readKey(timeoutMilliseconds: Int) -> TerminalInput? { nil }
    func close() {}
}
