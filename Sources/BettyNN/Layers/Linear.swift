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
        if bias {
            // PyTorch draws the bias from U(-1/sqrt(in), 1/sqrt(in)).
            let bound = 1 / Float(inFeatures).squareRoot()
            let initial = biasInit ?? .uniform(low: -bound, high: bound)
            self.bias = Parameter(initial.make([outFeatures], using: &generator))
        } else {
            self.bias = nil
        }
    }

    public var ownParameters: [(name: String, parameter: Parameter)] {
        if let bias { return [("weight", weight), ("bias", bias)] }
        return [("weight", weight)]
    }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        try expectFeatures(input, inFeatures, layer: "Linear(\(inFeatures) -> \(outFeatures))")
        let y = try input.matmul(weight.value, transposeB: true)
        guard let bias else { return y }
        return try y + bias.value
    }
}
