import Testing
import BettyNN
import BettyTensor
import Betty

/// A gradient that is not finite is caught before it is applied, and the error names the part that
/// went wrong: the problem, the method of the path and the setting that likely caused it.
@Suite struct NonFiniteGradientTests {
    /// inner: (w − 2)² + λw², SGD; outer: (w − 1)², SGD with momentum (so it has optimizer state).
    static func program(method: ProblemConfig.Method = .darts, innerRate: Float = 0.1,
                        configure: (inout ProblemConfig) -> Void = { _ in }) throws -> (Engine, ParameterTensor, ParameterTensor) {
        let data = try Dataset(x: Tensor.ones([2, 1]), y: Tensor.zeros([2]))
        let w = ParameterTensor(Tensor([0.5, 1])), lambda = ParameterTensor(Tensor([0.5, 0.25]))
        var config = ProblemConfig()
        config.type = method
        configure(&config)
        let inner = Problem(name: "inner", module: w, optimizer: SGD(w.parameters, learningRate: innerRate),
                            data: [try DataLoader(data, batchSize: 2)], config: config) { p, _ in
            let v = p.parameters[0], lam = p["outer"].parameters[0]
            return try ((v - 2) * (v - 2) + lam * v * v).sum()
        }
        let outer = Problem(name: "outer", module: lambda, optimizer: SGD(lambda.parameters, learningRate: 0.1, momentum: 0.9),
                            data: [try DataLoader(data, batchSize: 2)]) { p, _ in
            let v = p["inner"].parameters[0]
            return try ((v - 1) * (v - 1)).sum()
        }
        let engine = try Engine(problems: [outer, inner], u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
        return (engine, w, lambda)
    }

    /// Bits of the upper level's parameters and momentum, to show nothing moved.
    static func outerState(_ engine: Engine) -> [[UInt32]] {
        let outer = engine.problem(named: "outer")!
        return outer.parameters.map { $0.scalars.map(\.bitPattern) }
            + outer.optimizer.states.flatMap { state in state.tensors.keys.sorted().map { state.tensors[$0]!.scalars.map(\.bitPattern) } }
    }

    @Test func aHugeDartsStepIsCaughtAndBlamedOnDartsAlphaWithNothingApplied() throws {
        let (engine, _, _) = try Self.program()
        try engine.run(iterations: 2)
        let before = Self.outerState(engine)
        #expect(before.count == 2, "parameters and a momentum buffer")
        engine.problem(named: "inner")!.config.dartsAlpha = 1e30
        #expect { try engine.step() } throws: { error in
            guard case let .nonFiniteGradient(detail) = error as? EngineError,
                  case let .method(lower, method, setting) = detail.part else { return false }
            let text = "\(error)"
            return detail.problem == "outer" && detail.localStep == 3 && lower == "inner" && method == .darts
                && setting.hasPrefix("darts_alpha=1e+30")
                && text.contains("problem 'outer'") && text.contains("by darts") && text.contains("inner's darts_alpha=1e+30")
        }
        #expect(Self.outerState(engine) == before)
    }

    @Test func aDivergingNeumannSeriesIsBlamedOnNeumannAlpha() throws {
        // Curvature 2 + 2λ ≥ 2 in w: with α = 1e6 the terms (1 − αH)^j overflow within a few terms.
        let (engine, _, _) = try Self.program(method: .neumann) {
            $0.neumannAlpha = 1e6
            $0.neumannIterations = 40
        }
        let before = Self.outerState(engine)
        #expect { try engine.step() } throws: { error in
            guard case let .nonFiniteGradient(detail) = error as? EngineError,
                  case let .method(lower, method, setting) = detail.part else { return false }
            return lower == "inner" && method == .neumann && setting.hasPrefix("neumann_alpha=1000000.0 with neumann_iterations=40")
        }
        #expect(Self.outerState(engine) == before)
    }

    @Test func aNonDifferentiableLossIsCaughtAsTheDirectGradient() throws {
        // |w| as sqrt(w²) at w = 0: the loss is 0, its gradient 0 · ∞ = NaN.
        let m = ParameterTensor(Tensor([0, 0]))
        let data = try Dataset(x: Tensor.ones([1, 1]), y: Tensor.zeros([1]))
        let p = Problem(name: "solo", module: m, optimizer: SGD(m.parameters, learningRate: 0.1),
                        data: [try DataLoader(data, batchSize: 1)]) { p, _ in sqrt(try (p.parameters[0] * p.parameters[0]).sum()) }
        let engine = try Engine(problems: [p], u2l: [:], l2u: [:])
        #expect { try engine.step() } throws: { error in
            guard case let .nonFiniteGradient(detail) = error as? EngineError else { return false }
            return detail.part == .direct && detail.problem == "solo" && detail.hasNaN && detail.loss == 0
        }
        #expect(m.value.scalars == [0, 0])
    }

    @Test func theUpperLossGradientIsCheckedBeforeAnyMethodRuns() throws {
        // The inner level cannot move (learning rate 0) and starts at 0; the upper's loss is |w| at
        // w = 0, so ∂L/∂w is NaN before darts is even reached.
        let data = try Dataset(x: Tensor.ones([1, 1]), y: Tensor.zeros([1]))
        let w = ParameterTensor(Tensor([0])), lambda = ParameterTensor(Tensor([1]))
        let inner = Problem(name: "inner", module: w, optimizer: SGD(w.parameters, learningRate: 0),
                            data: [try DataLoader(data, batchSize: 1)]) { p, _ in
            try (p["outer"].parameters[0] * p.parameters[0] * p.parameters[0]).sum()
        }
        let outer = Problem(name: "outer", module: lambda, optimizer: SGD(lambda.parameters, learningRate: 0.1),
                            data: [try DataLoader(data, batchSize: 1)]) { p, _ in
            let v = p["inner"].parameters[0]
            return try sqrt((v * v).sum()) + (p.parameters[0] * 0).sum()
        }
        let engine = try Engine(problems: [outer, inner], u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
        #expect { try engine.step() } throws: { error in
            guard case let .nonFiniteGradient(detail) = error as? EngineError else { return false }
            return detail.part == .lossGradient(lower: "inner") && detail.problem == "outer"
        }
        #expect(lambda.value.scalars == [1])
    }

    @Test func finiteGradientsAreAppliedAsBefore() throws {
        // The checks only read: a healthy program takes the same steps with them.
        let (engine, w, lambda) = try Self.program()
        try engine.run(iterations: 3)
        #expect(w.value.scalars.allSatisfy(\.isFinite) && lambda.value.scalars != [0.5, 0.25])
    }
}
