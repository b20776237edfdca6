import BettyTensor

/// How per-sample losses are combined.
public enum Reduction: String, Sendable, CaseIterable {
    case mean, sum, none

    func apply(_ perSample: Tensor) -> Tensor {
        switch self {
        case .mean: perSample.mean()
        case .sum: perSample.sum()
        case .none: perSample
        }
    }
}

/// Class labels as an `[N, 1]` index, after checking each is an integer in `0..<classes`.
func classIndex(_ targets: Tensor, count n: Int, classes: Int, loss: String) throws(TensorError) -> Tensor {
    guard targets.rank == 1, targets.count == n else {
        throw .invalidArgument(op: loss, message: "targets must be a vector of \(n) class labels, got shape \(targets.shape)")
    }
    let bad: (Int, Float)? = targets.withUnsafeBufferPointer { buf in
        for (i, v) in buf.enumerated() where !(v >= 0 && v < Float(classes) && v.rounded(.towardZero) == v) {
            return (i, v)
        }
        return nil
    }
    if let (i, v) = bad {
        throw .invalidArgument(op: loss, message: Dataset.labelFault(v, at: "position \(i)", classes: classes) ?? "label \(v) at position \(i) is not a class")
    }
    return try targets.reshaped(to: [n, 1])
}

/// Cross entropy of `[N, C]` logits against `[N]` integer class labels (PyTorch's `cross_entropy`).
/// With `labelSmoothing` ε the target is `(1 - ε)` on the label plus `ε / C` on every class.
public func crossEntropy(_ logits: Tensor, _ targets: Tensor, reduction: Reduction = .mean,
                         labelSmoothing: Float = 0) throws(TensorError) -> Tensor {
    guard logits.rank == 2 else {
        throw .invalidArgument(op: "crossEntropy", message: "logits must be [batch, classes], got shape \(logits.shape)")
    }
    guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
        throw .invalidArgument(op: "crossEntropy", message: "labelSmoothing \(labelSmoothing) must be in [0, 1]")
    }
    let logp = try logSoftmax(logits, axis: 1)
    return try nllLoss(logp, targets, reduction: reduction, labelSmoothing: labelSmoothing, name: "crossEntropy")
}

/// Negative log-likelihood of `[N, C]` log-probabilities against `[N]` class labels.
public func nllLoss(_ logProbabilities: Tensor, _ targets: Tensor, reduction: Reduction = .mean) throws(TensorError) -> Tensor {
    try nllLoss(logProbabilities, targets, reduction: reduction, labelSmoothing: 0, name: "nllLoss")
}

func nllLoss(_ logp: Tensor, _ targets: Tensor, reduction: Reduction, labelSmoothing: Float,
             name: String) throws(TensorError) -> Tensor {
    guard logp.rank == 2 else {
        throw .invalidArgument(op: name, message: "expects [batch, classes], got shape \(logp.shape)")
    }
    let n = logp.shape[0], classes = logp.shape[1]
    let index = try classIndex(targets, count: n, classes: classes, loss: name)
    var perSample = try -logp.gather(axis: 1, index: index).reshaped(to: [n])
    if labelSmoothing > 0 {
        let uniform = try -logp.mean(axis: 1)
        perSample = try (1 - labelSmoothing) * perSample + labelSmoothing * uniform
    }
    return reduction.apply(perSample)
}

/// Binary cross entropy of logits `z` against targets `y` in [0, 1]: `softplus(z) - z y`, stable for
/// large |z| (PyTorch's `binary_cross_entropy_with_logits`).
public func binaryCrossEntropyWithLogits(_ logits: Tensor, _ targets: Tensor,
                                         reduction: Reduction = .mean) throws(TensorError) -> Tensor {
    guard logits.shape == targets.shape else {
        throw .shapeMismatch(op: "binaryCrossEntropyWithLogits", shapes: [logits.shape, targets.shape],
                             hint: "logits and targets must have the same shape")
    }
    switch reduction {
    case .mean: return try sigmoidCrossEntropy(logits: logits, targets: targets, scale: 1 / Float(max(logits.count, 1)))
    case .sum: return try sigmoidCrossEntropy(logits: logits, targets: targets)
    case .none: return try softplus(logits) - logits * targets
    }
}

/// Mean squared error.
public func mseLoss(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) throws(TensorError) -> Tensor {
    try sameShape(prediction, target, "mseLoss")
    let d = try prediction - target
    return reduction.apply(try d * d)
}

/// Mean absolute error.
public func l1Loss(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) throws(TensorError) -> Tensor {
    try sameShape(prediction, target, "l1Loss")
    return reduction.apply(abs(try prediction - target))
}

/// Huber loss: quadratic within `delta` of the target, linear beyond.
public func huberLoss(_ prediction: Tensor, _ target: Tensor, delta: Float = 1,
                      reduction: Reduction = .mean) throws(TensorError) -> Tensor {
    try sameShape(prediction, target, "huberLoss")
    guard delta > 0 else { throw .invalidArgument(op: "huberLoss", message: "delta \(delta) must be positive") }
    let d = try prediction - target
    let a = abs(d)
    let quadratic = try 0.5 * d * d
    let linear = delta * (a - 0.5 * delta)
    return reduction.apply(try Tensor.where(a .< delta, quadratic, linear))
}

/// Fraction of rows of `[N, C]` logits whose largest entry is the label.
public func accuracy(_ logits: Tensor, _ targets: Tensor) throws(TensorError) -> Float {
    guard logits.rank == 2 else {
        throw .invalidArgument(op: "accuracy", message: "logits must be [batch, classes], got shape \(logits.shape)")
    }
    let n = logits.shape[0]
    _ = try classIndex(targets, count: n, classes: logits.shape[1], loss: "accuracy")
    guard n > 0 else { return 0 }
    let hits = try (logits.argmax(axis: 1) .== targets).sum().scalar
    return hits / Float(n)
}

private func sameShape(_ a: Tensor, _ b: Tensor, _ name: String) throws(TensorError) {
    guard a.shape == b.shape else {
        throw .shapeMismatch(op: name, shapes: [a.shape, b.shape], hint: "prediction and target must have the same shape")
    }
}
