#if os(Linux)
import Foundation
import Glibc

/// One tmux server of its own (a private socket file, removed on close; no config) running one pane at a
/// fixed size; killed on `close()` or deinit whatever happened.
final class TmuxSession {
    let socket: String
    private var open = true

    static var isAvailable: Bool { (try? which("tmux")) != nil }

    /// Starts `command` (run by sh) in a detached session of `columns` x `rows`.
    init(_ command: String, columns: Int = 80, rows: Int = 24) throws {
        socket = FileManager.default.temporaryDirectory
            .appendingPathComponent("betty-tmux-\(getpid())-\(UUID().uuidString.prefix(8)).sock").path
        try run(["-f", "/dev/null", "new-session", "-d", "-x", "\(columns)", "-y", "\(rows)", command])
    }

    deinit { close() }

    func close() {
        guard open else { return }
        open = false
        _ = try? run(["kill-server"])
        unlink(socket)
    }

    /// The visible screen; with `history`, the lines scrolled off above it too.
    func capture(history: Bool = false) throws -> String {
        try run(["capture-pane", "-p"] + (history ? ["-S", "-"] : []))
    }

    /// A tmux format about the pane, e.g. `#{alternate_on}` (1 while a program holds the alternate screen).
    func display(_ format: String) throws -> String {
        try run(["display-message", "-p", format]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func sendKeys(_ keys: String...) throws { try run(["send-keys"] + keys) }

    func resize(columns: Int, rows: Int) throws {
        try run(["resize-window", "-x", "\(columns)", "-y", "\(rows)"])
    }

    /// Polls `condition` until it holds; on timeout throws with the pane's content.
    func wait(for what: String, timeout: Duration = .seconds(20), _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                throw TmuxError.timeout(what, pane: (try? capture()) ?? "(no pane)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    @discardableResult
    private func run(_ arguments: [String]) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        // The pane inherits the server's environment: a UTF-8 locale, and nothing from the test's own tmux.
        environment["LANG"] = "C.UTF-8"
        environment["LC_ALL"] = nil
        environment["TMUX"] = nil
        // A file, not a pipe: the server that `new-session` forks keeps the client's stdout open, so a
        // pipe would never reach end of file.
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("betty-tmux-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let status = try ChildProcess.run(try Self.which("tmux"), ["-S", socket] + arguments,
                                          environment: environment, output: outputPath, error: outputPath)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TmuxError.failed(arguments, text) }
        return text
    }

    static func which(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TmuxError.missing(name)
    }
}

enum TmuxError: Error, CustomStringConvertible {
    case missing(String)
    case failed([String], String)
    case timeout(String, pane: String)

    var description: String {
        switch self {
        case let .missing(name): "\(name) is not installed (.ci/install-deps installs it)"
        case let .failed(arguments, output): "tmux \(arguments.joined(separator: " ")) failed: \(output)"
        case let .timeout(what, pane): "timed out waiting for \(what); the pane shows:\n\(pane)"
        }
    }
}
#endif
