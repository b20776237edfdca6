import BettyScript
import Foundation
import Testing

// Golden/json.betty replayed through JSONOutput (what `betty-repl --json` prints): every line must
// match Golden/json.jsonl once the values that differ run to run are masked: text exactly, numbers to
// float rounding (NumericTranscriptComparison).
// Re-record after an intended change with:  BETTY_RECORD_GOLDEN=1 swift test --filter JSONTranscript
@Suite struct JSONTranscriptTests {
    static let directory = repositoryRoot.appendingPathComponent("Tests/BettyScriptTests/Golden")
    static let session = "json.betty"

    /// The keys of a step event that measure the run rather than the computation: seconds since the
    /// engine started and tensor memory (shared by every test running in the process).
    static let varyingKeys = ["time", "live_bytes", "peak_bytes"]

    /// Replaces the numbers of `varyingKeys` with a placeholder, and the wall time in a `run`
    /// summary as the plain golden test does. The rest of each line is kept byte for byte.
    static func masked(_ line: String) -> String {
        var line = line
        for key in varyingKeys {
            line = line.replacingOccurrences(of: #""\#(key)":-?[0-9][0-9.eE+-]*"#, with: #""\#(key)":"<\#(key)>""#,
                                             options: .regularExpression)
        }
        return line.replacingOccurrences(of: #"in [0-9]+\.[0-9]+ s"#, with: "in <time> s", options: .regularExpression)
    }

    /// The session's JSON lines, as `betty-repl --json` writes them (every line runs, as typed).
    static func transcript() throws -> [String] {
        final class Lines { var all: [String] = [] }
        let lines = Lines()
        let session = Session(output: JSONOutput { lines.all.append($0) })
        let source = try String(contentsOf: directory.appendingPathComponent(Self.session), encoding: .utf8)
        var statements = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if statements.last == "" { statements.removeLast() }
        for (i, statement) in statements.enumerated() { session.execute(statement, file: Self.session, line: i + 1) }
        return lines.all
    }

    @Test func matchesTheRecordedTranscript() throws {
        let actual = try Self.transcript().map(Self.masked)
        let expectedURL = Self.directory.appendingPathComponent(Self.session.replacingOccurrences(of: ".betty", with: ".jsonl"))
        if ProcessInfo.processInfo.environment["BETTY_RECORD_GOLDEN"] != nil {
            try (actual.joined(separator: "\n") + "\n").write(to: expectedURL, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast()
        let differences = NumericTranscriptComparison().differences(expected: expected.map { $0[...] },
                                                                    actual: actual.map { $0[...] })
        for difference in differences.prefix(5) { Issue.record("\(Self.session), \(difference)") }
    }

    /// Every line is one JSON object naming its kind in "event"; the session's errors, expectations
    /// (one passing, one failing), statements and steps are all there.
    @Test func everyLineIsAnEventObject() throws {
        let lines = try Self.transcript()
        var kinds: [String: Int] = [:]
        var expectations: [Bool] = []
        for line in lines {
            #expect(!line.contains("\n"), "one object per line: \(line)")
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard let object, let kind = object["event"] as? String else {
                Issue.record("not a JSON object with a string \"event\": \(line)")
                continue
            }
            kinds[kind, default: 0] += 1
            switch kind {
            case "step":
                for key in ["global_step", "problem", "local_step", "loss", "optimizer_stepped", "metrics"] + Self.varyingKeys {
                    #expect(object[key] != nil, "step event without \(key): \(line)")
                }
            case "expect":
                if let passed = object["passed"] as? Bool { expectations.append(passed) }
            case "error":
                #expect(object["message"] is String && object["line"] is Int && object["column"] is Int, "\(line)")
            case "hypergradient":
                // The numbers themselves, not only their text.
                let parameters = object["parameters"] as? [[String: Any]] ?? []
                #expect(object["norm"] is Double && object["text"] is String && !parameters.isEmpty, "\(line)")
                #expect(parameters.allSatisfy { ($0["values"] as? [Double])?.count == ($0["shape"] as? [Int])?.reduce(1, *) }, "\(line)")
            default: break
            }
        }
        #expect(Set(kinds.keys) == ["statement", "output", "error", "step", "validation", "expect", "hypergradient"], "\(kinds)")
        #expect(kinds["error"] == 3, "\(kinds)")
        #expect(expectations == [true, false])
    }

    @Test func maskingTouchesOnlyTheVaryingValues() {
        let line = #"{"event":"step","live_bytes":123,"loss":0.5,"peak_bytes":4567,"time":0.0123,"x":1}"#
        #expect(Self.masked(line) == #"{"event":"step","live_bytes":"<live_bytes>","loss":0.5,"peak_bytes":"<peak_bytes>","time":"<time>","x":1}"#)
        #expect(Self.masked(#"{"event":"output","text":"ran 6 steps (global step 6) in 0.01 s; last loss: inner 0.5"}"#)
                == #"{"event":"output","text":"ran 6 steps (global step 6) in <time> s; last loss: inner 0.5"}"#)
    }
}
