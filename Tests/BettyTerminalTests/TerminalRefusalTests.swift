#if os(Linux)
import Foundation
import Testing

/// Where the dashboard cannot run, the demo says why in one line and carries on with plain output.
@Suite struct TerminalRefusalTests {
    private func runDemo(environment changes: [String: String?]) throws -> (status: Int32, stdout: String, stderr: String) {
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in changes { environment[name] = value }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("betty-refusal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (output, errors) = (directory.appendingPathComponent("out").path, directory.appendingPathComponent("err").path)
        let status = try ChildProcess.run(try demoExecutable(), ["loop"], environment: environment,
                                          output: output, error: errors)
        func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return (status, read(output), read(errors))
    }

    @Test func dumbTerminal() throws {
        let result = try runDemo(environment: ["TERM": "dumb"])
        #expect(result.status == 0)
        #expect(result.stderr == "the dashboard needs a terminal: TERM is dumb; plain output continues\n")
        #expect(result.stdout == "demo: plain output\n")
    }

    @Test func noTerm() throws {
        let result = try runDemo(environment: ["TERM": nil])
        #expect(result.stderr.contains("TERM is not set; plain output continues"))
    }

    @Test func notATerminal() throws {
        let result = try runDemo(environment: ["TERM": "xterm"])
        #expect(result.stderr == "the dashboard needs a terminal: standard input is not a terminal; plain output continues\n")
    }
}
#endif
