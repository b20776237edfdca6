#if os(Linux)
import Foundation
import Glibc
import Testing

/// End-to-end: the built `betty-repl` with no file, in a pseudo-terminal, driven the way a person types.
/// Serialized: each test blocks a thread in poll() for a few seconds, and the Ctrl-C test wants the CPU.
@Suite(.serialized)
struct InteractiveREPLTests {
    /// Commands with output, a problem block with its continuation prompt, an error with its caret, Tab
    /// completion, Ctrl-C on a half-typed line, Up-arrow, the history file, and Ctrl-D.
    @Test func commandsErrorsCompletionHistoryAndEndOfInput() throws {
        let home = try TemporaryDirectory()
        let historyFile = home.path + "/history"
        try withREPL(home: home, history: historyFile) { repl in
            try repl.expect("Type 'help'")
            try repl.expect("betty> ")

            try repl.enter("seed 1")
            try repl.expect("betty> ")
            try repl.enter("data all = logistic samples=200 features=5")
            try repl.expect("all: 200 samples, x [200, 5], y [200], 2 classes")
            try repl.expect("betty> ")

            // A problem block: every line inside gets the continuation prompt; `end` defines the problem.
            try repl.converse([("problem inner", "  ...> "), ("  module    params 5 init=zeros", "  ...> "),
                               ("  optimizer sgd lr=0.1", "  ...> "), ("  data      all batch=100", "  ...> "),
                               ("  loss      bce_logits(x @ params, y)", "  ...> "),
                               ("end", "problem inner: 5 parameters, sgd lr 0.1, batch 100 of 200")])
            try repl.expect("betty> ")

            // An error names the position, repeats the line, puts a caret under the culprit, and the session
            // goes on with its state intact.
            try repl.enter("print 6 * bogus")
            try repl.expect("<input>:9:11: error: unknown name 'bogus'")
            let caret = try repl.expect("betty> ")
            let lines = caret.split(whereSeparator: \.isNewline)  // "\r\n" is one Character
            #expect(lines.contains { $0 == "    print 6 * bogus" }, "no quoted line in \(caret.debugDescription)")
            #expect(lines.contains { $0 == "              ^~~~~" }, "no caret under 'bogus' in \(caret.debugDescription)")
            try repl.enter("show problems")
            try repl.expect("problem inner: 5 parameters")
            try repl.expect("betty> ")

            // Tab completes the command word ("sh" has one completion), then the rest is typed.
            try repl.type("sh")
            try repl.send("\t")
            try repl.expect("ow ")
            try repl.enter("graph")
            try repl.expect("graph: no connections")
            try repl.expect("betty> ")

            // Ctrl-C on a half-typed line drops it (nothing runs, no error) and gives a fresh prompt.
            try repl.type("print 1 +")
            try repl.send("\u{03}")
            try repl.expect("^C")
            let afterInterrupt = try repl.expect("betty> ")
            #expect(!afterInterrupt.contains("error"), "Ctrl-C at the prompt ran the line: \(afterInterrupt.debugDescription)")

            try repl.enter("print 6 * 7")
            try repl.expect("42")
            try repl.expect("betty> ")
            try recallAndRerun(repl)

            // Ctrl-D on an empty line leaves with status 0.
            try repl.send("\u{04}")
            #expect(try repl.waitForExit() == 0, "\(repl.transcript)")
        }

        // Every accepted non-empty line, in order, as typed; the recalled duplicate and the line dropped by
        // Ctrl-C are not there.
        let history = try String(contentsOfFile: historyFile, encoding: .utf8)
        #expect(history.split(separator: "\n").map(String.init) == [
            "seed 1",
            "data all = logistic samples=200 features=5",
            "problem inner",
            "  module    params 5 init=zeros",
            "  optimizer sgd lr=0.1",
            "  data      all batch=100",
            "  loss      bce_logits(x @ params, y)",
            "end",
            "print 6 * bogus",
            "show problems",
            "show graph",
            "print 6 * 7",
        ])

        // A new session loads the file: Up-arrow recalls the last line of the one before.
        try withREPL(home: home, history: historyFile) { repl in
            try repl.expect("betty> ")
            try recallAndRerun(repl)
            try repl.enter("quit")
            #expect(try repl.waitForExit() == 0, "\(repl.transcript)")
        }
    }

    /// Ctrl-C during a long `run` pauses it and keeps the session; `continue` resumes and can be paused again.
    @Test func aRunGoesToTheBackgroundAndCtrlCWhileWaitingPausesIt() throws {
        let home = try TemporaryDirectory()
        try withREPL(home: home, history: home.path + "/history") { repl in
            try repl.expect("betty> ")
            let setup = [("seed 2", "betty> "), ("data all = logistic samples=200 features=5", "betty> "),
                         ("problem inner", "  ...> "), ("module params 5 init=zeros", "  ...> "),
                         ("optimizer sgd lr=0.1", "  ...> "), ("data all batch=100", "  ...> "),
                         ("loss bce_logits(x @ params, y)", "  ...> "), ("end", "betty> ")]
            try repl.converse(setup)
            // A progress line every 200 steps shows the run is under way; ten million steps would take hours.
            try repl.enter("engine log_every=200")
            try repl.expect("betty> ")
            try repl.enter("run 10000000")
            try repl.expect("running 10000000 steps in the background from global step 0")
            // The prompt comes back at once and shows the run's progress.
            try repl.expect("betty[running ")
            try repl.enter("wait")
            try repl.expect("[Global Step")
            try repl.send("\u{03}")
            let paused = try repl.expect("betty[paused ")
            let globalStep = try #require(Self.number(after: "paused at global step ", in: paused), "\(paused.debugDescription)")
            #expect(globalStep > 0 && globalStep < 10_000_000)

            // The session answers, and the engine stands where it paused.
            try repl.enter("show engine")
            try repl.expect("engine: global step \(globalStep),")
            try repl.expect("betty[paused ")

            try repl.enter("continue")
            try repl.expect("resumed at global step \(globalStep)")
            try repl.expect("betty[running ")
            try repl.enter("stop")
            let stopped = try repl.expect("betty> ")
            let stoppedAt = try #require(Self.number(after: "stopped at global step ", in: stopped), "\(stopped.debugDescription)")
            #expect(stoppedAt > globalStep)

            try repl.enter("print 6 * 7")
            try repl.expect("42")
            try repl.expect("betty> ")
            try repl.enter("quit")
            #expect(try repl.waitForExit() == 0, "\(repl.transcript)")
        }
    }

    /// Ctrl-C inside a `problem` block drops the block and keeps the prompt; Tab inside quotes completes a
    /// file name; Ctrl-D inside a block says the block was dropped.
    @Test func blocksAreDroppedAsAShellDropsAHalfTypedLoop() throws {
        let home = try TemporaryDirectory()
        #expect(FileManager.default.createFile(atPath: home.path + "/checkpoint-17.safetensors", contents: Data()))
        try withREPL(home: home, history: home.path + "/history") { repl in
            try repl.expect("betty> ")
            try repl.converse([("problem inner", "  ...> "), ("module params 3", "  ...> ")])
            try repl.send("\u{03}")
            try repl.expect("problem block 'inner' dropped (Ctrl-C); nothing of it was defined")
            try repl.expect("betty> ")
            // Nothing was defined, so the name is free and `end` is not expected.
            try repl.enter("show graph")
            try repl.expect("graph: no problems")
            try repl.expect("betty> ")

            try repl.type("load \"\(home.path)/check")
            try repl.send("\t")
            try repl.expect("point-17.safetensors\" ")
            try repl.send("\u{15}")  // Ctrl-U: drop the completed line unrun

            try repl.converse([("", "betty> "), ("problem outer", "  ...> ")])
            try repl.send("\u{04}")
            try repl.expect("problem block 'outer' dropped: the input ended before its 'end'")
            #expect(try repl.waitForExit() == 0, "\(repl.transcript)")
        }
    }

    /// `--then-interactive` hands over the prompt after an error in the file, with the state up to it.
    @Test func thenInteractiveOpensThePromptAfterAnError() throws {
        let home = try TemporaryDirectory()
        let file = home.path + "/broken.betty"
        try "let a = 6\nprint a * bogus\nlet b = 7\n".write(toFile: file, atomically: true, encoding: .utf8)
        try withREPL(home: home, history: home.path + "/history", arguments: ["--then-interactive", file]) { repl in
            try repl.expect("unknown name 'bogus'")
            try repl.expect("betty> ")
            try repl.enter("print a * 7")
            try repl.expect("42")
            try repl.expect("betty> ")
            try repl.enter("print b")  // the replay stopped at the error: line 3 never ran
            try repl.expect("unknown name 'b'")
            try repl.enter("quit")
            // The file's error still decides the status, as without the prompt.
            #expect(try repl.waitForExit() == 2, "\(repl.transcript)")
        }
    }

    // MARK: - Support

    private static func number(after prefix: String, in text: String) -> Int? {
        guard let start = text.range(of: prefix)?.upperBound else { return nil }
        return Int(text[start...].prefix(while: \.isNumber))
    }

    /// Runs `body` against a fresh interactive betty-repl; the process is killed afterwards if it is still up.
    /// Up-arrow brings back the last line, `print 6 * 7`; Return runs it again.
    private func recallAndRerun(_ repl: PseudoTerminalSession) throws {
        try repl.send("\u{1B}[A")
        try repl.expect("print 6 * 7")
        try repl.send("\r")
        try repl.expect("42")
        try repl.expect("betty> ")
    }

    func withREPL(home: TemporaryDirectory, history: String, arguments: [String] = [],
                  _ body: (PseudoTerminalSession) throws -> Void) throws {
        var environment = [
            "TERM": "xterm",
            "INPUTRC": "/dev/null",  // no user key bindings
            "HOME": home.path,
            "LANG": "C.UTF-8",
            "SWIFT_BACKTRACE": "enable=no",  // a crash must not hang in the backtracer
        ]
        for name in ["PATH", "LD_LIBRARY_PATH"] {
            if let value = ProcessInfo.processInfo.environment[name] { environment[name] = value }
        }
        let repl = try PseudoTerminalSession(executable: try Self.bettyREPL(),
                                             arguments: ["--history", history] + arguments, environment: environment)
        defer { repl.close() }
        try body(repl)
    }

    /// The betty-repl that SwiftPM built with these tests: the test target depends on it, so it sits in the
    /// same products directory as the test runner (on macOS, a few levels above the runner inside the bundle).
    static func bettyREPL() throws -> String {
        var starts: [URL] = []
        if let runner = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: runner).deletingLastPathComponent())
        }
        if let runner = Bundle.main.executableURL { starts.append(runner.deletingLastPathComponent()) }
        starts.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for start in starts {
            var directory = start
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("betty-repl").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                directory.deleteLastPathComponent()
            }
        }
        throw PTYError.notFound("betty-repl next to the test runner (looked in \(starts.map(\.path)))")
    }
}

/// A directory removed with everything in it when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-repl-pty-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
#endif
