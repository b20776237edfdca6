import Foundation
import Testing
import Betty
import BettyNN
import BettyTensor

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
        #expect(throws: FileIOError(path: "/no/such/dir/x.csv", operation: .write, reason: .directoryMissing("/no/such/dir"))) {
            try CSVLogger(path: "/no/such/dir/x.csv")
        }
        #expect(throws: FileIOError(path: "/dev/full", operation: .write, reason: .notARegularFile(.characterDevice, throughLink: false))) {
            try CSVLogger(path: "/dev/full")
        }
    }

    @Test func metricsLoggedByTheTrainingStepTravelWithTheStepEvent() throws {
        // Two levels with darts: the lower's loss is re-evaluated at perturbed parameters for the
        // upper's hypergradient, and those evaluations must not replace the step's own metric.
        let w = ParameterTensor(Tensor.zeros([2])), lam = ParameterTensor(Tensor.ones([2]))
        let x = try Tensor(shape: [4, 2], scalars: [1, 0, 0, 1, 1, 1, -1, 2])
        let y = try Tensor(shape: [4], scalars: [1, 0, 1, 0])
        let data = try Dataset(x: x, y: y)
        var config = ProblemConfig()
        config.unrollSteps = 1
        let lower = Problem(name: "lower", module: w, optimizer: SGD(w.parameters, learningRate: 0.1),
                            data: [try DataLoader(data, batchSize: 4, shuffle: false)], config: config) { p, batch in
            let loss = try binaryCrossEntropyWithLogits(batch.x.matmul(p.parameters[0]), batch.y)
                + (p["upper"].parameters[0] * p.parameters[0] * p.parameters[0]).sum()
            p.log("first", p.parameters[0].scalars[0])
            return loss
        }
        let upper = Problem(name: "upper", module: lam, optimizer: SGD(lam.parameters, learningRate: 0.1),
                            data: [try DataLoader(data, batchSize: 4, shuffle: false)]) { p, batch in
            try binaryCrossEntropyWithLogits(batch.x.matmul(p["lower"].parameters[0]), batch.y)
        }
        let engine = try Engine(problems: [upper, lower], u2l: ["upper": ["lower"]], l2u: ["lower": ["upper"]])
        var seen: [StepEvent] = []
        engine.subscribe { if case let .step(e) = $0 { seen.append(e) } }
        var firsts: [Float] = []
        for _ in 0..<3 {
            firsts.append(w.parameters[0].value.scalars[0])
            try engine.step()
        }
        let lowerEvents = seen.filter { $0.problem == "lower" }
        #expect(lowerEvents.map { $0.metrics["first"] } == firsts)
        #expect(lower.lastMetrics["first"] == firsts.last)
        #expect(seen.filter { $0.problem == "upper" }.allSatisfy { $0.metrics.isEmpty })
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.time <= $1.time })
        let text = TextLogger().line(for: .step(lowerEvents[0]))!
        #expect(text.hasSuffix("| first: 0"), "\(text)")
    }
}
