import BettyTensor

/// 2-D convolution over `[N, C, H, W]` (PyTorch's `nn.Conv2d`: weight `[out, in, kh, kw]`, same
/// default initialisation).
public final class Conv2d: Module {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: (Int, Int)
    public let stride: (Int, Int)
    public let padding: (Int, Int)
    public let weight: Parameter
    public let bias: Parameter?
    public var isTraining = true

    public init(_ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), bias: Bool = true, using generator: inout RandomGenerator) {
        precondition(inChannels > 0 && outChannels > 0 && kernel.0 > 0 && kernel.1 > 0,
                     "Conv2d: channel counts and kernel size must be positive")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        weight = Parameter(Initializer.torchDefault.make([outChannels, inChannels, kernel.0, kernel.1], using: &generator))
        self.bias = bias
            ? Parameter(Initializer.torchBias(fanIn: inChannels * kernel.0 * kernel.1).make([outChannels], using: &generator))
            : nil
    }

    public var ownParameters: [(name: String, parameter: Parameter)] { weightAndBias(weight, bias) }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        try expectFeatures(input, inChannels, axis: 1, layer: "Conv2d(\(inChannels) -> \(outChannels))")
        return try conv2d(input, weight: weight.value, bias: bias?.value, stride: stride, padding: padding)
    }
}

/// Max pooling over windows (no padding); the stride defaults to the kernel size.
public final class MaxPool2d: Module {
    public let kernel: (Int, Int)
    public let stride: (Int, Int)
    public var isTraining = true

    public init(kernel: (Int, Int), stride: (Int, Int)? = nil) {
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        try maxPool2d(input, kernel: kernel, stride: stride)
    }
}

/// Average pooling over windows; the stride defaults to the kernel size.
public final class AvgPool2d: Module {
    public let kernel: (Int, Int)
    public let stride: (Int, Int)
    public let padding: (Int, Int)
    public var isTraining = true

    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
    }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        try avgPool2d(input, kernel: kernel, stride: stride, padding: padding)
    }
}
