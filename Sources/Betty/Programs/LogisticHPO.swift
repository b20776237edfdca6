import BettyNN
import BettyTensor

/// Betty's own regression program (test/test_regression.py), ready to run: one weight decay per
/// feature for logistic regression on Betty's generator (by default d = 20, 500 training and 500
/// validation samples: `samples` in all, the first half for training). Inner: SGD lr 0.1 from w = 0, reset at each inner loop start, `unroll` steps per outer
/// step. Outer: SGD lr 1 with momentum 0.9, decays clamped at 1e-8. Used by the tests, the benchmark
/// and as a worked example of the API.
public struct LogisticHPO {
    public let engine: Engine
    public let weights: ParameterTensor
    public let decays: ParameterTensor
    public let validation: Dataset

    /// `method: nil` builds the same problems without dependencies: the decays stay at 1 (the
    /// baseline a hypergradient must beat).
    /// `innerAdam` trains the inner level with Adam at that learning rate instead of SGD lr 0.1 (SAMA
    /// preconditions with Adam's moments).
    /// `samples` (at least 2) is split in halves, training first; each level takes its half as one batch.
    public init(method: ProblemConfig.Method?, seed: UInt64, samples: Int = 1000, features: Int = 20, unroll: Int = 100,
                innerAdam: Float? = nil, configure: (inout ProblemConfig) -> Void = { _ in }) throws {
        precondition(samples >= 2 && features >= 1, "LogisticHPO needs at least 2 samples and 1 feature, got \(samples) and \(features)")
        let all = try Dataset.logistic(samples: samples, features: features, seed: seed)
        let half = samples / 2
        let train = try all.subset(Array(0..<half))
        validation = try all.subset(Array(half..<samples))
        weights = ParameterTensor(Tensor.zeros([features]))
        decays = ParameterTensor(Tensor.ones([features]))
        var innerConfig = ProblemConfig()
        innerConfig.type = method ?? .darts
        innerConfig.unrollSteps = unroll
        configure(&innerConfig)
        let innerParameters = weights.parameters
        let innerOptimizer: any Optimizer = innerAdam.map { Adam(innerParameters, learningRate: $0) }
            ?? SGD(innerParameters, learningRate: 0.1)
        let inner = Problem(name: "inner", module: weights, optimizer: innerOptimizer,
                            data: [try DataLoader(train, batchSize: half, shuffle: false)], config: innerConfig) { p, batch in
            let w = p.parameters[0], lam = p["outer"].parameters[0]
            return try binaryCrossEntropyWithLogits(batch.x.matmul(w), batch.y) + 0.5 * (lam * w * w).sum()
        }
        inner.onInnerLoopStart = { p in
            p.module.parameters[0].assign(Tensor.zeros([features]))
            p.optimizer.resetState()
        }
        let outer = Problem(name: "outer", module: decays, optimizer: SGD(decays.parameters, learningRate: 1, momentum: 0.9),
                            data: [try DataLoader(validation, batchSize: samples - half, shuffle: false)]) { p, batch in
            try binaryCrossEntropyWithLogits(batch.x.matmul(p["inner"].parameters[0]), batch.y)
        }
        outer.paramCallback = { p in p.module.parameters[0].assign(clamp(p.parameters[0].detached(), min: 1e-8)) }
        let connected = method != nil
        engine = try Engine(problems: [outer, inner], u2l: connected ? ["outer": ["inner"]] : [:],
                            l2u: connected ? ["inner": ["outer"]] : [:])
    }

    /// Validation loss at the current inner weights (Betty's test reads the outer loss there).
    public func validationLoss() throws -> Float {
        try withoutGrad { try binaryCrossEntropyWithLogits(validation.x.matmul(weights.value), validation.y).scalar }
    }
}
