import Glibc

/// Gives the terminal back when the process dies with the dashboard open (SIGTERM, SIGHUP, or `exit`
/// from elsewhere), where `endwin` cannot be called: it is not async-signal-safe. Instead the handler
/// writes reset sequences captured at open time and restores the saved termios, both async-signal-safe,
/// then re-raises the signal with its default action so the exit status still says what killed us.
enum EmergencyRestore {
    private struct State {
        var fd: Int32
        var saved: termios
        var reset: UnsafeMutablePointer<UInt8>
        var count: Int
    }

    static let signals = [SIGTERM, SIGHUP]

    // Written only by `arm`/`disarm` on the dashboard's thread, before a handler is installed and after it
    // is removed; the handler only reads. Touched once before installing, so the handler never runs a
    // lazy global initialiser.
    nonisolated(unsafe) private static var state: UnsafeMutablePointer<State>?
    private static let exitHook: Void = { atexit { EmergencyRestore.restore() } }()

    static var isArmed: Bool { state != nil }

    static func arm(fd: Int32, saved: termios, reset: [UInt8]) {
        precondition(state == nil, "one dashboard at a time")
        _ = exitHook
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, reset.count))
        bytes.initialize(from: reset, count: reset.count)
        let armed = UnsafeMutablePointer<State>.allocate(capacity: 1)
        armed.initialize(to: State(fd: fd, saved: saved, reset: bytes, count: reset.count))
        state = armed
        for signalNumber in signals { signal(signalNumber) { EmergencyRestore.fire($0) } }
    }

    /// Forgets the terminal; the caller puts the previous handlers back first (`SignalDispositions`), so a
    /// signal in between still finds something to restore.
    static func disarm() {
        guard let armed = state else { return }
        state = nil
        armed.pointee.reset.deallocate()
        armed.deinitialize(count: 1)
        armed.deallocate()
    }

    private static func fire(_ signalNumber: Int32) {
        restore()
        signal(signalNumber, SIG_DFL)
        // Blocked while this handler runs; delivered, with the default action, as it returns.
        raise(signalNumber)
    }

    private static func restore() {
        guard let armed = state else { return }
        _ = write(armed.pointee.fd, armed.pointee.reset, armed.pointee.count)
        _ = tcsetattr(armed.pointee.fd, TCSANOW, &armed.pointee.saved)
    }
}
