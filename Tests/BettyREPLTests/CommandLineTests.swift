#if os(Linux)
import Foundation
import Glibc
import Testing

/// betty-repl's command line does what it says, or refuses with one line that says why (issue 22).
@Suite(.serialized)
struct CommandLineTests {
    // MARK: - --then-interactive with stdin piped

    /// The piped lines stand for what would be typed at the prompt: each runs after FILE, also after an
    /// error, and the exit status is theirs as a replay's is (2 for a failed line, else 1 for an expect).
    @Test func linesPipedAfterThenInteractiveRunAsTypedAtThePrompt() throws {
        let home = try TemporaryDirectory()
        let file = home.path + "/start.betty"
        try "let a = 6\n".write(toFile: file, atomically: true, encoding: .utf8)

        let failing = "print a * bogus\nprint a * 7\nexpect a == 7\nprint 8\n"
        let afterError = try Self.runREPL(arguments: ["--then-interactive", file], piping: failing)
        #expect(afterError.status == 2, "\(afterError.stdout)")
        #expect(afterError.stdout.contains("<stdin>:1:11: error: unknown name 'bogus'"), "\(afterError.stdout)")
        #expect(afterError.stdout.contains("betty> print a * 7\n42\n"), "the line after the error did not run: \(afterError.stdout)")
        #expect(afterError.stdout.contains("<stdin>:3:8: expectation failed"), "\(afterError.stdout)")
        #expect(afterError.stdout.hasSuffix("betty> print 8\n8\n"), "\(afterError.stdout)")

        let afterFailedExpect = try Self.runREPL(arguments: ["--then-interactive", file], piping: "expect a == 7\nprint a * 7\n")
        #expect(afterFailedExpect.status == 1, "\(afterFailedExpect.stdout)")
        #expect(afterFailedExpect.stdout.hasSuffix("betty> print a * 7\n42\n"), "\(afterFailedExpect.stdout)")

        let clean = try Self.runREPL(arguments: ["--then-interactive", file], piping: "print a * 7\n")
        #expect(clean.status == 0, "\(clean.stdout)")
        #expect(clean.stdout == "betty> let a = 6\na = 6\nbetty> print a * 7\n42\n", "\(clean.stdout)")

        // Without --then-interactive a piped replay still stops at its first error.
        let plain = try Self.runREPL(arguments: [], piping: failing)
        #expect(plain.status == 2, "\(plain.stdout)")
        #expect(!plain.stdout.contains("42"), "\(plain.stdout)")
    }

    // MARK: - --history

    /// A FIFO (which blocked before the first prompt), a directory, a device or a symbolic link to a FIFO
    /// is refused with one line naming the path and what it is, status 2, before FILE is replayed.
    @Test func aHistoryPathThatIsNotARegularFileIsRefused() throws {
        let home = try TemporaryDirectory()
        let fifo = home.path + "/history.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let link = home.path + "/history.link"
        #expect(symlink(fifo, link) == 0)
        let file = home.path + "/start.betty"
        try "print 6 * 7\n".write(toFile: file, atomically: true, encoding: .utf8)
        let cases: [(path: String, arguments: [String], what: String)] = [
            (fifo, [], "it is a FIFO (named pipe), not a regular file"),
            (fifo, ["--then-interactive", file], "it is a FIFO (named pipe), not a regular file"),
            (home.path, [], "it is a directory, not a regular file"),
            ("/dev/zero", [], "it is a character device, not a regular file"),
            (link, [], "it is a symbolic link to a FIFO (named pipe), not a regular file"),
        ]
        for (path, arguments, what) in cases {
            try InteractiveREPLTests().withREPL(home: home, history: path, arguments: arguments) { repl in
                try repl.expect("error: cannot use \(path) as the history file: \(what)\r\n", timeout: .seconds(15))
                #expect(try repl.waitForExit(timeout: .seconds(15)) == 2, "\(repl.transcript)")
                // Neither the file's replay (which echoes its lines) nor the prompt came first.
                #expect(!repl.transcript.contains("betty>"), "\(repl.transcript)")
            }
        }
    }

    /// A history file that does not exist yet is created before the prompt shows; /dev/null keeps none.
    @Test func aMissingHistoryFileIsCreatedAndDevNullKeepsNone() throws {
        let home = try TemporaryDirectory()
        let history = home.path + "/new-history"
        try InteractiveREPLTests().withREPL(home: home, history: history) { repl in
            try repl.expect("betty> ")
            var info = stat()
            #expect(stat(history, &info) == 0 && info.st_mode & S_IFMT == S_IFREG, "no history file before the first line")
            try repl.enter("print 6 * 7")
            try repl.expect("42")
            try repl.expect("betty> ")
            try repl.send("\u{04}")
            #expect(try repl.waitForExit() == 0, "\(repl.transcript)")
        }
        #expect(try String(contentsOfFile: history, encoding: .utf8) == "print 6 * 7\n")

        try InteractiveREPLTests().withREPL(home: home, history: "/dev/null") { repl in
            try repl.expect("betty> ")
            try repl.enter("print 6 * 7")
            try repl.expect("42")
            try repl.expect("betty> ")
            try repl.send("\u{04}")
            #expect(try repl.waitForExit() == 0, "\(repl.transcript)")
            #expect(!repl.transcript.contains("warning"), "\(repl.transcript)")
        }
    }

    // MARK: - A session file that is not UTF-8

    /// The file is refused before any line runs, with the line and column (in characters) of its first
    /// bad byte, even one in a comment; status 2, as for a file that cannot be read.
    @Test func aSessionFileThatIsNotUTF8IsRefusedAtItsFirstBadByte() throws {
        let home = try TemporaryDirectory()
        let comment = home.path + "/comment.betty"
        try Data(Array("print 6 * 7\n# caf".utf8) + [0xE9] + Array("\nprint 1\n".utf8)).write(to: URL(fileURLWithPath: comment))
        let inComment = try InteractiveREPLTests.runREPL(arguments: [comment])
        #expect(inComment.status == 2)
        #expect(inComment.stdout == "\(comment):2:6: error: the session file is not UTF-8 text (byte 0xe9)\n", "\(inComment.stdout)")

        // Columns count characters: "é" before the bad byte is one column, not two; a CRLF file has the
        // same lines; a sequence cut short is reported at its first byte.
        let string = home.path + "/string.betty"
        try Data(Array("print 1\r\n\r\nprint \"é\" ".utf8) + [0xE2, 0x82] + Array("\r\nprint 2 \u{FF}\n".utf8))
            .write(to: URL(fileURLWithPath: string))
        let inString = try InteractiveREPLTests.runREPL(arguments: ["--json", string])
        #expect(inString.status == 2)
        let escaped = string.replacingOccurrences(of: "/", with: "\\/")  // as JSONSerialization writes it
        #expect(inString.stdout == #"{"column":11,"event":"error","file":"\#(escaped)","line":3,"message":"the session file is not UTF-8 text (byte 0xe2)"}"# + "\n",
                "\(inString.stdout)")

        // With --then-interactive too: the prompt is not handed over for a file that could not be read.
        let interactive = try Self.runREPL(arguments: ["--then-interactive", comment], piping: "print 5\n")
        #expect(interactive.status == 2)
        #expect(interactive.stdout == inComment.stdout, "\(interactive.stdout)")
    }

    /// --keep-going runs every line it can read and reports each line it cannot, in its turn, at its first
    /// bad byte; nothing of such a line runs, and `quit` before it ends the replay first.
    @Test func keepGoingReportsEachLineThatIsNotUTF8InItsTurn() throws {
        let home = try TemporaryDirectory()
        let file = home.path + "/mixed.betty"
        try Data(Array("print 6 * 7\n# caf".utf8) + [0xE9] + Array("\nprint 1 ".utf8) + [0xFF]
                 + Array(" 2\nprint 3\n".utf8)).write(to: URL(fileURLWithPath: file))
        let result = try InteractiveREPLTests.runREPL(arguments: ["--keep-going", file])
        #expect(result.status == 2)
        #expect(result.stdout == """
            betty> print 6 * 7
            42
            \(file):2:6: error: the session file is not UTF-8 text (byte 0xe9)
            \(file):3:9: error: the session file is not UTF-8 text (byte 0xff)
            betty> print 3
            3

            """, "\(result.stdout)")

        let quitting = home.path + "/quit.betty"
        try Data(Array("print 1\nquit\n".utf8) + [0xFF] + [0x0A]).write(to: URL(fileURLWithPath: quitting))
        let quit = try InteractiveREPLTests.runREPL(arguments: ["--keep-going", quitting])
        #expect(quit.status == 0, "\(quit.stdout)")
        #expect(!quit.stdout.contains("error"), "\(quit.stdout)")
    }

    /// Piped lines are checked as a file's are: the first bad byte's line and column, and nothing of
    /// that line runs (before, it became U+FFFD, and in a comment ran without a word).
    @Test func pipedLinesThatAreNotUTF8AreRefusedAtTheirFirstBadByte() throws {
        let input: [UInt8] = Array("print 6 * 7\r\nprint 1 # caf".utf8) + [0xE9] + Array("\nprint 3\n".utf8)
        let stopping = try Self.runREPL(arguments: ["--headless"], pipingBytes: input)
        #expect(stopping.status == 2)
        #expect(stopping.stdout == "42\n<stdin>:2:14: error: standard input is not UTF-8 text (byte 0xe9)\n", "\(stopping.stdout)")
        let going = try Self.runREPL(arguments: ["--headless", "--keep-going"], pipingBytes: input)
        #expect(going.status == 2)
        #expect(going.stdout == "42\n<stdin>:2:14: error: standard input is not UTF-8 text (byte 0xe9)\n3\n", "\(going.stdout)")
        // Inside a problem block: the one error, not also "the input ends inside the block".
        let block = try Self.runREPL(arguments: ["--headless"], pipingBytes: Array("problem p\n  loss ".utf8) + [0xFF] + Array("\nend\n".utf8))
        #expect(block.status == 2)
        #expect(block.stdout == "<stdin>:2:8: error: standard input is not UTF-8 text (byte 0xff)\n", "\(block.stdout)")
    }

    // MARK: - Support

    /// Runs the built betty-repl with `input` written into a pipe that is its standard input.
    static func runREPL(arguments: [String], piping input: String) throws -> (status: Int32, stdout: String) {
        try runREPL(arguments: arguments, pipingBytes: Array(input.utf8))
    }

    static func runREPL(arguments: [String], pipingBytes input: [UInt8]) throws -> (status: Int32, stdout: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try InteractiveREPLTests.bettyREPL())
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"  // a crash must not hang in the backtracer
        process.environment = environment
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        let watchdog = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        // Written from another thread, so neither side can stall on a full pipe.
        let writer = Thread {
            try? stdin.fileHandleForWriting.write(contentsOf: Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
#endif
