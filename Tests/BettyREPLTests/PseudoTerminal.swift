#if os(Linux)
import Foundation
import Glibc

/// The built `betty-repl` running in a pseudo-terminal it has as its controlling terminal, so it takes the
/// interactive path (readline) and a Ctrl-C byte written to the master reaches it as SIGINT.
///
/// Every wait has a deadline, and `close()` (called by the tests' `withREPL`, and on deinit) kills the child whatever happened.
/// Output is matched as plain substrings of the raw byte stream: readline's escape sequences (bracketed
/// paste, redisplay) are left in and never matched on.
final class PseudoTerminalSession {
    let pid: pid_t
    private var master: Int32
    /// Held open by the test so the master never reports a hang-up before the child opens its side, and
    /// what the child wrote just before exiting can still be read.
    private var slave: Int32
    private var output: [UInt8] = []
    /// Start of the output not matched yet.
    private var cursor = 0
    private var exitStatus: Int32?

    static let defaultTimeout: Duration = .seconds(60)

    /// Starts `executable` with `arguments` in a new session on a fresh pty of `columns` x `rows`.
    init(executable: String, arguments: [String], environment: [String: String],
         columns: UInt16 = 200, rows: UInt16 = 50) throws {
        let calls = try PTYCalls()
        let master = calls.openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw PTYError.system("posix_openpt", errno) }
        var slave: Int32 = -1
        var started = false
        defer {
            if !started {
                Glibc.close(master)
                if slave >= 0 { Glibc.close(slave) }
            }
        }
        guard calls.grantpt(master) == 0 else { throw PTYError.system("grantpt", errno) }
        guard calls.unlockpt(master) == 0 else { throw PTYError.system("unlockpt", errno) }
        var name = [CChar](repeating: 0, count: 256)
        let status = calls.ptsnameR(master, &name, name.count)
        guard status == 0 else { throw PTYError.system("ptsname_r", status) }
        let slavePath = String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // A line wider than the terminal makes readline insert wrapping sequences into the echo.
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        guard ioctl(master, UInt(TIOCSWINSZ), &size) == 0 else { throw PTYError.system("TIOCSWINSZ", errno) }
        slave = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else { throw PTYError.system("open \(slavePath)", errno) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Opened without O_NOCTTY by a session leader (POSIX_SPAWN_SETSID runs before the file actions), the
        // slave becomes the child's controlling terminal and its process group the terminal's foreground.
        posix_spawn_file_actions_addopen(&actions, 0, slavePath, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        if let closeFrom = calls.addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The test runner may block or ignore signals; the REPL must start with the defaults.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGTERM, SIGCHLD, SIGWINCH, SIGTSTP, SIGTTIN, SIGTTOU] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(PTYCalls.spawnSetSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") }
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv + [nil], envp + [nil])
        guard spawned == 0 else { throw PTYError.system("posix_spawn \(executable)", spawned) }
        started = true
        self.pid = pid
        self.master = master
        self.slave = slave
    }

    deinit { close() }

    /// Kills the child if it still runs, reaps it and closes the terminal. Safe to call more than once.
    func close() {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            exitStatus = -1
        }
        if master >= 0 { Glibc.close(master) }
        if slave >= 0 { Glibc.close(slave) }
        master = -1
        slave = -1
    }

    // MARK: - Input

    /// Writes `bytes` as one write, then pauses so the child sees it as a separate burst of input.
    func send(_ bytes: String, pause: Duration = .milliseconds(100)) throws {
        let data = Array(bytes.utf8)
        var offset = 0
        while offset < data.count {
            let written = data.withUnsafeBytes { write(master, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw PTYError.system("write to the terminal", errno)
            }
            offset += written
        }
        if pause > .zero { Thread.sleep(forTimeInterval: pause.seconds) }
    }

    /// Types `text` (no control characters) and waits until readline has echoed all of it, so a control
    /// character sent next (Tab, Ctrl-C) cannot overtake it.
    func type(_ text: String, timeout: Duration = defaultTimeout) throws {
        try send(text, pause: .zero)
        try expect(text, timeout: timeout)
    }

    /// Types `line`, waits for its echo and presses Return.
    func enter(_ line: String, timeout: Duration = defaultTimeout) throws {
        if !line.isEmpty { try type(line, timeout: timeout) }
        try send("\r")
    }

    /// Types each line and waits for what it must bring: its output, or the next prompt.
    func converse(_ exchanges: [(line: String, reply: String)]) throws {
        for (line, reply) in exchanges {
            try enter(line)
            try expect(reply)
        }
    }

    // MARK: - Output

    /// Waits until `text` appears in the output after everything matched so far and returns the output
    /// from there up to and including it; later waits start after it.
    @discardableResult
    func expect(_ text: String, timeout: Duration = defaultTimeout) throws -> String {
        let needle = Array(text.utf8)
        let deadline = ContinuousClock.now + timeout
        while true {
            if let range = find(needle, from: cursor) {
                let skipped = String(decoding: output[cursor..<range.upperBound], as: UTF8.self)
                cursor = range.upperBound
                return skipped
            }
            let remaining = deadline - .now
            guard remaining > .zero else {
                throw PTYError.timeout(waitingFor: text, after: timeout, recent: recentOutput)
            }
            if try !readAvailable(waitingUpTo: min(remaining, .milliseconds(200))) && exitStatus != nil {
                throw PTYError.exited(waitingFor: text, status: exitStatus!, recent: recentOutput)
            }
        }
    }

    /// Waits for the child to exit, reading what it prints meanwhile; returns its exit code (128 + N for a
    /// signal N).
    func waitForExit(timeout: Duration = defaultTimeout) throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while exitStatus == nil {
            let remaining = deadline - .now
            guard remaining > .zero else {
                throw PTYError.timeout(waitingFor: "the process to exit", after: timeout, recent: recentOutput)
            }
            _ = try readAvailable(waitingUpTo: min(remaining, .milliseconds(100)))
        }
        // What it wrote last is still in the terminal's buffer.
        while try readAvailable(waitingUpTo: .zero) {}
        return exitStatus!
    }

    /// All output so far, printable (control characters escaped).
    var transcript: String { Self.printable(output[...]) }

    private var recentOutput: String { Self.printable(output[max(0, output.count - 3000)...]) }

    /// Reads whatever arrives within `wait`; true when something was read. Notices the child's exit.
    private func readAvailable(waitingUpTo wait: Duration) throws -> Bool {
        var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0)]
        let milliseconds = Int32(max(0, min(wait.seconds * 1000, 1000)).rounded(.up))
        let ready = poll(&fds, 1, milliseconds)
        if ready < 0 && errno != EINTR { throw PTYError.system("poll", errno) }
        var gotData = false
        if ready > 0 && fds[0].revents & Int16(POLLIN) != 0 {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if count > 0 {
                output.append(contentsOf: buffer[..<count])
                gotData = true
            } else if count < 0 && errno != EINTR && errno != EAGAIN && errno != EIO {
                throw PTYError.system("read from the terminal", errno)
            }
        }
        if exitStatus == nil {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
                let signal = status & 0x7f
                exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            }
        }
        return gotData
    }

    private func find(_ needle: [UInt8], from start: Int) -> Range<Int>? {
        guard !needle.isEmpty else { return start..<start }
        guard output.count - start >= needle.count else { return nil }
        for i in start...(output.count - needle.count) where output[i] == needle[0] {
            if output[i..<(i + needle.count)].elementsEqual(needle) { return i..<(i + needle.count) }
        }
        return nil
    }

    private static func printable(_ bytes: ArraySlice<UInt8>) -> String {
        var text = ""
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\n": text += "\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                text += "\\u{\(String(scalar.value, radix: 16))}"
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text
    }
}

enum PTYError: Error, CustomStringConvertible {
    case system(String, Int32)
    case missingFunction(String)
    case notFound(String)
    case timeout(waitingFor: String, after: Duration, recent: String)
    case exited(waitingFor: String, status: Int32, recent: String)

    var description: String {
        switch self {
        case let .system(call, code): "\(call) failed: \(String(cString: strerror(code)))"
        case let .missingFunction(name): "\(name) not found in the C library"
        case let .notFound(what): "cannot find \(what)"
        case let .timeout(text, after, recent):
            "no \"\(text)\" after \(after); the terminal's last output:\n\(recent)"
        case let .exited(text, status, recent):
            "the process exited with status \(status) before \"\(text)\" appeared; its last output:\n\(recent)"
        }
    }
}

/// The pty calls of <stdlib.h> and a glibc spawn extension, which the Glibc module does not import (they
/// need _XOPEN_SOURCE / _GNU_SOURCE): looked up in the C library at run time instead.
private struct PTYCalls {
    /// glibc's POSIX_SPAWN_SETSID (spawn.h, glibc 2.26 and later).
    static let spawnSetSID: Int32 = 0x80

    let openpt: @convention(c) (Int32) -> Int32
    let grantpt: @convention(c) (Int32) -> Int32
    let unlockpt: @convention(c) (Int32) -> Int32
    let ptsnameR: @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32
    /// posix_spawn_file_actions_addclosefrom_np (glibc 2.34 and later), when present.
    let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32)?

    init() throws {
        let process = dlopen(nil, RTLD_NOW)
        func lookUp<F>(_ name: String, as type: F.Type) -> F? {
            guard let symbol = dlsym(process, name) else { return nil }
            return unsafeBitCast(symbol, to: type)
        }
        func require<F>(_ name: String, as type: F.Type) throws -> F {
            guard let function = lookUp(name, as: type) else { throw PTYError.missingFunction(name) }
            return function
        }
        openpt = try require("posix_openpt", as: (@convention(c) (Int32) -> Int32).self)
        grantpt = try require("grantpt", as: (@convention(c) (Int32) -> Int32).self)
        unlockpt = try require("unlockpt", as: (@convention(c) (Int32) -> Int32).self)
        ptsnameR = try require("ptsname_r", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32).self)
        addCloseFrom = lookUp("posix_spawn_file_actions_addclosefrom_np",
                              as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32).self)
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
#endif
