import Glibc
import Synchronization

/// Ctrl-C while a command runs: calls `onInterrupt` instead of killing the process.
///
/// `onInterrupt` runs inside the signal handler (on whichever thread the kernel picked), so it may only do
/// async-signal-safe work such as storing to an `Atomic`. While `LineEditor.readLine` is waiting for input,
/// Ctrl-C cancels the line being edited instead and `onInterrupt` is not called.
enum InterruptHandler {
    static func install(onInterrupt: @escaping @Sendable () -> Void) {
        // Never released: a signal may be running the previous callback on another thread right now.
        let box = Unmanaged.passRetained(InterruptCallback(onInterrupt)).toOpaque()
        SignalRouting.callback.store(Int(bitPattern: box), ordering: .releasing)
        SignalRouting.installSIGINT()
    }
}

private final class InterruptCallback: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Shared between the signal handlers and `LineEditor`. Only atomics and a pipe are touched from the handlers:
/// no locks, no allocation, no Swift exclusivity checks (which a `static var` would bring).
enum SignalRouting {
    enum Wake: UInt8 {
        case interrupt = 0x49  // "I"
        case resize = 0x57  // "W"
    }

    /// True while `LineEditor.readLine` waits for input: Ctrl-C then cancels the line instead of a command.
    static let promptActive = Atomic<Bool>(false)
    /// Address of a retained `InterruptCallback`, 0 for none (raw pointers are not `Sendable`).
    static let callback = Atomic<Int>(0)
    /// Self-pipe: the handler may run on any thread, so an atomic flag alone could be set just after the
    /// editor checked it and just before it blocked in poll(); a byte in a polled pipe cannot be missed.
    static let wakeReadFD = Atomic<Int32>(-1)
    static let wakeWriteFD = Atomic<Int32>(-1)
    private static let installed = Mutex<(sigint: Bool, sigwinch: Bool)>((false, false))

    static func installSIGINT() {
        installed.withLock { state in
            guard !state.sigint else { return }
            state.sigint = true
            makeWakePipe()
            setHandler(SIGINT, handleSIGINT)
        }
    }

    static func installPromptHandlers() {
        installSIGINT()
        installed.withLock { state in
            guard !state.sigwinch else { return }
            state.sigwinch = true
            setHandler(SIGWINCH, handleSIGWINCH)
        }
    }

    /// Returns the wake-ups that arrived since the last drain.
    static func drainWakePipe() -> (interrupted: Bool, resized: Bool) {
        let fd = wakeReadFD.load(ordering: .acquiring)
        var result = (interrupted: false, resized: false)
        guard fd >= 0 else { return result }
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return result }
            for byte in buffer[..<count] {
                if byte == Wake.interrupt.rawValue { result.interrupted = true }
                if byte == Wake.resize.rawValue { result.resized = true }
            }
        }
    }

    fileprivate static func wake(_ reason: Wake) {
        let fd = wakeWriteFD.load(ordering: .acquiring)
        guard fd >= 0 else { return }
        var byte = reason.rawValue
        // A full pipe already holds a pending wake-up, so a failed write loses nothing.
        _ = write(fd, &byte, 1)
    }

    private static func makeWakePipe() {
        guard wakeReadFD.load(ordering: .acquiring) < 0 else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            // Non-blocking so the handler can never block on a full pipe and draining can stop when empty.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeReadFD.store(fds[0], ordering: .releasing)
        wakeWriteFD.store(fds[1], ordering: .releasing)
    }

    private static func setHandler(_ signal: Int32, _ handler: @escaping @convention(c) (Int32) -> Void) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        // SA_RESTART keeps stdio and file reads elsewhere in the process from failing with EINTR; poll() in
        // the editor is never restarted, and the self-pipe wakes it anyway.
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        _ = sigaction(signal, &action, nil)
    }
}

private func handleSIGINT(_ signal: Int32) {
    let savedErrno = errno
    defer { errno = savedErrno }
    if SignalRouting.promptActive.load(ordering: .acquiring) {
        SignalRouting.wake(.interrupt)
    } else if let box = UnsafeRawPointer(bitPattern: SignalRouting.callback.load(ordering: .acquiring)) {
        Unmanaged<InterruptCallback>.fromOpaque(box).takeUnretainedValue().run()
    } else {
        // Only the line editor asked for the handler: outside the prompt, Ctrl-C keeps its default meaning.
        var action = sigaction()
        action.__sigaction_handler.sa_handler = SIG_DFL
        sigemptyset(&action.sa_mask)
        _ = sigaction(signal, &action, nil)
        _ = raise(signal)
    }
}

private func handleSIGWINCH(_ signal: Int32) {
    let savedErrno = errno
    defer { errno = savedErrno }
    if SignalRouting.promptActive.load(ordering: .acquiring) {
        SignalRouting.wake(.resize)
    }
}
