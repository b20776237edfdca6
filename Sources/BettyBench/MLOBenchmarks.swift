import Betty
import BettyNN
import BettyTensor

/// Multilevel rows (issue 4): Betty's logistic-regression HPO through the ordinary Engine API.
enum MLOBenchmarks {
    /// `cancellable`: with a cancellation request attached, as the REPL runs it (restore points and
    /// checks inside steps), to show what being stoppable costs.
    /// `peer`: the JAX program's time for the same method, measured in this run (nil: none).
    static func logisticHPO(_ method: ProblemConfig.Method, cancellable: Bool = false, compiled: Bool = false,
                            peer: Double? = nil) throws -> [Row] {
        BLAS.threadCount = 1
        var loss: Float = 0
        let t = try medianSeconds(runs: 5, repeats: 1) {
            let program = try LogisticHPO(method: method, seed: 0) {
                $0.dartsAlpha = 0.01
                $0.cgIterations = 3
                $0.neumannIterations = 5
            }
            if cancellable { program.engine.cancellation = CancellationRequest() }
            program.engine.config.compile = compiled
            try program.engine.run(iterations: 2000)
            loss = try program.validationLoss()
        }
        return [Row(name: "logistic HPO, \(method.rawValue)\(compiled ? " compiled" : ""), per iteration (val loss \(format(Double(loss), 3)))",
                    ours: t / 2000 * 1e6, unit: "us", torch: method == .reverse ? nil : 475,
                    baseline: Peers.baseline(peer, recorded: method == .reverse ? 11.0 : 4.8),
                    target: method == .reverse ? "<= 12 us" : "<= 5 us")]
    }
}

extension MLOBenchmarks {
    /// Meta-Weight-Net iterations (classifier step + darts hypergradient + Adam step) on random
    /// MNIST-shaped data, as the JAX peer (../shared/peers/jax/mwn.py) times it.
    static func metaWeightNet(threads: Int, iterations: Int, compiled: Bool = false, peer: Double? = nil) throws -> [Row] {
        BLAS.threadCount = threads
        let program = try metaWeightNetProgram()
        program.engine.config.compile = compiled
        try program.engine.run(iterations: 20)  // warm-up
        MemoryStats.resetPeak()
        let t = try medianSeconds(runs: 5, repeats: iterations / 5) { try program.engine.step() }
        let suffix = threads > 1 ? "s" : ""
        return [Row(name: "Meta-Weight-Net iteration, \(threads) thread\(suffix)\(compiled ? ", compiled" : "")", ours: t * 1e3, unit: "ms",
                    torch: threads == 1 ? 5.49 : 4.46, baseline: Peers.baseline(peer, recorded: threads == 1 ? 3.9 : 3.3),
                    target: threads == 1 ? "<= 2.8 ms" : "<= 1.8 ms")]
    }
}

extension MLOBenchmarks {
    /// The benchmark's program on random MNIST-shaped data (6000 training, 1000 meta samples).
    static func metaWeightNetProgram() throws -> MetaWeightNet {
        var gen = RandomGenerator(seed: 0)
        let train = try Dataset(x: Tensor.randomNormal([6000, 784], using: &gen),
                                y: Tensor((0..<6000).map { _ in Float(gen.next() % 10) }))
        let meta = try Dataset(x: Tensor.randomNormal([1000, 784], using: &gen),
                               y: Tensor((0..<1000).map { _ in Float(gen.next() % 10) }))
        return try MetaWeightNet(train: train, meta: meta, classes: 10)
    }
}
