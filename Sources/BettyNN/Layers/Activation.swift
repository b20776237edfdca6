import BettyTensor

/// An elementwise nonlinearity as a layer.
public final class Activation: Module {
    public enum Kind: String, Sendable, CaseIterable {
        case identity, relu, tanh, sigmoid, softplus
    }

    public let kind: Kind
    public var isTraining = true

    public init(_ kind: Kind) { self.kind = kind }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        Self.apply(kind, input)
    }

    public static func apply(_ kind: Kind, _ x: Tensor) -> Tensor {
        switch kind {
        case .identity: x
        case .relu: relu(x)
        case .tanh: tanh(x)
        case .sigmoid: sigmoid(x)
        case .softplus: softplus(x)
        }
    }
}
