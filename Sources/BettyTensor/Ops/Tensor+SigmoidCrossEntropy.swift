// Logistic loss fused into one operation, as PyTorch's binary_cross_entropy_with_logits is: the
// composition softplus(x) - x*y, then a reduction, records four nodes, makes four passes over the
// data and evaluates exp(-|x|) twice (softplus forward, sigmoid backward). Fused, it is one node and
// one pass that also keeps sigmoid(x), the gradient's only data-sized factor besides y.

/// `scale * Σ (softplus(x) - x * y)` over all elements of `logits` (x) and `targets` (y), which
/// must have the same shape: the summed (`scale` 1) or mean (`scale` 1/n) binary cross entropy
/// with logits. Differentiable in both arguments, to any order.
public func sigmoidCrossEntropy(logits: Tensor, targets: Tensor, scale: Float = 1) throws(TensorError) -> Tensor {
    guard logits.shape == targets.shape else {
        throw .shapeMismatch(op: "sigmoidCrossEntropy", shapes: [logits.shape, targets.shape],
                             hint: "logits and targets must have the same shape")
    }
    let recording = GradMode.isEnabled && (logits.node != nil || targets.node != nil)
    let n = logits.count
    @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
        p[2][0] = SigmoidCrossEntropyKernel.run(p[0], p[1], recording ? p[3] : nil, n) * s[0]
    }
    let (out, probabilities) = TensorStorage.compute(.passUnretained(logits.storage), .passUnretained(targets.storage), outputs: (1, recording ? n : 0), scalars: (scale, 0), run, record: { run },
            describe: { KernelSignature("sigmoidCrossEntropy", logits.shape, targets.shape) })
    let saved = probabilities.map { [Tensor(storage: $0, shape: logits.shape)] } ?? []
    return .result(out, Shape([]), .sigmoidCrossEntropy(scale: scale), logits, targets, extra: saved)
}

enum SigmoidCrossEntropyKernel {
    /// Σ softplus(x) - x*y, writing sigmoid(x) to `probabilities` when given. Both share
    /// e = exp(-|x|): softplus(x) = max(x, 0) + log1p(e) and sigmoid(x) = (x >= 0 ? 1 : e) / (1 + e),
    /// the same bits as the `sigmoid` operation.
    static func run(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ probabilities: UnsafeMutablePointer<Float>?,
                    _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i &+ 8 <= n {
            let (loss, p) = element(x.load8(i), y.load8(i))
            acc += loss
            probabilities?.store8(p, i)
            i &+= 8
        }
        var total = acc.sum()
        while i < n {
            let (loss, p) = element(SIMD8(repeating: x[i]), SIMD8(repeating: y[i]))
            total += loss[0]
            probabilities?[i] = p[0]
            i &+= 1
        }
        return total
    }

    @inline(__always)
    static func element(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> (loss: SIMD8<Float>, probability: SIMD8<Float>) {
        let e = VectorMath.exp(-VectorMath._abs(x))
        let softplus = x.replacing(with: 0, where: x .< 0) + VectorMath._log1pSmall(e)
        return (softplus - x * y, VectorMath._sigmoid(x, expNegativeAbs: e))
    }

    /// `(p - y) * (g * scale)` in one pass, for a one-element `g`: the logits' gradient from the
    /// saved probabilities.
    static func residual(_ p: Tensor, _ y: Tensor, _ g: Tensor, scale: Float) -> Tensor {
        let n = p.count
        @inline(__always) func run(_ q: KernelOperands, _ s: UnsafePointer<Float>) {
            let (a, b, o, c) = (q[0], q[1], q[3], q[2][0] * s[0])
            forEachBlock(of: n) { block in block.store((block.load(a) - block.load(b)) * c, o) }
        }
        let out = TensorStorage.compute1(.passUnretained(p.storage), .passUnretained(y.storage), .passUnretained(g.storage), outputs: (n, 0), scalars: (scale, 0), run, record: { run },
            describe: { KernelSignature("residual", p.shape, y.shape, g.shape) })
        return Tensor(storage: out, shape: p.shape)
    }
}

extension GradNode {
    /// d/dx = scale * g * (sigmoid(x) - y), d/dy = -scale * g * x, from the sigmoid(x) saved by the
    /// forward pass. With `createGraph` that value becomes a recorded `sigmoid` node of x (the very
    /// node `sigmoid(x)` would record, without evaluating exp again), so the rule differentiates again.
    func sigmoidCrossEntropyGradients(_ g: Tensor, scale: Float, need0: Bool, need1: Bool) throws(TensorError) -> (Tensor?, Tensor?) {
        let x = a!, y = b!
        var gx: Tensor?
        if need0 {
            if GradMode.isEnabled {
                gx = try (savedSigmoid() - y) * (g * scale)
            } else {
                gx = SigmoidCrossEntropyKernel.residual(extra[0], y, g, scale: scale)
            }
        }
        let gy = need1 ? try -(x * (g * scale)) : nil
        return (gx, gy)
    }
}
