// Softmax and log-softmax along an axis, computed stably (shifted by the maximum).

/// `exp(x) / sum(exp(x))` along `axis`.
public func softmax(_ x: Tensor, axis: Int = -1) throws(TensorError) -> Tensor {
    let ax = try x.shape.normalize(axis: axis, op: "softmax")
    let out = normalizeAlong(x, axis: ax, log: false)
    return .result(out, x.shape, .softmax(axis: ax), x, saveOutput: true)
}

/// `x - log(sum(exp(x)))` along `axis`.
public func logSoftmax(_ x: Tensor, axis: Int = -1) throws(TensorError) -> Tensor {
    let ax = try x.shape.normalize(axis: axis, op: "logSoftmax")
    let out = normalizeAlong(x, axis: ax, log: true)
    return .result(out, x.shape, .logSoftmax(axis: ax), x, saveOutput: true)
}

/// `log(sum(exp(x)))` along `axis`, stably.
public func logSumExp(_ x: Tensor, axis: Int = -1, keepDims: Bool = false) throws(TensorError) -> Tensor {
    let m = try x.max(axis: axis, keepDims: true).detached()
    let s = try log(exp(x - m).sum(axis: axis, keepDims: true)) + m
    return keepDims ? s : try s.reshaped(to: x.shape.removing(axes: [x.shape.normalize(axis: axis, op: "logSumExp")], keepingDimensions: false))
}

private func normalizeAlong(_ x: Tensor, axis: Int, log: Bool) -> TensorStorage {
    let n = x.shape[axis]
    let outer = x.shape.product(0..<axis), inner = x.shape.product((axis + 1)..<x.rank)
    @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
        guard n > 0 else { return }
        let src = p[0], dst = p[1]
        if inner == 1 {
            for o in 0..<outer {
                let row = src + o * n, y = dst + o * n
                let m = contiguousMax(row, n)
                let shift = m.isFinite ? m : 0
                // y = exp(x - max), then scale (softmax) or shift by log of the sum (log-softmax).
                var i = 0
                let mv = SIMD8<Float>(repeating: shift)
                while i + 8 <= n { y.store8(VectorMath.exp(row.load8(i) - mv), i); i += 8 }
                while i < n { y[i] = VectorMath.exp(row[i] - shift); i += 1 }
                let s = contiguousSum(y, n)
                if log {
                    // (x - max) - log(sum): subtracting the shift first keeps small results exact
                    // next to large logits.
                    let c = VectorMath.log(s)
                    for j in 0..<n { y[j] = (row[j] - shift) - c }
                } else {
                    let r = 1 / s
                    for j in 0..<n { y[j] *= r }
                }
            }
            return
        }
        // Strided along the axis: one column at a time.
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var m = -Float.infinity
                for j in 0..<n { m = Swift.max(m, src[base + j * inner]) }
                let shift = m.isFinite ? m : 0
                var s: Float = 0
                for j in 0..<n {
                    let e = VectorMath.exp(src[base + j * inner] - shift)
                    dst[base + j * inner] = e
                    s += e
                }
                let c = VectorMath.log(s)
                for j in 0..<n {
                    let k = base + j * inner
                    dst[k] = log ? (src[k] - shift) - c : dst[k] / s
                }
            }
        }
    }
    return TensorStorage.compute1(.passUnretained(x.storage), outputs: (x.count, 0), run, record: { run },
            describe: { KernelSignature("normalizeAlong", x.shape, key: .key(axis, log ? 1 : 0)) })
}
