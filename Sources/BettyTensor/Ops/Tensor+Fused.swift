// Compositions that optimizers and hypergradients apply to whole parameter sets every step. While
// recording they are the composed operations (so they differentiate like them); otherwise they make
// one pass and no temporary, with the same bits as the composition.

extension Tensor {
    /// `self + alpha * other` (PyTorch's `torch.add(input, other, alpha=)`), broadcasting as `+`.
    public func adding(_ other: Tensor, scaledBy alpha: Float) throws(TensorError) -> Tensor {
        let recording = GradMode.isEnabled && (node != nil || other.node != nil)
        guard !recording, shape == other.shape else { return try self + alpha * other }
        let out = TensorStorage.allocate(count: count)
        withExtendedLifetime((storage, other.storage)) {
            let (a, b, o) = (storage.pointer, other.storage.pointer, out.pointer)
            forEachBlock(of: count) { block in block.store(block.load(a) + block.load(b) * alpha, o) }
        }
        return Tensor(storage: out, shape: shape)
    }
}

/// `(a * b).sum()` for tensors of the same shape: the dot product of their elements, a scalar.
public func dot(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
    let recording = GradMode.isEnabled && (a.node != nil || b.node != nil)
    guard !recording, a.shape == b.shape, a.rank > 0 else { return try (a * b).sum() }
    let total = withExtendedLifetime((a.storage, b.storage)) {
        let (x, y) = (a.storage.pointer, b.storage.pointer)
        return contiguousSum(a.count, { x.load8($0) * y.load8($0) }, { x[$0] * y[$0] })
    }
    return Tensor(total)
}
