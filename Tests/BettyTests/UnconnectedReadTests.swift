import Testing
import BettyNN
import BettyTensor
import Betty

/// From Swift as from BettyScript: a loss that reads a reverse-mode level must be tied to it by an
/// edge, or its gradient would run into that level's recorded window behind the engine's back (a
/// wrong number, or "part of the graph was freed"). The engine refuses the read before
/// differentiating anything, naming the missing connection.
@Suite struct UnconnectedReadTests {
    static func program(u2l: [String: [String]], l2u: [String: [String]], watcherReadsInner: Bool = true) throws -> Engine {
        let data = try Dataset(x: Tensor.ones([4, 1]), y: Tensor.zeros([4]))
        let innerModule = ParameterTensor(Tensor([1])), outerModule = ParameterTensor(Tensor([0.5]))
        let watcherModule = ParameterTensor(Tensor([0.0]))
        var reverse = ProblemConfig()
        reverse.type = .reverse
        reverse.unrollSteps = 3
        let inner = Problem(name: "inner", module: innerModule, optimizer: SGD(innerModule.parameters, learningRate: 0.1),
                            data: [try DataLoader(data, batchSize: 2)], config: reverse) { p, _ in
            let w = p.parameters[0], lam = p["outer"].parameters[0]
            return try ((w - 2) * (w - 2) + lam * w * w).sum()
        }
        let outer = Problem(name: "outer", module: outerModule, optimizer: SGD(outerModule.parameters, learningRate: 0.1),
                            data: [try DataLoader(data, batchSize: 2)]) { p, _ in
            let w = p["inner"].parameters[0]
            return try ((w - 1) * (w - 1)).sum()
        }
        // A third level that fits itself to the inner level's parameters.
        let watcher = Problem(name: "watcher", module: watcherModule, optimizer: SGD(watcherModule.parameters, learningRate: 0.1),
                              data: [try DataLoader(data, batchSize: 2)]) { p, _ in
            let v = p.parameters[0]
            let target = watcherReadsInner ? p["inner"].parameters[0] : Tensor([1])
            return try ((v - target) * (v - target)).sum()
        }
        return try Engine(problems: [outer, inner, watcher], u2l: u2l, l2u: l2u)
    }

    @Test func aLossReadingAReverseModeLevelWithoutAnEdgeIsRefusedNamingTheConnection() throws {
        let engine = try Self.program(u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
        let before = engine.problem(named: "watcher")!.parameters[0].scalars
        #expect {
            try engine.run(iterations: 3)
        } throws: { error in
            guard case let .unconnectedRead(reader, read) = error as? EngineError else { return false }
            let text = "\(error)"
            return reader == "watcher" && read == "inner" && text.contains("connect watcher -> inner")
                && text.contains("connect inner -> watcher")
        }
        #expect(engine.problem(named: "watcher")!.parameters[0].scalars == before, "the refused step applied nothing")
    }

    @Test func theSameReadAcrossAnEdgeRuns() throws {
        let engine = try Self.program(u2l: ["outer": ["inner"], "watcher": ["inner"]], l2u: ["inner": ["outer", "watcher"]])
        try engine.run(iterations: 6)
        #expect(engine.globalStep == 6)
    }

    @Test func aProgramThatDoesNotReadIsUnaffected() throws {
        let engine = try Self.program(u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]], watcherReadsInner: false)
        try engine.run(iterations: 6)
        #expect(engine.problem(named: "watcher")!.parameters[0].scalars[0] > 0)
    }
}
