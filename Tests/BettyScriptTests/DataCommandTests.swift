import BettyScript
import Testing

@Suite struct DataCommandTests {
    /// The number a `print` line shows, from the transcript's last line.
    private func printed(_ session: Session, _ transcript: Transcript, _ expression: String) -> Float? {
        session.execute("print \(expression)", file: "t", line: 1)
        return transcript.text.split(separator: "\n").last.flatMap { Float(String($0)) }
    }

    @Test func normalizeUsesTheDataSetsOwnStatisticsOrTheGivenOnes() throws {
        let (session, transcript) = replay("data d = logistic samples=50 features=3\nnormalize d")
        #expect(transcript.errors.isEmpty)
        #expect(abs(try #require(printed(session, transcript, "mean(d.x)"))) < 1e-5)
        #expect(abs(try #require(printed(session, transcript, "sum(d.x * d.x) / 150")) - 1) < 1e-4)
        session.execute("normalize d mean=1 std=2", file: "t", line: 2)
        #expect(abs(try #require(printed(session, transcript, "mean(d.x)")) + 0.5) < 1e-5)
    }

    @Test func splitByCountsIsExact() throws {
        let (session, transcript) = replay("data d = logistic samples=997 features=2\nsplit d -> a 400, b 597")
        #expect(transcript.errors.isEmpty)
        #expect(printed(session, transcript, "a.count") == 400)
        #expect(printed(session, transcript, "b.count") == 597)
    }
}
