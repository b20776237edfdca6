#if os(Linux)
import Foundation
import Testing

/// A write that fails half way, in the built betty-repl: a file-size limit (`ulimit -f`) makes the
/// system refuse the checkpoint's bytes part way through, which works for root too, whom a
/// read-only directory does not stop. The earlier file must come through byte for byte.
@Suite struct InterruptedWriteTests {
    @Test func aSaveCutShortLeavesThePreviousCheckpoint() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/run.safetensors"
        let previous = Data("the previous checkpoint".utf8)
        try previous.write(to: URL(fileURLWithPath: path))
        let script = directory.path + "/save.betty"
        // 50000 parameters make a checkpoint of about 200 kB: over the limit whether the shell
        // counts it in blocks of 512 bytes (dash) or 1024 (bash).
        try """
            seed 1
            data all = logistic samples=20 features=4
            problem p
              module    params 50000 init=zeros
              optimizer sgd lr=0.1
              data      all batch=20 shuffle=false
              loss      sum(params * params)
            end
            save "\(path)"
            print 6 * 7
            """.write(toFile: script, atomically: false, encoding: .utf8)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // SIGXFSZ would kill the process at the limit; ignored, the write fails with EFBIG instead.
        process.arguments = ["-c", "trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$1\"", try InteractiveREPLTests.bettyREPL(), script]
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()

        #expect(process.terminationReason == .exit && process.terminationStatus == 2, "stopped at the error, not by a signal:\n\(text)")
        #expect(text.contains("save.betty:9:6: error: cannot write \(path): the file would be larger than allowed (by the file system or a limit on this process)"),
                "\(text)")
        #expect(FileManager.default.contents(atPath: path) == previous)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["run.safetensors", "save.betty"],
                "the temporary file is removed")
    }
}
#endif
