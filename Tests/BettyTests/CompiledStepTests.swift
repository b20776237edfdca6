import Testing
import BettyNN
import BettyTensor
import Betty

// EngineConfig.compile replays each problem's recorded gradient computation: the same numbers bit for
// bit as the dynamic tape, for every hypergradient method, and a step that changes is recorded again.

private func parameterBits(_ engine: Engine) -> [[UInt32]] {
    engine.problems.flatMap { $0.parameters.map { $0.scalars.map(\.bitPattern) } }
}

/// Runs `build()` twice, dynamic and compiled, `steps` global steps each, and compares every step's
/// losses and hypergradient norms and the final parameters bit for bit.
private func expectSameRun(steps: Int, _ build: () throws -> Engine) throws -> Engine {
    func run(compiled: Bool) throws -> (Engine, [String]) {
        let engine = try build()
        engine.config.compile = compiled
        final class Log: @unchecked Sendable { var lines: [String] = [] }
        let log = Log()
        engine.subscribe { event in
            if case let .step(e) = event {
                log.lines.append("\(e.globalStep) \(e.problem) \(e.loss.bitPattern) \(e.hypergradientNorm?.bitPattern ?? 0)")
            }
            if case let .notice(_, problem, message) = event { log.lines.append("notice \(problem): \(message)") }
        }
        try engine.run(iterations: steps)
        return (engine, log.lines)
    }
    let (dynamic, dynamicLog) = try run(compiled: false)
    let (compiled, compiledLog) = try run(compiled: true)
    #expect(compiledLog == dynamicLog)
    #expect(parameterBits(compiled) == parameterBits(dynamic))
    return compiled
}

@Suite struct CompiledStepTests {
    @Test(arguments: [ProblemConfig.Method.darts, .neumann, .cg])
    func logisticHPOIsBitIdenticalAndReplayed(method: ProblemConfig.Method) throws {
        let engine = try expectSameRun(steps: 120) {
            try LogisticHPO(method: method, seed: 3, samples: 200, features: 8, unroll: 10).engine
        }
        for name in ["inner", "outer"] {
            let status = try #require(engine.compileStatus(of: name))
            #expect(status.refusal == nil, "\(name): \(status.refusal ?? "")")
            #expect(status.recordings == 1, "\(name): \(status)")
            #expect(status.replays > 0 && status.kernels > 0, "\(name): \(status)")
        }
    }

    @Test func samaWithAdamIsBitIdentical() throws {
        _ = try expectSameRun(steps: 60) {
            try LogisticHPO(method: .sama, seed: 5, samples: 100, features: 6, unroll: 5, innerAdam: 0.05).engine
        }
    }

    @Test func metaWeightNetIsBitIdentical() throws {
        let digits = try BuiltinDataset.digits.load()
        let parts = try digits.splitPerClass(counts: [40, 10, 10], seed: 0)
        let engine = try expectSameRun(steps: 25) {
            try MetaWeightNet(train: parts[0], meta: parts[1], classes: 10, hidden: 16, batchSize: 16).engine
        }
        // The epoch's last batch is smaller: recorded again there, and again for the full batches after.
        let status = try #require(engine.compileStatus(of: "classifier"))
        #expect(status.refusal == nil && status.replays > 0, "\(status)")
    }

    @Test func aStepThatChangesEveryTimeRunsDynamicallyAndSaysWhy() throws {
        let w = ParameterTensor(Tensor([0.5, -0.5]))
        var calls = 0
        let only = Problem(name: "only", module: w, optimizer: SGD(w.parameters, learningRate: 0.1),
                           data: [try DataLoader(try Dataset(x: Tensor.ones([4, 2]), y: Tensor.zeros([4])), batchSize: 4)]) { p, _ in
            calls += 1
            // Another operation every step: nothing to replay.
            var loss = (try p.parameters[0] * p.parameters[0]).sum()
            for _ in 0..<(calls % 3) { loss = loss * 1.5 }
            return loss
        }
        let engine = try Engine(problems: [only], u2l: [:], l2u: [:])
        engine.config.compile = true
        final class Notes: @unchecked Sendable { var text: [String] = [] }
        let notes = Notes()
        engine.subscribe { if case let .notice(_, _, m) = $0 { notes.text.append(m) } }
        try engine.run(iterations: 12)
        let status = try #require(engine.compileStatus(of: "only"))
        #expect(status.refusal?.contains("changed 3 times in a row") == true, "\(status)")
        #expect(notes.text.count == 1 && notes.text[0].hasPrefix("compile: runs on the dynamic tape from now on"), "\(notes.text)")
    }

    @Test func reverseModeRunsOnTheDynamicTapeAndMatchesIt() throws {
        let engine = try expectSameRun(steps: 40) {
            try LogisticHPO(method: .reverse, seed: 2, samples: 100, features: 5, unroll: 4).engine
        }
        // The unrolled window is a graph across steps: no plan records it (yet).
        #expect(engine.compileStatus(of: "inner")?.recordings == 0)
        #expect(engine.compileStatus(of: "outer")?.recordings == 0)
    }
}
