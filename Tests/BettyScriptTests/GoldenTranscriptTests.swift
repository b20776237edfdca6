import BettyScript
import Foundation
import Testing

// Sessions under Golden/ replayed with echo; the transcript must match the recorded .out file: text
// exactly, numbers to float rounding (NumericTranscriptComparison says why and how close).
// Re-record after an intended change with:  BETTY_RECORD_GOLDEN=1 swift test --filter GoldenTranscript
@Suite struct GoldenTranscriptTests {
    static let directory = repositoryRoot.appendingPathComponent("Tests/BettyScriptTests/Golden")
    static let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        .filter { $0.hasSuffix(".betty") }.sorted()

    /// Wall-clock times differ run to run; everything else must not.
    static func masked(_ text: String) -> String {
        text.replacingOccurrences(of: #"in [0-9]+\.[0-9]+ s"#, with: "in <time> s", options: .regularExpression)
    }

    @Test(arguments: files)
    func matchesTheRecordedTranscript(file: String) throws {
        let source = try String(contentsOf: Self.directory.appendingPathComponent(file), encoding: .utf8)
        let (_, transcript) = replay(source, file: file, echo: true)
        let actual = Self.masked(transcript.text) + "\n"
        let expectedURL = Self.directory.appendingPathComponent(file.replacingOccurrences(of: ".betty", with: ".out"))
        if ProcessInfo.processInfo.environment["BETTY_RECORD_GOLDEN"] != nil {
            try actual.write(to: expectedURL, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        let differences = NumericTranscriptComparison().differences(
            expected: expected.split(separator: "\n", omittingEmptySubsequences: false),
            actual: actual.split(separator: "\n", omittingEmptySubsequences: false))
        for difference in differences.prefix(5) { Issue.record("\(file), \(difference)") }
    }
}
