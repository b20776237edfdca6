#if os(Linux)
import Foundation
import Glibc
import Synchronization
import Testing

// The built betty-repl fed expressions nested far past the limit: before it, 4000 nested parentheses
// overflowed the parser's stack (SIGSEGV, at the prompt too; with --json the output just stopped) and a
// 100000-term sum crashed freeing its tree. Now each is one error and the process ends normally.
extension InteractiveREPLTests {
    static let limitMessage = "error: expression nested deeper than 128 levels (the limit): give parts of it a name with 'let'"
    static let deepParentheses = "print " + String(repeating: "(", count: 4000) + "1" + String(repeating: ")", count: 4000)
    static let longSum = "print " + Array(repeating: "1", count: 100_000).joined(separator: "+")

    /// At the prompt the error leaves the session as it was: the next command answers.
    @Test func aDeepLineAtThePromptIsOneErrorAndTheNextCommandAnswers() throws {
        let home = try TemporaryDirectory()
        try withREPL(home: home, history: home.path + "/history") { repl in
            try repl.expect("betty> ")
            // Sent whole: the echo of a line wider than the terminal carries readline's wrapping sequences.
            try repl.send(Self.deepParentheses + "\r")
            try repl.expect("<input>:1:134: " + Self.limitMessage)
            try repl.expect("betty> ")
            try repl.enter("print 6 * 7")
            try repl.expect("42")
            try repl.expect("betty> ")
            try repl.enter("quit")
            #expect(try repl.waitForExit() == 0, "\(repl.transcript.suffix(2000))")
        }
    }

    /// A replayed file or piped input stops at its first error, with status 2 from a normal exit.
    @Test(arguments: [false, true])
    func aDeepLineInAFileOrOnStdinEndsTheReplayWithStatusTwo(json: Bool) throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/deep.betty"
        try (Self.deepParentheses + "\r\nprint 6 * 7\r\n").write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try Self.runREPL(arguments: (json ? ["--json"] : []) + [file])
        let piped = directory.path + "/long.betty"
        try ("print 6 * 7\n" + Self.longSum + "\nprint 6 * 7\n").write(toFile: piped, atomically: true, encoding: .utf8)
        let fromStdin = try Self.runREPL(arguments: json ? ["--json"] : [], stdin: piped)

        for (run, location) in [(fromFile, "deep.betty:1:134"), (fromStdin, "<stdin>:2:262")] {
            #expect(run.reason == .exit && run.status == 2, "\(run.reason) \(run.status): \(run.stderr.suffix(500))")
            let lines = run.stdout.split(separator: "\n").map(String.init)
            if json {
                // Every line is still an object, and the error is one of them.
                let objects = lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
                #expect(objects.count == lines.count, "\(lines.map { $0.prefix(80) })")
                let errors = objects.filter { $0["event"] as? String == "error" }
                #expect(errors.count == 1 && ("error: " + (errors.first?["message"] as? String ?? "")) == Self.limitMessage)
            } else {
                #expect(lines.contains { $0.hasSuffix("\(location): \(Self.limitMessage)") }, "\(lines.map { $0.prefix(80) })")
            }
        }
        // Piped input answered the line before the deep one; a replay ends at its first error. (A whole
        // line, not a substring: the temporary directory's random name may hold "42".)
        let answered = { (stdout: String) in
            stdout.split(separator: "\n").contains { $0 == "42" || $0.contains(#""text":"42""#) }
        }
        #expect(answered(fromStdin.stdout))
        #expect(!answered(fromFile.stdout))
    }

    /// Runs the built betty-repl to the end (killed after a minute), stdin from `stdin` or empty.
    static func runREPL(arguments: [String], stdin: String? = nil) throws
        -> (reason: Process.TerminationReason, status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try bettyREPL())
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"  // a crash must not hang in the backtracer
        process.environment = environment
        process.standardInput = stdin.map { FileHandle(forReadingAtPath: $0)! } ?? FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let watchdog = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        // Read both pipes to their end before waiting, so a full pipe cannot stall the child.
        let stderr = Mutex(Data())
        let stderrRead = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            stderr.withLock { $0 = data }
            stderrRead.signal()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        stderrRead.wait()
        process.waitUntilExit()
        watchdog.cancel()
        return (process.terminationReason, process.terminationStatus,
                String(decoding: stdout, as: UTF8.self), String(decoding: stderr.withLock { $0 }, as: UTF8.self))
    }
}
#endif
