import BettyScript
import Foundation
import Testing

@Suite struct EngineCommandTests {
    @Test func csvLoggingKeepsWritingAfterTheEngineIsRebuilt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (session, transcript) = replay(tinyProgram + "\nengine csv=\"\(path)\"\nrun 2")
        // Redefining a problem rebuilds the engine; the CSV file must still get the new steps.
        session.execute("reset", file: "t", line: 1)
        session.execute("run 3", file: "t", line: 2)
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let steps = rows.filter { $0.hasPrefix("step,") }
        // tinyProgram's inner level steps every global step; outer every 5th.
        #expect(steps.filter { $0.contains(",inner,") }.count == 5, "\(rows)")
    }

    @Test func csvNeedsAQuotedPath() {
        let (_, transcript) = replay(tinyProgram + "\nengine csv=run")
        #expect(transcript.errors.first?.message.contains("quoted") == true, "\(transcript.errors.map(\.rendered))")
    }

    /// The name an error suggests for a layer's parameter (`meta.0.weight`) must be one the lexer reads.
    @Test func layerParametersAreNamedWithDigits() {
        let (_, t) = replay("""
            seed 1
            data d = logistic samples=10 features=2
            problem m
              module    mlp 2 -> 3 -> 1
              optimizer sgd lr=0.1
              data      d batch=10
              loss      bce_logits(reshape(m(x), -1), y)
            end
            print m.params
            print m.2.bias + 0
            print m.0.weight
            """)
        #expect(t.errors.count == 1 && t.errors[0].message.contains("name one: m.0.weight, m.0.bias, m.2.weight, m.2.bias"),
                "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("tensor of shape [3, 2]"), "\(t.text)")
    }
}
