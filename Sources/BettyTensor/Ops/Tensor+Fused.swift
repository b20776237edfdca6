// Compositions that optimizers and hypergradients apply to whole parameter sets every step. While
// recording they are the composed operations (so they differentiate like them); otherwise they make
// one pass and no temporary, with the same bits as the composition.

extension Tensor {
    /// `self + alpha * other` (PyTorch's `torch.add(input, other, alpha=)`), broadcasting as `+`.
    public func adding(_ other: Tensor, scaledBy alpha: Float) throws(TensorError) -> Tensor {
        let recording = GradMode.isEnabled && (node != nil || other.node != nil)
        guard !recording, shape == other.shape else { return try self + alpha * other }
        let n = count
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            let (a, b, o, alpha) = (p[0], p[1], p[2], s[0])
            forEachBlock(of: n) { block in block.store(block.load(a) + block.load(b) * alpha, o) }
        }
        let out = TensorStorage.compute1(.passUnretained(storage), .passUnretained(other.storage), outputs: (n, 0), scalars: (alpha, 0), run, record: { run },
            describe: { KernelSignature("addingScaled", shape, other.shape) })
        return Tensor(storage: out, shape: shape)
    }
}

/// `(a * b).sum()` for tensors of the same shape: the dot product of their elements, a scalar.
public func dot(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
    let recording = GradMode.isEnabled && (a.node != nil || b.node != nil)
    guard !recording, a.shape == b.shape, a.rank > 0 else { return try (a * b).sum() }
    let n = a.count
    @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
        let (x, y) = (p[0], p[1])
        p[2][0] = contiguousSum(n, { x.load8($0) * y.load8($0) }, { x[$0] * y[$0] })
    }
    let out = TensorStorage.compute1(.passUnretained(a.storage), .passUnretained(b.storage), outputs: (1, 0), run, record: { run },
            describe: { KernelSignature("dot", a.shape, b.shape) })
    return Tensor(storage: out, shape: .scalar)
}
