import BettyNN
import BettyTensor

/// Meta-Weight-Net data reweighting (Shu et al. 2019, Betty's tutorial), ready to run: a classifier
/// MLP trained on per-sample losses weighted by a small weight net, which is itself trained so the
/// classifier does well on a clean meta set (darts hypergradient, unroll 1).
public struct MetaWeightNet {
    public let engine: Engine
    public let classifier: MLP
    public let weightNet: MLP

    /// Classifier `MLP(features, hidden, classes)`: SGD lr 0.1, momentum 0.9 (weight decay as given);
    /// weight net `MLP(1, 100, 1)` with a sigmoid output: Adam lr 1e-5. Batches of `batchSize`.
    public init(train: Dataset, meta: Dataset, classes: Int, hidden: Int = 200, batchSize: Int = 100,
                weightDecay: Float = 0, seed: UInt64 = 0) throws {
        var gen = RandomGenerator(seed: seed)
        let features = train.x.shape[1]
        classifier = MLP([features, hidden, classes], using: &gen)
        weightNet = MLP([1, 100, 1], output: .sigmoid, using: &gen)
        let classifierModel = classifier
        let learner = Problem(
            name: "classifier", module: classifier,
            optimizer: SGD(classifier.parameters, learningRate: 0.1, momentum: 0.9, weightDecay: weightDecay),
            data: [try DataLoader(train, batchSize: batchSize, seed: seed &+ 1)]
        ) { p, batch in
            let perSample = try crossEntropy(classifierModel(batch.x), batch.y, reduction: .none)
            let weights = try p["reweight"].module(perSample.detached().reshaped(to: [-1, 1]))
            return try (weights.reshaped(to: [-1]) * perSample).mean()
        }
        let reweight = Problem(
            name: "reweight", module: weightNet, optimizer: Adam(weightNet.parameters, learningRate: 1e-5),
            data: [try DataLoader(meta, batchSize: batchSize, seed: seed &+ 2)]
        ) { p, batch in
            try crossEntropy(p["classifier"].module(batch.x), batch.y)
        }
        engine = try Engine(problems: [reweight, learner], u2l: ["reweight": ["classifier"]],
                            l2u: ["classifier": ["reweight"]])
    }
}
