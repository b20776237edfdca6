import BettyNN
import BettyTensor

/// BettyNN rows: a whole training step through the public API (issue 3).
enum NNBenchmarks {
    /// One SGD step of MLP 784-200-10 at batch 100 on mnist5k, including drawing the batch.
    static func mlpTrainingStep(threads: Int) throws -> [Row] {
        BLAS.threadCount = threads
        let data = try BuiltinDataset.mnist5k.load().scaled(by: 1 / 255)
        let loader = try DataLoader(data, batchSize: 100, seed: 0)
        var gen = RandomGenerator(seed: 0)
        let model = MLP([784, 200, 10], using: &gen)
        let optimizer = SGD(model.parameters, learningRate: 0.1, momentum: 0.9)
        let t = try medianSeconds(runs: 9, repeats: 50) {
            let batch = loader.next()
            let loss = try crossEntropy(model(batch.x), batch.y)
            try optimizer.step(gradients: grad(of: loss, wrt: model.parameterValues))
        }
        return [Row(name: "SGD step MLP 784-200-10, batch 100, mnist5k, \(threads) thread\(threads > 1 ? "s" : "")",
                    ours: t * 1e3, unit: "ms", torch: nil, baseline: ("PyTorch fwd+bwd alone", 1.09),
                    target: threads == 1 ? "<= 1.2 ms" : "")]
    }
}
