import Testing
import BettyNN
import BettyTensor
import Betty

/// Betty's own regression test (test/test_regression.py): one weight decay per feature for logistic
/// regression, d = 20, 500 training and 500 validation samples from Betty's generator.
@Suite struct LogisticHPOTests {
    struct Result { var validationLoss: Float; var lambda: [Float] }

    /// Inner: SGD lr 0.1 from w = 0 (reset at each inner loop start), 100 unrolled steps per outer
    /// step. Outer: SGD lr 1, momentum 0.9, decays clamped at 1e-8. 2000 global steps.
    static func run(method: ProblemConfig.Method?, seed: UInt64, iterations: Int = 2000,
                    configure: (inout ProblemConfig) -> Void = { _ in }) throws -> Result {
        let all = try Dataset.logistic(samples: 1000, features: 20, seed: seed)
        let train = try all.subset(Array(0..<500)), valid = try all.subset(Array(500..<1000))
        let weights = ParameterTensor(Tensor.zeros([20]))
        let decays = ParameterTensor(Tensor.ones([20]))
        var innerConfig = ProblemConfig()
        innerConfig.type = method ?? .darts
        innerConfig.unrollSteps = 100
        configure(&innerConfig)
        let inner = Problem(name: "inner", module: weights, optimizer: SGD(weights.parameters, learningRate: 0.1),
                            data: [try DataLoader(train, batchSize: 500, shuffle: false)], config: innerConfig) { p, batch in
            let w = p.parameters[0], lam = p["outer"].parameters[0]
            return try binaryCrossEntropyWithLogits(batch.x.matmul(w), batch.y) + 0.5 * (lam * w * w).sum()
        }
        inner.onInnerLoopStart = { p in p.module.parameters[0].assign(Tensor.zeros([20])) }
        let outer = Problem(name: "outer", module: decays, optimizer: SGD(decays.parameters, learningRate: 1, momentum: 0.9),
                            data: [try DataLoader(valid, batchSize: 500, shuffle: false)]) { p, batch in
            try binaryCrossEntropyWithLogits(batch.x.matmul(p["inner"].parameters[0]), batch.y)
        }
        outer.paramCallback = { p in p.module.parameters[0].assign(clamp(p.parameters[0].detached(), min: 1e-8)) }
        // With no method the decays stay frozen at 1: the baseline the hypergradient must beat.
        let engine = try Engine(problems: [outer, inner], u2l: method == nil ? [:] : ["outer": ["inner"]],
                                l2u: method == nil ? [:] : ["inner": ["outer"]])
        try engine.run(iterations: iterations)
        let loss = try withoutGrad { try binaryCrossEntropyWithLogits(valid.x.matmul(weights.value), valid.y).scalar }
        return Result(validationLoss: loss, lambda: decays.value.scalars)
    }

    @Test(arguments: [UInt64(0), 1])
    func hypergradientMethodsBeatFrozenDecays(seed: UInt64) throws {
        let frozen = try Self.run(method: nil, seed: seed)
        for method in [ProblemConfig.Method.darts, .cg, .neumann] {
            let tuned = try Self.run(method: method, seed: seed) {
                $0.dartsAlpha = 0.01
                $0.cgIterations = 3
                $0.cgAlpha = 0.1
                $0.neumannIterations = 5
                $0.neumannAlpha = 1
            }
            // Betty lands at 0.28-0.37 over ten seeds and frozen decays at 0.57-0.59; below 0.48 and a
            // clear gain over the frozen run is the bar.
            #expect(tuned.validationLoss < 0.48, "\(method) seed \(seed): \(tuned.validationLoss) (frozen \(frozen.validationLoss))")
            #expect(tuned.validationLoss < frozen.validationLoss - 0.05, "\(method) seed \(seed): \(tuned.validationLoss) vs frozen \(frozen.validationLoss)")
            #expect(tuned.lambda.allSatisfy { $0 >= 1e-8 })
        }
    }
}
