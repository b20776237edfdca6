import BettyTensor

/// Zeroes each element with probability `p` in training mode and scales the rest by `1 / (1 - p)`;
/// the identity in evaluation mode. Draws from its own seeded generator, so runs repeat exactly.
public final class Dropout: Module {
    public let probability: Float
    public var generator: RandomGenerator
    public var isTraining = true

    public init(_ probability: Float, seed: UInt64) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability must be in [0, 1)")
        self.probability = probability
        generator = RandomGenerator(seed: seed)
    }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        guard isTraining, probability > 0 else { return input }
        let keep = try Tensor.bernoulli(input.shape, probability: 1 - probability, using: &generator)
        return try input * (keep * (1 / (1 - probability)))
    }
}
