import Testing
import BettyNN
import BettyTensor
import Betty

/// README's two-level program, run as written: tuning λ must beat keeping it at its start value.
@Suite struct ReadmeProgramTests {
    /// Validation loss after 1000 global steps, with the outer learning rate given (0 freezes λ).
    static func run(outerRate: Float, lines: inout [String]) throws -> Float {
        var gen = RandomGenerator(seed: 3)
        let xt = Tensor.randomNormal([80, 5], using: &gen), truth = Tensor.randomNormal([5], using: &gen)
        let train = try Dataset(x: xt, y: try xt.matmul(truth) + Tensor.randomNormal([80], std: 2, using: &gen))
        let xv = Tensor.randomNormal([40, 5], using: &gen)
        let valid = try Dataset(x: xv, y: try xv.matmul(truth))

        let w = ParameterTensor(Tensor.zeros([5])), lambda = ParameterTensor(Tensor.full([5], 0.1))
        let inner = Problem(name: "inner", module: w, optimizer: SGD(w.parameters, learningRate: 0.2),
                            data: [try DataLoader(train, batchSize: 80)]) { p, batch in
            let r = try batch.x.matmul(p.parameters[0]) - batch.y
            return try (r * r).mean() + (p["outer"].parameters[0] * p.parameters[0] * p.parameters[0]).sum()
        }
        let outer = Problem(name: "outer", module: lambda, optimizer: SGD(lambda.parameters, learningRate: outerRate),
                            data: [try DataLoader(valid, batchSize: 40)]) { p, batch in
            let r = try batch.x.matmul(p["inner"].parameters[0]) - batch.y
            return try (r * r).mean()
        }
        let engine = try Engine(problems: [outer, inner], u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
        final class Lines: @unchecked Sendable { var all: [String] = [] }
        let collected = Lines()
        engine.subscribe { if let line = TextLogger(every: 100).line(for: $0) { collected.all.append(line) } }
        try engine.run(iterations: 1000)
        lines = collected.all
        return try withoutGrad { try outer.trainingStep(outer, Batch(x: valid.x, y: valid.y)).scalar }
    }

    @Test func readmeTwoLevelProgramBeatsFrozenDecays() throws {
        var lines: [String] = []
        let frozen = try Self.run(outerRate: 0, lines: &lines)
        let tuned = try Self.run(outerRate: 0.1, lines: &lines)
        // Ten log lines per problem over 1000 steps.
        #expect(lines.count == 20)
        #expect(tuned < frozen, "validation loss: frozen λ \(frozen), tuned \(tuned)")
    }
}
