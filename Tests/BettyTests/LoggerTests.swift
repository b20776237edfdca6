import Foundation
import Testing
import Betty

@Suite struct LoggerTests {
    static let event = StepEvent(globalStep: 12, problem: "inner", localStep: 12, loss: 0.5, hypergradientNorm: 0.25,
                                 liveBytes: 100, peakBytes: 200, optimizerStepped: true)

    @Test func textLinesFollowBettysFormat() {
        let logger = TextLogger()
        #expect(logger.line(for: .step(Self.event)) == "[Problem \"inner\"] [Global Step 12] [Local Step 12] loss: 0.5 | hypergradient norm: 0.25")
        #expect(logger.line(for: .validation(globalStep: 12, metrics: ["acc": 0.75, "loss": 1])) == "[Validation] [Global Step 12] acc: 0.75 | loss: 1")
        #expect(TextLogger(every: 5).line(for: .step(Self.event)) == nil)
    }

    @Test func csvRowsAreWrittenAsEventsArrive() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let logger = try CSVLogger(path: path)
        logger.log(.step(Self.event))
        logger.log(.validation(globalStep: 12, metrics: ["acc": 0.75]))
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == [CSVLogger.header, "step,12,inner,12,0.5,0.25,100,200,,", "validation,12,,,,,,,acc,0.75"])
        #expect(throws: (any Error).self) { try CSVLogger(path: "/no/such/dir/x.csv") }
    }
}
