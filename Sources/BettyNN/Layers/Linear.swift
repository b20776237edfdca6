import BettyTensor

/// `y = x Wᵀ + b`, with PyTorch's layout (`weight` is `[out, in]`) and initialisation.
public final class Linear: Module {
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?
    public var isTraining = true

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true,
                weightInit: Initializer = .torchDefault, biasInit: Initializer? = nil,
                using generator: inout RandomGenerator) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear: feature counts must be positive")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter(weightInit.make([outFeatures, inFeatures], using: &generator))
        self.bias = bias
            ? Parameter((biasInit ?? .torchBias(fanIn: inFeatures)).make([outFeatures], using: &generator))
            : nil
    }

    public var ownParameters: [(name: String, parameter: Parameter)] { weightAndBias(weight, bias) }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        try expectFeatures(input, inFeatures, layer: "Linear(\(inFeatures) -> \(outFeatures))")
        let y = try input.matmul(weight.value, transposeB: true)
        guard let bias else { return y }
        return try y + bias.value
    }
}
