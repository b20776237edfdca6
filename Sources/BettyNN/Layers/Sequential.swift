import BettyTensor

/// Layers applied in order; their parameters are named by position (`"0.weight"`, `"2.bias"`).
public final class Sequential: Module {
    public let layers: [any Module]
    public var isTraining = true

    public init(_ layers: [any Module]) { self.layers = layers }

    public var children: [(name: String, module: any Module)] {
        layers.enumerated().map { (String($0.offset), $0.element) }
    }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        var x = input
        for layer in layers { x = try layer(x) }
        return x
    }
}

/// A multilayer perceptron: `Linear` layers of the given sizes with an activation between them and
/// an optional one on the output (`MLP([1, 100, 1], output: .sigmoid)` is Meta-Weight-Net's weight net).
public final class MLP: Module {
    public let sizes: [Int]
    public let body: Sequential
    /// Forwarded to `body`, whose layers are this module's children.
    public var isTraining: Bool {
        get { body.isTraining }
        set { body.isTraining = newValue }
    }

    public init(_ sizes: [Int], activation: Activation.Kind = .relu, output: Activation.Kind = .identity,
                bias: Bool = true, using generator: inout RandomGenerator) {
        precondition(sizes.count >= 2, "MLP: needs at least input and output sizes, got \(sizes)")
        self.sizes = sizes
        var layers: [any Module] = []
        for i in 0..<(sizes.count - 1) {
            layers.append(Linear(sizes[i], sizes[i + 1], bias: bias, using: &generator))
            let last = i == sizes.count - 2
            let kind = last ? output : activation
            if kind != .identity { layers.append(Activation(kind)) }
        }
        body = Sequential(layers)
    }

    // Flattened so that names read "0.weight", "2.weight" as in a torch nn.Sequential.
    public var children: [(name: String, module: any Module)] { body.children }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor { try body(input) }
}

/// `[N, d1, d2, ...]` to `[N, d1 * d2 * ...]`.
public final class Flatten: Module {
    public var isTraining = true
    public init() {}

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        guard input.rank >= 1 else {
            throw .invalidArgument(op: "Flatten", message: "needs a batch dimension, got a scalar")
        }
        return try input.reshaped(to: [input.shape[0], -1])
    }
}

/// A bare learnable tensor as a module: the upper level of a hyperparameter problem is often just a
/// vector (one weight decay per feature). Calling it returns the tensor; the input is ignored.
public final class ParameterTensor: Module {
    public let parameter: Parameter
    public var isTraining = true

    public init(_ initial: Tensor) { parameter = Parameter(initial) }

    public convenience init(_ shape: Shape, initializer: Initializer, using generator: inout RandomGenerator) {
        self.init(initializer.make(shape, using: &generator))
    }

    public var value: Tensor { parameter.value }

    public var ownParameters: [(name: String, parameter: Parameter)] { [("value", parameter)] }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor { parameter.value }
}
