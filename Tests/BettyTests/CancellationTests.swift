import Foundation
import Testing
import BettyNN
import BettyTensor
import Betty

/// A cancel reaches inside a long step, and leaves the state at the end of a global step: the run
/// then continues bit for bit as one that was never interrupted.
@Suite struct CancellationTests {
    /// Two levels with every kind of state a step changes: Adam moments and a schedule, a shuffled
    /// loader that rolls over epochs, Dropout's generator and BatchNorm's running statistics below;
    /// momentum above. `onOuterLoss` runs each time the upper level's loss is evaluated, with the
    /// count so far: a test can cancel from inside a step, before the hypergradient is computed.
    final class Program: @unchecked Sendable {
        let engine: Engine
        private let outerLosses = OuterLosses()
        var onOuterLoss: ((Int) -> Void)? {
            get { outerLosses.hook }
            set { outerLosses.hook = newValue }
        }
        private(set) var events: [StepEvent] = []

        /// Held by the upper level's training step (the program holds the engine, which holds it).
        final class OuterLosses: @unchecked Sendable {
            var count = 0
            var hook: ((Int) -> Void)?
        }

        init(method: ProblemConfig.Method, iterations: Int = 3, unroll: Int = 1) throws {
            var gen = RandomGenerator(seed: 11)
            let train = try Dataset(x: Tensor.randomNormal([23, 3], using: &gen), y: Tensor.randomNormal([23, 1], using: &gen))
            let valid = try Dataset(x: Tensor.randomNormal([10, 3], using: &gen), y: Tensor.randomNormal([10, 1], using: &gen))
            let model = Sequential([Linear(3, 4, using: &gen), BatchNorm(4), Dropout(0.25, seed: 7), Activation(.tanh),
                                    Linear(4, 1, using: &gen)])
            let decay = ParameterTensor(Tensor([0.1]))
            var config = ProblemConfig()
            config.type = method
            config.unrollSteps = unroll
            config.neumannIterations = iterations
            config.neumannAlpha = 0.1
            config.cgIterations = iterations
            let inner = Problem(name: "inner", module: model, optimizer: Adam(model.parameters, learningRate: 0.01),
                                data: [try DataLoader(train, batchSize: 5, shuffle: true, seed: 3)], config: config,
                                schedule: .step(stepSize: 4, gamma: 0.5)) { p, batch in
                let lam = p["outer"].parameters[0]
                var loss = try mseLoss(try p.module(batch.x), batch.y)
                for w in p.parameters { loss = try loss + (lam * (w * w).sum()).sum() }
                return loss
            }
            let losses = outerLosses
            let outer = Problem(name: "outer", module: decay, optimizer: SGD(decay.parameters, learningRate: 0.05, momentum: 0.9),
                                data: [try DataLoader(valid, batchSize: 4, shuffle: true, seed: 5)]) { p, batch in
                losses.count += 1
                losses.hook?(losses.count)
                return try mseLoss(try p["inner"].module(batch.x), batch.y) + (p.parameters[0] * 0).sum()
            }
            engine = try Engine(problems: [outer, inner], u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
            engine.subscribe { [unowned self] event in if case let .step(e) = event { self.events.append(e) } }
        }

        /// Keeps the events of the steps the state includes, dropping those of undone steps.
        func forgetEvents(after globalStep: Int) { events.removeAll { $0.globalStep > globalStep } }
    }

    /// Every number and position the state holds, as text, for exact comparison.
    static func fingerprint(_ engine: Engine) -> [String] {
        var out = ["global step \(engine.globalStep)"]
        for p in engine.problems {
            out.append("\(p.name) local \(p.localStep) loss \(p.lastLoss?.bitPattern ?? 0) norm \(p.lastHypergradientNorm?.bitPattern ?? 0) lr \(p.optimizer.learningRate.bitPattern)")
            for (name, parameter) in p.module.namedParameters { out.append("\(p.name).\(name) \(parameter.value.scalars.map(\.bitPattern))") }
            for (name, buffer) in p.module.namedBuffers { out.append("\(p.name).\(name) \(buffer.value.scalars.map(\.bitPattern))") }
            for (i, state) in p.optimizer.states.enumerated() {
                for key in state.tensors.keys.sorted() { out.append("\(p.name) state \(i) \(key) \(state.tensors[key]!.scalars.map(\.bitPattern)) step \(state.step)") }
            }
            for loader in p.loaders { out.append("\(p.name) loader \(loader.state)") }
        }
        return out
    }

    static func eventRecord(_ events: [StepEvent]) -> [String] {
        events.map { "\($0.globalStep) \($0.problem) \($0.localStep) \($0.loss.bitPattern) \($0.hypergradientNorm?.bitPattern ?? 0) \($0.optimizerStepped)" }
    }

    static func cancellable(_ program: Program, patience: Duration = .zero, restorePointAge: Duration = .zero) -> CancellationRequest {
        let request = CancellationRequest()
        program.engine.cancellation = request
        program.engine.cancellationTiming = CancellationTiming(patience: patience, restorePointAge: restorePointAge)
        return request
    }

    @Test(arguments: [ProblemConfig.Method.darts, .neumann, .cg])
    func aCancelInsideTheHypergradientUndoesTheStepAndContinueMatches(method: ProblemConfig.Method) throws {
        let reference = try Program(method: method)
        try reference.engine.run(iterations: 12)

        let program = try Program(method: method)
        let request = Self.cancellable(program)
        // The upper level's seventh loss is evaluated in global step 7, after the lower level stepped.
        program.onOuterLoss = { count in if count == 7 { request.request() } }
        let summary = try program.engine.run(iterations: 12)
        let count = method == .darts ? 2 : 3
        #expect(summary.interruption == Interruption(globalStep: 7, point: .hypergradient(problem: "inner", method: method, iteration: 1, count: count),
                                                     stateAfterStep: 6))
        #expect(summary.completed == 6 && program.engine.globalStep == 6)
        program.forgetEvents(after: 6)

        request.clear()
        try program.engine.run(iterations: 6)
        #expect(Self.fingerprint(program.engine) == Self.fingerprint(reference.engine))
        #expect(Self.eventRecord(program.events) == Self.eventRecord(reference.events))
    }

    @Test func aCancelBetweenTwoProblemsStepsUndoesTheLowerLevelsStep() throws {
        let reference = try Program(method: .darts)
        try reference.engine.run(iterations: 5)
        let program = try Program(method: .darts)
        let request = Self.cancellable(program)
        final class Once: @unchecked Sendable { var done = false }
        let once = Once()
        program.engine.subscribe { event in
            if case let .step(e) = event, e.globalStep == 4, e.problem == "inner", !once.done {
                once.done = true
                request.request()
            }
        }
        let summary = try program.engine.run(iterations: 5)
        #expect(summary.interruption?.point == .beforeStep(problem: "outer") && summary.interruption?.stateAfterStep == 3)
        program.forgetEvents(after: 3)
        request.clear()
        try program.engine.run(iterations: 2)
        #expect(Self.fingerprint(program.engine) == Self.fingerprint(reference.engine))
        #expect(Self.eventRecord(program.events) == Self.eventRecord(reference.events))
    }

    @Test func withShortStepsTheRestorePointCanBeOlderAndTheStateSaysSo() throws {
        let reference = try Program(method: .neumann)
        try reference.engine.run(iterations: 9)
        let program = try Program(method: .neumann)
        // Never renewed during the run: the only restore point is the run's start.
        let request = Self.cancellable(program, restorePointAge: .seconds(3600))
        program.onOuterLoss = { count in if count == 5 { request.request() } }
        let summary = try program.engine.run(iterations: 9)
        #expect(summary.interruption?.globalStep == 5 && summary.interruption?.stateAfterStep == 0)
        #expect(summary.completed == 0 && program.engine.globalStep == 0)
        program.forgetEvents(after: 0)
        request.clear()
        try program.engine.run(iterations: 9)
        #expect(Self.fingerprint(program.engine) == Self.fingerprint(reference.engine))
        #expect(Self.eventRecord(program.events) == Self.eventRecord(reference.events))
    }

    @Test func patienceLetsAStepFinishAndTheBoundaryTakesTheCancel() throws {
        let program = try Program(method: .neumann)
        let request = Self.cancellable(program, patience: .seconds(3600))
        program.onOuterLoss = { count in if count == 3 { request.request() } }
        let summary = try program.engine.run(iterations: 9)
        #expect(summary.interruption == Interruption(globalStep: 3, point: .stepBoundary, stateAfterStep: 3))
        #expect(summary.completed == 3)
    }

    @Test func aStepCancelledPartWayIsUndoneAndThrows() throws {
        let reference = try Program(method: .cg)
        try reference.engine.run(iterations: 4)
        let program = try Program(method: .cg)
        let request = Self.cancellable(program)
        for _ in 0..<3 { try program.engine.step() }
        let before = Self.fingerprint(program.engine)
        program.onOuterLoss = { count in if count == 4 { request.request() } }
        #expect { try program.engine.step() } throws: { error in
            guard case let .cancelled(interruption) = error as? EngineError else { return false }
            return interruption.globalStep == 4 && interruption.stateAfterStep == 3
        }
        #expect(Self.fingerprint(program.engine) == before)
        request.clear()
        try program.engine.step()
        #expect(Self.fingerprint(program.engine) == Self.fingerprint(reference.engine))
    }

    /// A long Neumann series stopped from another thread, as Ctrl-C does, with the default timing.
    @Test func aHugeNeumannLoopStopsSoonAfterARequestFromAnotherThread() throws {
        let program = try Program(method: .neumann, iterations: 1_000_000_000)
        let request = CancellationRequest()
        program.engine.cancellation = request
        let initial = Self.fingerprint(program.engine)
        let requested = Thread {
            Thread.sleep(forTimeInterval: 0.3)
            request.request()
        }
        requested.start()
        let started = ContinuousClock.now
        let summary = try program.engine.run(iterations: 5)
        #expect(ContinuousClock.now - started < .seconds(20), "the run took \(ContinuousClock.now - started)")
        guard case let .hypergradient(problem, method, iteration, count)? = summary.interruption?.point else {
            Issue.record("stopped at \(String(describing: summary.interruption))")
            return
        }
        #expect(problem == "inner" && method == .neumann && iteration > 1 && count == 1_000_000_000)
        #expect(summary.interruption?.globalStep == 1 && summary.interruption?.stateAfterStep == 0)
        #expect(Self.fingerprint(program.engine) == initial)
        #expect("\(summary.interruption!)".hasPrefix("during global step 1 (neumann iteration "))
        #expect("\(summary.interruption!)".hasSuffix(" of 1,000,000,000 through 'inner')"))
    }

    @Test func aHypergradientAskedForCanBeCancelledAndChangesNothing() throws {
        let program = try Program(method: .cg)
        try program.engine.run(iterations: 2)
        program.engine.problem(named: "inner")!.config.cgIterations = 1_000_000_000
        let request = Self.cancellable(program)
        program.onOuterLoss = { _ in request.request() }
        let before = Self.fingerprint(program.engine)
        #expect { _ = try program.engine.hypergradient(of: "outer") } throws: { error in
            guard case let .cancelled(interruption) = error as? EngineError else { return false }
            return interruption.point == .hypergradient(problem: "inner", method: .cg, iteration: 1, count: 1_000_000_000)
        }
        #expect(Self.fingerprint(program.engine) == before)
    }
}

/// Reverse mode keeps a recorded window open across steps; a restore point is only taken where no
/// window is open, since undoing an upper level's in-place step would leave that window's graph
/// unusable.
@Suite struct ReverseModeCancellationTests {
    /// inner: (w − 2)² + λw², SGD, reverse mode with `unroll` steps; outer: (w − 1)², SGD with momentum.
    static func program(unroll: Int) throws -> (Engine, CancellationRequest, (_ atOuterLoss: Int) -> Void) {
        let data = try Dataset(x: Tensor.ones([2, 1]), y: Tensor.zeros([2]))
        let w = ParameterTensor(Tensor([0.5, 1])), lambda = ParameterTensor(Tensor([0.5, 0.25]))
        var config = ProblemConfig()
        config.type = .reverse
        config.unrollSteps = unroll
        let inner = Problem(name: "inner", module: w, optimizer: SGD(w.parameters, learningRate: 0.1),
                            data: [try DataLoader(data, batchSize: 2)], config: config) { p, _ in
            let v = p.parameters[0], lam = p["outer"].parameters[0]
            return try ((v - 2) * (v - 2) + lam * v * v).sum()
        }
        final class Trigger: @unchecked Sendable { var atOuterLoss: (() -> Void)? }
        let trigger = Trigger()
        let outer = Problem(name: "outer", module: lambda, optimizer: SGD(lambda.parameters, learningRate: 0.1, momentum: 0.9),
                            data: [try DataLoader(data, batchSize: 2)]) { p, _ in
            trigger.atOuterLoss?()
            let v = p["inner"].parameters[0]
            return try ((v - 1) * (v - 1)).sum() + (p.parameters[0] * 0).sum()
        }
        let engine = try Engine(problems: [outer, inner], u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
        let request = CancellationRequest()
        engine.cancellation = request
        engine.cancellationTiming = CancellationTiming(patience: .zero, restorePointAge: .zero)
        // Once, at the n-th outer loss from now: the continued run must not be cancelled again.
        return (engine, request, { n in
            var left = n
            trigger.atOuterLoss = {
                left -= 1
                if left == 0 { request.request(); trigger.atOuterLoss = nil }
            }
        })
    }

    @Test func aCancelInsideAWindowRollsBackToBeforeTheWindowOpened() throws {
        let (reference, _, _) = try Self.program(unroll: 3)
        try reference.run(iterations: 6)
        let (engine, request, cancelAtNextOuterLoss) = try Self.program(unroll: 3)
        try engine.run(iterations: 3)
        cancelAtNextOuterLoss(1)
        let summary = try engine.run(iterations: 3)
        // Steps 4 and 5 open a window; the cancel in step 6 goes back to the start of step 4.
        #expect(summary.interruption?.globalStep == 6 && summary.interruption?.stateAfterStep == 3)
        request.clear()
        try engine.run(iterations: 3)
        #expect(CancellationTests.fingerprint(engine) == CancellationTests.fingerprint(reference))
    }

    /// A run that began inside a window takes its first restore point as soon as the window closes,
    /// however young the (absent) last one is: a long step after it must still be cancellable.
    @Test func aRunThatBeganInsideAWindowTakesARestorePointWhenItCloses() throws {
        let (reference, _, _) = try Self.program(unroll: 3)
        try reference.run(iterations: 9)
        let (engine, request, cancelAtOuterLoss) = try Self.program(unroll: 3)
        engine.cancellationTiming = CancellationTiming(patience: .zero, restorePointAge: .seconds(3600))
        try engine.run(iterations: 1)
        cancelAtOuterLoss(2)  // the outer loss is evaluated once at step 3, and next at step 6
        let summary = try engine.run(iterations: 8)
        #expect(summary.interruption?.globalStep == 6 && summary.interruption?.stateAfterStep == 3, "\(String(describing: summary.interruption))")
        request.clear()
        try engine.run(iterations: 6)
        #expect(CancellationTests.fingerprint(engine) == CancellationTests.fingerprint(reference))
    }

    @Test func aWindowOpenWhenTheRunStartsLeavesTheCancelToTheStepBoundary() throws {
        let (reference, _, _) = try Self.program(unroll: 3)
        try reference.run(iterations: 6)
        let (engine, request, cancelAtNextOuterLoss) = try Self.program(unroll: 3)
        try engine.run(iterations: 1)
        cancelAtNextOuterLoss(1)
        let summary = try engine.run(iterations: 5)
        // No restore point until the window closes at step 3, so step 3 finishes.
        #expect(summary.interruption == Interruption(globalStep: 3, point: .stepBoundary, stateAfterStep: 3))
        request.clear()
        try engine.run(iterations: 3)
        #expect(CancellationTests.fingerprint(engine) == CancellationTests.fingerprint(reference))
    }
}
