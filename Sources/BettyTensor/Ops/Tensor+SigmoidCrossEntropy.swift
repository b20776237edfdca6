// Logistic loss fused into one operation, as PyTorch's binary_cross_entropy_with_logits is: the
// composition softplus(x) - x*y, then a reduction, records four nodes, makes four passes over the
// data and evaluates exp(-|x|) twice (softplus forward, sigmoid backward). Fused, it is one node and
// one pass that also keeps sigmoid(x) - y, the gradient's only data-sized factor.

/// `scale * Σ (softplus(x) - x * y)` over all elements of `logits` (x) and `targets` (y), which
/// must have the same shape: the summed (`scale` 1) or mean (`scale` 1/n) binary cross entropy
/// with logits. Differentiable in both arguments, to any order.
public func sigmoidCrossEntropy(logits: Tensor, targets: Tensor, scale: Float = 1) throws(TensorError) -> Tensor {
    guard logits.shape == targets.shape else {
        throw .shapeMismatch(op: "sigmoidCrossEntropy", shapes: [logits.shape, targets.shape],
                             hint: "logits and targets must have the same shape")
    }
    let recording = GradMode.isEnabled && (logits.node != nil || targets.node != nil)
    let residual = recording ? TensorStorage.allocate(count: logits.count) : nil
    let total = withExtendedLifetime((logits.storage, targets.storage)) {
        SigmoidCrossEntropyKernel.run(logits.storage.pointer, targets.storage.pointer, residual?.pointer, logits.count)
    }
    let out = TensorStorage.allocate(count: 1)
    out.pointer[0] = total * scale
    let saved = residual.map { [Tensor(storage: $0, shape: logits.shape)] } ?? []
    return .result(out, Shape([]), .sigmoidCrossEntropy(scale: scale), logits, targets, extra: saved)
}

enum SigmoidCrossEntropyKernel {
    /// Σ softplus(x) - x*y, writing sigmoid(x) - y to `residual` when given. Both share e = exp(-|x|):
    /// softplus(x) = max(x, 0) + log1p(e) and sigmoid(x) = (x >= 0 ? 1 : e) / (1 + e).
    static func run(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ residual: UnsafeMutablePointer<Float>?,
                    _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i &+ 8 <= n {
            let (loss, r) = element(x.load8(i), y.load8(i))
            acc += loss
            residual?.store8(r, i)
            i &+= 8
        }
        var total = acc.sum()
        while i < n {
            let (loss, r) = element(SIMD8(repeating: x[i]), SIMD8(repeating: y[i]))
            total += loss[0]
            residual?[i] = r[0]
            i &+= 1
        }
        return total
    }

    @inline(__always)
    static func element(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> (loss: SIMD8<Float>, residual: SIMD8<Float>) {
        let e = VectorMath.exp(-VectorMath._abs(x))
        let softplus = x.replacing(with: 0, where: x .< 0) + VectorMath._log1pSmall(e)
        return (softplus - x * y, VectorMath._sigmoid(x, expNegativeAbs: e) - y)
    }
}

extension GradNode {
    /// d/dx = scale * g * (sigmoid(x) - y), d/dy = -scale * g * x. Without `createGraph` the saved
    /// residual serves; with it, the rule is recomputed in recorded operations so it can be
    /// differentiated again.
    func sigmoidCrossEntropyGradients(_ g: Tensor, scale: Float, need0: Bool, need1: Bool) throws(TensorError) -> (Tensor?, Tensor?) {
        let x = a!, y = b!
        var gx: Tensor?
        if need0 {
            if GradMode.isEnabled {
                gx = try (sigmoid(x) - y) * (g * scale)
            } else {
                gx = extra[0] * (g.scalar * scale)
            }
        }
        let gy = need1 ? try -(x * (g * scale)) : nil
        return (gx, gy)
    }
}
