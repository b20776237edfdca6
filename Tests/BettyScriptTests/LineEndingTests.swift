import BettyScript
import Foundation
import Testing

// Session files written on Windows end their lines in CRLF. In Swift "\r\n" is one Character, so a
// split on "\n" found no line break at all and such a file failed as one long line.
@Suite struct LineEndingTests {
    static let session = tinyProgram + """

        # a comment, then a blank line

        run 10
        print mean(valid.x @ inner.params)
        expect outer.loss < 10
        """

    /// Replays `text` as a file with echo; the transcript with wall-clock times masked.
    private func replayed(_ text: String) -> (transcript: String, errors: [ScriptError], failed: Int) {
        let transcript = Transcript(echo: true)
        let session = Session(output: transcript)
        session.replay(contentsOf: text, file: "small.betty")
        return (GoldenTranscriptTests.masked(transcript.text), transcript.errors, session.failedExpectations)
    }

    @Test func aCRLFCopyOfASessionReplaysLikeTheOriginal() {
        let original = replayed(Self.session + "\n")
        #expect(original.errors.isEmpty, "\(original.errors.map(\.rendered))")
        #expect(original.transcript.contains("ok: outer.loss = "))
        for (name, copy) in [("CRLF", Self.session.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"),
                             ("CRLF, no line end after the last line", Self.session.replacingOccurrences(of: "\n", with: "\r\n")),
                             ("CRLF, a lone CR after the last line", Self.session.replacingOccurrences(of: "\n", with: "\r\n") + "\r")] {
            let replayed = replayed(copy)
            #expect(replayed.errors.isEmpty, "\(name): \(replayed.errors.map(\.rendered))")
            #expect(replayed.transcript == original.transcript, "\(name)")
            #expect(replayed.failed == 0, "\(name)")
        }
    }

    @Test func linesAreCutAtLFOrCRLFAndNothingElse() {
        #expect(Session.lines(of: "a\r\nb\nc\r") == ["a", "b", "c"])
        #expect(Session.lines(of: "a\n\nb\r\n\r\nc\n") == ["a", "", "b", "", "c"])
        #expect(Session.lines(of: "") == [])
        #expect(Session.lines(of: "\n") == [""])
        // A CR inside a line is not a line end (the lexer takes it as a space).
        #expect(Session.lines(of: "print 1\r+ 2") == ["print 1\r+ 2"])
    }

    /// A caller that reads lines its own way may leave each one's CR: replay drops it, so the echo and
    /// `record` do not carry it.
    @Test func replayDropsALineEndLeftOnALine() throws {
        let transcript = Transcript(echo: true)
        let session = Session(output: transcript)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-crlf-\(getpid()).betty").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        session.replay(["let a = 2\r", "print a * 3\r\n", "record \"\(path)\"\r"], file: "lines.betty")
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        #expect(!transcript.text.contains("\r"))
        #expect(transcript.text.contains("betty> print a * 3\n6"))
        let recorded = try String(contentsOfFile: path, encoding: .utf8)
        #expect(recorded == "# recorded by betty-repl\nlet a = 2\nprint a * 3\n")
    }
}
