import BettyDashboard
import Foundation

/// Where the REPL's lines go. A background run writes from the engine's thread while readline owns
/// the prompt line; writing then would tear the line being typed, so lines are held while the prompt
/// is up and the prompt's refresh prints them above it. Safe from any thread.
final class Console: Sendable {
    private struct State {
        var holding = false
        var held: [String] = []
        /// While the dashboard has the terminal its lines go here instead (nil: print).
        var divert: (@Sendable (String) -> Void)?
    }
    private let state = Locked(State())

    func write(_ line: String) {
        state.withLock { s in
            if let divert = s.divert {
                divert(line)
            } else if s.holding {
                s.held.append(line)
            } else {
                // Written under the lock, so the prompt cannot come up half-way through a line.
                Self.print([line])
            }
        }
    }

    /// Text as it is, no newline (a progress line rewritten with `\r`); dropped while lines are held
    /// or diverted, where a line rewritten in place has no place.
    func writeRaw(_ text: String) {
        state.withLock { s in
            guard s.divert == nil, !s.holding else { return }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    /// Holds lines from now on (the prompt is about to show).
    func hold() { state.withLock { $0.holding = true } }

    /// Stops holding and returns what was held.
    func release() -> [String] {
        state.withLock { s in
            s.holding = false
            defer { s.held = [] }
            return s.held
        }
    }

    /// Returns the lines held so far, still holding.
    func takeHeld() -> [String] {
        state.withLock { s in
            defer { s.held = [] }
            return s.held
        }
    }

    /// Sends lines to `sink` instead of the terminal (nil: back to the terminal).
    func divert(to sink: (@Sendable (String) -> Void)?) {
        state.withLock { $0.divert = sink }
    }

    /// Back to the terminal, printing `earlier` first: under the lock, so a line written meanwhile by
    /// the run's thread cannot come out ahead of them.
    func endDivert(printingFirst earlier: () -> [String]) {
        state.withLock { s in
            s.divert = nil
            Self.print(earlier())
        }
    }

    private static func print(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        FileHandle.standardOutput.write(Data(lines.map { $0 + "\n" }.joined().utf8))
    }
}
