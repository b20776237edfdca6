import Betty
import BettyScript
import Foundation
import Testing

// `--json` output must stay JSON when a value is NaN or infinite: JSON has no such numbers, so the
// value is null and a `KEY_nonfinite` sibling names it ("nan", "inf", "-inf").
@Suite struct JSONNonFiniteTests {
    /// Parses every written line as one JSON object; records an issue for a line that is not.
    private func objects(_ lines: [String]) -> [[String: Any]] {
        lines.compactMap { line in
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                Issue.record("not a JSON object: \(line)")
                return nil
            }
            return object
        }
    }

    @Test func everyNonFiniteNumberIsNullWithItsKindBeside() {
        let box = LineBox()
        let output = JSONOutput { box.lines.append($0) }
        output.event(.step(StepEvent(globalStep: 3, problem: "p", localStep: 2, loss: .nan, hypergradientNorm: -.infinity,
                                     liveBytes: 0, peakBytes: 0, optimizerStepped: false, metrics: ["a": .infinity, "b": 0.5])),
                     isProgress: true)
        output.event(.step(StepEvent(globalStep: 4, problem: "p", localStep: 3, loss: 0.25, hypergradientNorm: 2,
                                     liveBytes: 0, peakBytes: 0, optimizerStepped: true, metrics: ["b": 0.5])),
                     isProgress: true)
        output.event(.validation(globalStep: 4, metrics: ["v": -.nan, "w": 1]), isProgress: true)
        let parsed = objects(box.lines)
        #expect(parsed.count == 3)
        guard parsed.count == 3 else { return }
        let (nonFinite, finite, validation) = (parsed[0], parsed[1], parsed[2])

        #expect(nonFinite["loss"] is NSNull && nonFinite["loss_nonfinite"] as? String == "nan")
        #expect(nonFinite["hypergradient_norm"] is NSNull && nonFinite["hypergradient_norm_nonfinite"] as? String == "-inf")
        let metrics = nonFinite["metrics"] as? [String: Any]
        #expect(metrics?["a"] is NSNull && (metrics?["b"] as? Double) == 0.5)
        #expect(nonFinite["metrics_nonfinite"] as? [String: String] == ["a": "inf"])

        // Finite values are plain numbers with no siblings.
        #expect(finite["loss"] as? Double == 0.25 && finite["hypergradient_norm"] as? Double == 2)
        #expect(finite.keys.allSatisfy { !$0.hasSuffix("_nonfinite") }, "\(finite.keys.sorted())")

        // A NaN's sign is not reported: "-nan" is not a kind.
        #expect(validation["metrics_nonfinite"] as? [String: String] == ["v": "nan"])
        #expect((validation["metrics"] as? [String: Any])?["w"] as? Double == 1)
    }

    /// A session whose metric, validation and printed values are not finite: every line still parses,
    /// and no "-nan" is written anywhere.
    @Test func aSessionWithNonFiniteValuesWritesOnlyJSON() {
        let box = LineBox()
        let session = Session(output: JSONOutput { box.lines.append($0) })
        let lines = tinyProgram.split(separator: "\n").map(String.init) + [
            "problem watch",
            "  module    params 4",
            "  optimizer sgd lr=0.1",
            "  data      train batch=60",
            "  loss      mse(x @ params, y)",
            "  metric    gap = log(0 * sum(params))",
            "end",
            "validate every 1: v = 0 / 0",
            "run 2",
            "print 0 / 0",
            "print -1 / 0",
        ]
        session.replay(lines, file: "nonfinite.betty")
        let parsed = objects(box.lines)
        #expect(parsed.count == box.lines.count)
        #expect(!box.lines.contains { $0.contains("-nan") }, "\(box.lines.filter { $0.contains("nan") })")
        #expect(!parsed.contains { $0["event"] as? String == "error" }, "\(box.lines.filter { $0.contains("error") })")
        let watched = parsed.filter { $0["event"] as? String == "step" && $0["problem"] as? String == "watch" }
        #expect(!watched.isEmpty)
        #expect(watched.allSatisfy { $0["metrics_nonfinite"] as? [String: String] == ["gap": "-inf"] })
        let validations = parsed.filter { $0["event"] as? String == "validation" }
        #expect(!validations.isEmpty)
        #expect(validations.allSatisfy { $0["metrics_nonfinite"] as? [String: String] == ["v": "nan"] })
        let printed = parsed.filter { $0["event"] as? String == "output" }.compactMap { $0["text"] as? String }
        #expect(printed.suffix(2) == ["nan", "-inf"], "\(printed.suffix(2))")
    }
}

/// Lines written by an output, kept in order.
private final class LineBox { var lines: [String] = [] }
