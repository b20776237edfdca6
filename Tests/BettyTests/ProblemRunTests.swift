import Testing
import BettyNN
import BettyTensor
import Betty

/// The engine owns each problem's run state; an engine built over problems another one ran continues
/// their runs (the REPL builds a new engine whenever the program changes).
@Suite struct ProblemRunTests {
    /// y = w·x + b on four samples, two per batch.
    static func problem(_ name: String = "solo", unrollSteps: Int = 1) throws -> Problem {
        var generator = RandomGenerator(seed: 3)
        let model = Linear(2, 1, using: &generator)
        let data = try Dataset(x: try Tensor([[1, 2], [0, 1], [2, 1], [1, 1]]), y: Tensor([3, 1, 2, 2]))
        var config = ProblemConfig()
        config.unrollSteps = unrollSteps
        return Problem(name: name, module: model, optimizer: SGD(model.parameters, learningRate: 0.1),
                       data: [try DataLoader(data, batchSize: 2)], config: config) { p, batch in
            let r = try p.module.callAsFunction(batch.x).reshaped(to: [-1]) - batch.y
            let loss = try (r * r).mean()
            p.log("abs", loss.scalar.magnitude)
            return loss
        }
    }

    static func bits(_ p: Problem) -> [[UInt32]] { p.parameters.map { $0.scalars.map(\.bitPattern) } }

    @Test func aProblemStartsWithNoRunState() throws {
        let p = try Self.problem()
        #expect(p.localStep == 0 && p.lastLoss == nil && p.lastMetrics.isEmpty && p.currentBatch == nil)
        #expect(p.lastHypergradientNorm == nil && !p.isRecordingMetrics)
    }

    @Test func aRebuiltEngineContinuesTheRunBitForBit() throws {
        let reference = try Self.problem()
        let referenceEngine = try Engine(problems: [reference], u2l: [:], l2u: [:])
        try referenceEngine.run(iterations: 5)

        let p = try Self.problem()
        let first = try Engine(problems: [p], u2l: [:], l2u: [:])
        try first.run(iterations: 3)
        let loss = p.lastLoss
        let second = try Engine(problems: [p], u2l: [:], l2u: [:])
        #expect(p.localStep == 3 && p.lastLoss == loss && p.lastMetrics["abs"] != nil)
        try second.run(iterations: 2)
        #expect(p.localStep == 5 && p.lastLoss?.bitPattern == reference.lastLoss?.bitPattern)
        #expect(Self.bits(p) == Self.bits(reference))
    }

    @Test func anEngineThatFailsItsChecksChangesNoProblem() throws {
        let p = try Self.problem()
        let engine = try Engine(problems: [p], u2l: [:], l2u: [:])
        try engine.run(iterations: 2)
        let bad = try Self.problem("bad", unrollSteps: 0)
        #expect(throws: EngineError.self) { try Engine(problems: [p, bad], u2l: [:], l2u: [:]) }
        #expect(p.localStep == 2 && p["solo"] === p)
        try engine.step()
        #expect(p.localStep == 3)
    }
}
