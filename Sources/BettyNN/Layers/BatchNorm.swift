import BettyTensor

/// Batch normalisation over the channel axis 1 of `[N, C]`, `[N, C, L]` (BatchNorm1d) or
/// `[N, C, H, W]` (BatchNorm2d), with PyTorch's semantics: in training, normalise by the batch's
/// mean and biased variance and update the running statistics with `momentum` (the running variance
/// uses the unbiased estimate); in evaluation, normalise by the running statistics.
public final class BatchNorm: Module {
    public let features: Int
    public let epsilon: Float
    public let momentum: Float
    public let weight: Parameter?
    public let bias: Parameter?
    public let runningMean: Buffer
    public let runningVariance: Buffer
    public let batchesTracked: Buffer
    public var isTraining = true

    public init(_ features: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) {
        precondition(features > 0, "BatchNorm: feature count must be positive")
        self.features = features
        self.epsilon = epsilon
        self.momentum = momentum
        weight = affine ? Parameter(.ones([features])) : nil
        bias = affine ? Parameter(.zeros([features])) : nil
        runningMean = Buffer(.zeros([features]))
        runningVariance = Buffer(.ones([features]))
        batchesTracked = Buffer(Tensor(0))
    }

    public var ownParameters: [(name: String, parameter: Parameter)] {
        guard let weight, let bias else { return [] }
        return [("weight", weight), ("bias", bias)]
    }

    public var ownBuffers: [(name: String, buffer: Buffer)] {
        [("running_mean", runningMean), ("running_var", runningVariance), ("num_batches_tracked", batchesTracked)]
    }

    public func callAsFunction(_ input: Tensor) throws(TensorError) -> Tensor {
        guard input.rank >= 2 && input.rank <= 4 else {
            throw .invalidArgument(op: "BatchNorm(\(features))", message: "expects [N, C], [N, C, L] or [N, C, H, W], got shape \(input.shape)")
        }
        try expectFeatures(input, features, axis: 1, layer: "BatchNorm(\(features))")
        var statShape = [Int](repeating: 1, count: input.rank)
        statShape[1] = features
        let axes = [0] + Array(2..<input.rank)
        let mean: Tensor, variance: Tensor
        if isTraining {
            let count = axes.reduce(1) { $0 * input.shape[$1] }
            guard count > 1 else {
                throw .invalidArgument(op: "BatchNorm(\(features))", message: "training needs more than one value per channel, got input of shape \(input.shape)")
            }
            mean = try input.mean(axes: axes, keepDims: true)
            let centered = try input - mean
            variance = try (centered * centered).mean(axes: axes, keepDims: true)
            try withoutGrad { () throws(TensorError) in
                let m = try mean.detached().reshaped(to: [features])
                let unbiased = try variance.detached().reshaped(to: [features]) * (Float(count) / Float(count - 1))
                runningMean.value = try (1 - momentum) * runningMean.value + momentum * m
                runningVariance.value = try (1 - momentum) * runningVariance.value + momentum * unbiased
                batchesTracked.value = batchesTracked.value + 1
            }
        } else {
            mean = try runningMean.value.reshaped(to: Shape(statShape))
            variance = try runningVariance.value.reshaped(to: Shape(statShape))
        }
        var y = try (input - mean) / sqrt(variance + epsilon)
        if let weight, let bias {
            y = try y * weight.value.reshaped(to: Shape(statShape)) + bias.value.reshaped(to: Shape(statShape))
        }
        return y
    }
}

/// PyTorch's names: one class serves `[N, C]`, `[N, C, L]` and `[N, C, H, W]` inputs.
public typealias BatchNorm1d = BatchNorm
public typealias BatchNorm2d = BatchNorm
