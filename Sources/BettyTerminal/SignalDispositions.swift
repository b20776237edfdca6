import Glibc

/// The process's signal handlers as they were before curses started: `newterm` installs its own for
/// SIGINT, SIGTERM, SIGTSTP and SIGWINCH where none was set, and they outlive `delscreen`. Left behind,
/// ncurses' SIGTERM handler would make a later SIGTERM exit with status 1 instead of dying by the signal,
/// so closing the dashboard puts every one back.
struct SignalDispositions {
    static let managed = [SIGINT, SIGTERM, SIGHUP, SIGTSTP, SIGWINCH]
    private var actions: [(Int32, sigaction)] = []

    static func current() -> SignalDispositions {
        var saved = SignalDispositions()
        for signalNumber in managed {
            var action = sigaction()
            if sigaction(signalNumber, nil, &action) == 0 { saved.actions.append((signalNumber, action)) }
        }
        return saved
    }

    func restore() {
        for (signalNumber, action) in actions {
            var action = action
            _ = sigaction(signalNumber, &action, nil)
        }
    }
}
