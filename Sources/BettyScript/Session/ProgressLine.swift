import Betty
import BettyDashboard
import Foundation
import Synchronization

/// The progress of a `run` on a terminal: one line rewritten in place (`\r`, then erase to the end
/// of the line) at most every `interval` seconds, with the steps done of the run, steps per second,
/// the time left and each problem's last loss. Any other output first erases it, so lines print
/// where it stood; the run's summary line therefore takes its place when the run ends. Where output
/// is not a terminal nothing here is used and the plain periodic lines are printed as they are.
public final class ProgressLine: Sendable {
    private struct State {
        var shown = false
        var lastDraw: ContinuousClock.Instant?
        var losses: [(problem: String, loss: Float)] = []
    }
    private let state = Mutex(State())
    private let status: @Sendable () -> RunStatus
    private let writeRaw: @Sendable (String) -> Void
    private let width: @Sendable () -> Int
    public let interval: Duration

    /// `status`: the run's state (steps done and to do, time spent); `writeRaw`: text to the terminal
    /// as it is, no newline added; `width`: the terminal's columns (the line is cut one short of them,
    /// so it never wraps and `\r` always returns to its start).
    public init(interval: Duration = .milliseconds(200), status: @escaping @Sendable () -> RunStatus,
                width: @escaping @Sendable () -> Int = { 80 }, writeRaw: @escaping @Sendable (String) -> Void) {
        self.interval = interval
        self.status = status
        self.width = width
        self.writeRaw = writeRaw
    }

    /// A step of some problem: remembered, and the line redrawn when `interval` has passed.
    func step(_ e: StepEvent) {
        state.withLock { s in
            if let i = s.losses.firstIndex(where: { $0.problem == e.problem }) { s.losses[i].loss = e.loss } else { s.losses.append((e.problem, e.loss)) }
            let now = ContinuousClock.now
            if let last = s.lastDraw, now - last < interval { return }
            s.lastDraw = now
            s.shown = true
            writeRaw("\r" + Self.line(status(), losses: s.losses, width: width()) + "\u{1B}[K")
        }
    }

    /// Erases the line, if shown, before other output; the next step draws it again at once.
    func clear() {
        state.withLock { s in
            guard s.shown else { return }
            s.shown = false
            s.lastDraw = nil
            writeRaw("\r\u{1B}[K")
        }
    }

    /// Forgets the losses of the last run (a new `run` shows only its own).
    func reset() {
        state.withLock { $0.losses = [] }
    }

    static func line(_ status: RunStatus, losses: [(problem: String, loss: Float)], width: Int) -> String {
        var parts: [String] = []
        if status.total > 0 {
            parts.append("step \(status.completed)/\(status.total) (global \(status.globalStep))")
        } else {
            parts.append("global step \(status.globalStep)")
        }
        if status.elapsed > 0, status.completed > 0 {
            let rate = Double(status.completed) / status.elapsed
            parts.append(String(format: rate >= 100 ? "%.0f steps/s" : "%.1f steps/s", rate))
            if status.total > status.completed {
                parts.append("eta " + Format.duration(Double(status.total - status.completed) / rate))
            }
        }
        if !losses.isEmpty {
            parts.append("loss " + losses.map { "\($0.problem) \(Format.number(Double($0.loss), significant: 4))" }.joined(separator: ", "))
        }
        let text = parts.joined(separator: "  ")
        let limit = max(10, width - 1)
        return text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
