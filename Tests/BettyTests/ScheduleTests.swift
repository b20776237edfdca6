import Testing
import BettyNN
import BettyTensor
import Betty

/// Which problem steps at which global step (docs/BETTY_SEMANTICS.md §3).
@Suite struct ScheduleTests {
    /// A two-level program of tiny quadratic problems that records every optimizer-relevant step.
    static func program(unroll: Int, accumulation: Int = 1, warmup: Int = 0) throws -> (Engine, () -> [StepEvent]) {
        let data = try Dataset(x: Tensor.ones([4, 1]), y: Tensor.zeros([4]))
        let innerModule = ParameterTensor(Tensor([1])), outerModule = ParameterTensor(Tensor([0.5]))
        var innerConfig = ProblemConfig()
        innerConfig.unrollSteps = unroll
        innerConfig.gradientAccumulation = accumulation
        innerConfig.warmupSteps = warmup
        let inner = Problem(name: "inner", module: innerModule, optimizer: SGD(innerModule.parameters, learningRate: 0.1),
                            data: [try DataLoader(data, batchSize: 2)], config: innerConfig) { p, _ in
            let w = p.parameters[0], lam = p["outer"].parameters[0]
            return try ((w - 2) * (w - 2) + lam * w * w).sum()
        }
        let outer = Problem(name: "outer", module: outerModule, optimizer: SGD(outerModule.parameters, learningRate: 0.1),
                            data: [try DataLoader(data, batchSize: 2)]) { p, _ in
            let w = p["inner"].parameters[0]
            return try ((w - 1) * (w - 1)).sum()
        }
        let engine = try Engine(problems: [outer, inner], u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
        final class Box: @unchecked Sendable { var events: [StepEvent] = [] }
        let box = Box()
        engine.subscribe { if case let .step(e) = $0 { box.events.append(e) } }
        return (engine, { box.events })
    }

    static func outerSteps(_ events: [StepEvent]) -> [Int] {
        events.filter { $0.problem == "outer" }.map(\.globalStep)
    }

    @Test func unrollOneStepsTheUpperEveryGlobalStep() throws {
        let (engine, events) = try Self.program(unroll: 1)
        try engine.run(iterations: 4)
        #expect(Self.outerSteps(events()) == [1, 2, 3, 4])
        #expect(events().filter { $0.problem == "inner" }.map(\.localStep) == [1, 2, 3, 4])
        // The upper has a path, so its events carry the hypergradient norm; the leaf's do not.
        #expect(events().allSatisfy { ($0.problem == "outer") == ($0.hypergradientNorm != nil) })
    }

    @Test func unrollThreeStepsTheUpperEveryThirdStep() throws {
        let (engine, events) = try Self.program(unroll: 3)
        try engine.run(iterations: 9)
        #expect(Self.outerSteps(events()) == [3, 6, 9])
    }

    @Test func gradientAccumulationStepsTheOptimizerEverySecondStep() throws {
        let (engine, events) = try Self.program(unroll: 1, accumulation: 2)
        try engine.run(iterations: 6)
        let inner = events().filter { $0.problem == "inner" }
        #expect(inner.map(\.optimizerStepped) == [false, true, false, true, false, true])
        // Parents are triggered every unroll × accumulation = 2 local steps.
        #expect(Self.outerSteps(events()) == [2, 4, 6])
    }

    @Test func warmupDelaysTheFirstTrigger() throws {
        let (engine, events) = try Self.program(unroll: 2, warmup: 3)
        try engine.run(iterations: 8)
        // Triggers at multiples of 2 that exceed the warm-up of 3.
        #expect(Self.outerSteps(events()) == [4, 6, 8])
    }

    @Test func setDependenciesBetweenRunsDetachesTheUpper() throws {
        let (engine, events) = try Self.program(unroll: 1)
        try engine.run(iterations: 2)
        // Without l2u the outer problem is a leaf of its own and steps every global step with no path.
        try engine.setDependencies(u2l: [:], l2u: [:])
        try engine.run(iterations: 2)
        let late = events().filter { $0.globalStep > 2 }
        #expect(late.filter { $0.problem == "outer" }.map(\.globalStep) == [3, 4])
        #expect(late.allSatisfy { $0.hypergradientNorm == nil || $0.problem == "inner" })
        #expect(throws: EngineError.self) { try engine.setDependencies(u2l: ["outer": ["inner"]], l2u: [:]) }
    }

    @Test func earlyStoppingStopsAfterToleranceValidationsWithoutImprovement() throws {
        let (engine, _) = try Self.program(unroll: 1)
        engine.config.validStep = 1
        engine.config.earlyStopping = .init(metric: "score", mode: .max, tolerance: 2)
        var scores: [Float] = [1, 2, 2, 1.5, 3]
        engine.validation = { _ in ["score": scores.removeFirst()] }
        let summary = try engine.run(iterations: 5)
        // 1, 2 improve; 2 and 1.5 do not: stop at the fourth validation.
        #expect(summary.stoppedEarly && summary.globalStep == 4)
    }

    @Test func aNaNLossIsAClearError() throws {
        let data = try Dataset(x: Tensor.ones([2, 1]), y: Tensor.zeros([2]))
        let m = ParameterTensor(Tensor([1]))
        let p = Problem(name: "solo", module: m, optimizer: SGD(m.parameters, learningRate: 0.1),
                        data: [try DataLoader(data, batchSize: 2)]) { p, _ in log(p.parameters[0] - 5).sum() }
        let engine = try Engine(problems: [p], u2l: [:], l2u: [:])
        #expect { try engine.step() } throws: { "\($0)".contains("solo") && "\($0)".contains("nan") }
        // Nothing was updated.
        #expect(m.value.scalars == [1])
    }
}

@Suite struct RollBackTests {
    @Test func aWindowNetsOneStepFromItsStartWithTheUpdatedUpper() throws {
        // inner: (w − λ)², SGD lr 0.1 from w = 0, unroll 3; outer: (w − 2)², SGD lr 0.5 on λ = 1.
        let data = try Dataset(x: Tensor.ones([1, 1]), y: Tensor.zeros([1]))
        let w = ParameterTensor(Tensor([0])), lambda = ParameterTensor(Tensor([1]))
        var config = ProblemConfig()
        config.unrollSteps = 3
        let inner = Problem(name: "inner", module: w, optimizer: SGD(w.parameters, learningRate: 0.1),
                            data: [try DataLoader(data, batchSize: 1)], config: config) { p, _ in
            let d = try p.parameters[0] - p["outer"].parameters[0]
            return try (d * d).sum()
        }
        let outer = Problem(name: "outer", module: lambda, optimizer: SGD(lambda.parameters, learningRate: 0.5),
                            data: [try DataLoader(data, batchSize: 1)]) { p, _ in
            let d = p["inner"].parameters[0] - 2
            return try (d * d).sum()
        }
        var engineConfig = EngineConfig()
        engineConfig.rollBack = true
        let engine = try Engine(problems: [outer, inner], u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]],
                                config: engineConfig)
        try engine.run(iterations: 3)
        let lam1 = lambda.value.scalars[0]
        #expect(lam1 != 1, "the outer level stepped at the end of the window")
        // Rolled back to w = 0, then one step with the new λ: w = 0 − 0.1 · 2(0 − λ₁) = 0.2 λ₁.
        // Float32 products of O(1) values: 1e-6.
        #expect(Swift.abs(w.value.scalars[0] - 0.2 * lam1) < 1e-6, "w \(w.value.scalars[0]) vs \(0.2 * lam1)")
        // Without roll-back the window keeps its three steps.
        w.parameter.assign(Tensor([0]))
        lambda.parameter.assign(Tensor([1]))
        engine.config.rollBack = false
        try engine.run(iterations: 3)
        #expect(Swift.abs(w.value.scalars[0] - 0.2 * lambda.value.scalars[0]) > 1e-3)
    }
}
