#if os(Linux)
import Foundation
import Testing

/// A run that waits, on a terminal: one progress line rewritten in place (`\r`, erase to the end of the
/// line), a few times a second rather than every step, erased before other lines, and replaced at the end
/// by the usual summary. Not on a terminal: the plain periodic lines, with no `\r`.
@Suite struct ProgressLineTests {
    static let session = """
        seed 0
        data all = logistic samples=300 features=5
        split all -> train 200, valid 100
        problem inner
          module    params 5 init=zeros
          optimizer sgd lr=0.1
          data      train batch=50
          loss      bce_logits(x @ params, y) + 0.5 * sum(outer.params * params^2)
          config    type=darts unroll=5
        end
        problem outer
          module    params 5 init=ones
          optimizer sgd lr=1
          data      valid batch=100
          loss      bce_logits(x @ inner.params, y)
          clamp     min=1e-8
        end
        connect outer -> inner
        validate every 1000: vl = bce_logits(valid.x @ inner.params, valid.y)
        run 3000
        print 6 * 7

        """

    @Test func onATerminalTheLineIsRewrittenThrottledAndEndsAsTheSummary() throws {
        let home = try TemporaryDirectory()
        let file = home.path + "/progress.betty"
        try Self.session.write(toFile: file, atomically: true, encoding: .utf8)
        for arguments in [["--headless", file], [file]] {
            try InteractiveREPLTests().withREPL(home: home, history: "/dev/null", arguments: arguments) { repl in
                #expect(try repl.waitForExit(timeout: .seconds(180)) == 0)
                let transcript = repl.transcript
                let run = try #require(transcript.range(of: "betty> run 3000").map { String(transcript[$0.upperBound...]) })
                let draws = run.components(separatedBy: "\\rstep ").count - 1
                #expect(draws >= 2, "the line is rewritten: \(run)")
                #expect(draws < 300, "throttled, not drawn at each of 3000 steps: \(draws)")
                #expect(run.contains("/3000 (global "), "\(run)")
                #expect(!run.contains("[Problem "), "no periodic plain lines on a terminal")
                // Other lines erase it first; the summary takes its place, and a newline ends it.
                #expect(run.contains("\\r\\u{1b}[K[Validation] [Global Step 1000] vl: "), "\(run)")
                let summary = try #require(run.range(of: "ran 3000 steps (global step 3000) in "), "\(run)")
                let lastDraw = try #require(run[..<summary.lowerBound].range(of: "\\rstep ", options: .backwards))
                #expect(run[lastDraw.upperBound..<summary.lowerBound].contains("\\r\\u{1b}[K"), "the last line drawn is erased before the summary")
                #expect(!run[summary.upperBound...].contains("\\rstep "), "nothing drawn after it")
                #expect(run.contains("\\r\nbetty> print 6 * 7"), "the summary ends with a newline (the terminal makes it CR LF)")
            }
        }
    }

    @Test func offATerminalThePlainLinesStayAsTheyWere() throws {
        let (status, stdout) = try CommandLineTests.runREPL(arguments: ["--headless"], piping: Self.session)
        #expect(status == 0)
        #expect(!stdout.contains("\r"))
        #expect(stdout.components(separatedBy: "[Problem \"inner\"]").count - 1 == 10, "about ten progress lines per run")
        #expect(stdout.contains("\nran 3000 steps (global step 3000) in "))
    }
}
#endif
