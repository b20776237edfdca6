import Testing
import BettyNN
import BettyTensor
import Betty

/// Every setting changes what its name says, or is refused.
@Suite struct ProblemConfigTests {
    /// y = w·x + b on one sample; the loss reads only the weight when `useBias` is off.
    static func linear(allowUnused: Bool, useBias: Bool) throws -> (Engine, Linear) {
        var generator = RandomGenerator(seed: 1)
        let model = Linear(2, 1, using: &generator)
        let data = try Dataset(x: try Tensor([[1, 2]]), y: Tensor([3]))
        var config = ProblemConfig()
        config.allowUnused = allowUnused
        let p = Problem(name: "solo", module: model, optimizer: SGD(model.parameters, learningRate: 0.1),
                        data: [try DataLoader(data, batchSize: 1)], config: config) { p, batch in
            let weight = p.parameters[0], bias = p.parameters[1]
            let prediction = try useBias ? batch.x.matmul(weight.transposed()) + bias : batch.x.matmul(weight.transposed())
            let r = try prediction.reshaped(to: [-1]) - batch.y
            return try (r * r).mean()
        }
        return (try Engine(problems: [p], u2l: [:], l2u: [:]), model)
    }

    @Test func allowUnusedOffNamesTheParameterTheLossIgnores() throws {
        let (engine, model) = try Self.linear(allowUnused: false, useBias: false)
        let before = model.parameters.map(\.value.scalars)
        #expect { try engine.step() } throws: { error in
            guard case let .unusedParameters(problem, names) = error as? EngineError else { return false }
            return problem == "solo" && names == ["bias"] && "\(error)".contains("'bias'")
        }
        #expect(model.parameters.map(\.value.scalars) == before)
    }

    @Test func allowUnusedOnTakesTheGradientOfAnIgnoredParameterAsZero() throws {
        let (engine, model) = try Self.linear(allowUnused: true, useBias: false)
        let bias = model.parameters[1].value.scalars, weight = model.parameters[0].value.scalars
        try engine.step()
        #expect(model.parameters[1].value.scalars == bias)
        #expect(model.parameters[0].value.scalars != weight)
    }

    @Test func allowUnusedOffChangesNothingWhenEveryParameterIsUsed() throws {
        let (strict, strictModel) = try Self.linear(allowUnused: false, useBias: true)
        let (loose, looseModel) = try Self.linear(allowUnused: true, useBias: true)
        try strict.run(iterations: 3)
        try loose.run(iterations: 3)
        #expect(strictModel.parameters.map { $0.value.scalars.map(\.bitPattern) } == looseModel.parameters.map { $0.value.scalars.map(\.bitPattern) })
    }

    @Test func logStepTravelsWithEveryStepEventAndTheTextLoggerFollowsIt() throws {
        let (engine, _) = try Self.linear(allowUnused: true, useBias: true)
        engine.problem(named: "solo")!.config.logStep = 3
        final class Box: @unchecked Sendable { var lines: [String?] = [] }
        let box = Box()
        let logger = TextLogger(every: 1)
        engine.subscribe { box.lines.append(logger.line(for: $0)) }
        try engine.run(iterations: 6)
        // Every step is an event; the logger shows local steps 3 and 6 only.
        #expect(box.lines.count == 6)
        #expect(box.lines.compactMap { $0 }.map { $0.contains("[Local Step 3]") || $0.contains("[Local Step 6]") } == [true, true])
    }

    @Test func valuesThatCannotWorkAreRefusedNamingTheField() {
        func refused(_ change: (inout ProblemConfig) -> Void, field: String) -> Bool {
            var c = ProblemConfig()
            change(&c)
            do { try c.validate(problem: "p"); return false } catch {
                guard case let .invalidConfig(_, f, _) = error else { return false }
                return f == field
            }
        }
        #expect(refused({ $0.dartsAlpha = .nan }, field: "dartsAlpha"))
        #expect(refused({ $0.neumannAlpha = .infinity }, field: "neumannAlpha"))
        #expect(refused({ $0.samaAlpha = 0 }, field: "samaAlpha"))
        #expect(refused({ $0.gradientClipping = .nan }, field: "gradientClipping"))
        #expect(refused({ $0.precision = .fp16 }, field: "precision"))
        #expect(!refused({ $0.neumannAlpha = 0.5 }, field: "neumannAlpha"))
    }
}
