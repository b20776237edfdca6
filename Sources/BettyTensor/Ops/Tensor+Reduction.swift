// Sums, means and maxima over all or some axes, and the broadcasts that undo them.

extension Tensor {
    /// Sum of all elements, as a rank-0 tensor.
    public func sum() -> Tensor {
        // The reduction `sum(axes:)` runs for all axes (one pass in the same order, so the same
        // bits), without building, checking and grouping an axis list: a loss ends in one.
        let (n, scalar) = (count, rank == 0)
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            p[1][0] = scalar ? p[0][0] : contiguousSum(p[0], n)
        }
        let out = TensorStorage.compute1(.passUnretained(storage), outputs: (1, 0), run, record: { run },
            describe: { KernelSignature("sumAll", shape) })
        return Tensor.result(out, .scalar, .sum(axes: Shape.allAxes[rank], keepDims: false), self)
    }

    /// Sum over `axes` (negative counts from the end); `keepDims` leaves them as size 1.
    public func sum(axes: [Int], keepDims: Bool = false) throws(TensorError) -> Tensor {
        let axes = try shape.normalize(axes: axes, op: "sum")
        let out = reduce(.sum, storage, shape, axes: axes, site: "sumAxes")
        return Tensor.result(out, shape.removing(axes: axes, keepingDimensions: keepDims),
                             .sum(axes: axes, keepDims: keepDims), self)
    }

    public func sum(axis: Int, keepDims: Bool = false) throws(TensorError) -> Tensor {
        try sum(axes: [axis], keepDims: keepDims)
    }

    /// Mean of all elements, as a rank-0 tensor.
    public func mean() -> Tensor {
        try! mean(axes: Array(0..<rank))
    }

    public func mean(axes: [Int], keepDims: Bool = false) throws(TensorError) -> Tensor {
        let axes = try shape.normalize(axes: axes, op: "mean")
        let n = axes.reduce(1) { $0 * shape[$1] }
        let scale = n == 0 ? Float.nan : Float(1) / Float(Swift.max(n, 1))
        let out = reduce(.sum, storage, shape, axes: axes, site: "mean", scale: scale)
        return Tensor.result(out, shape.removing(axes: axes, keepingDimensions: keepDims),
                             .mean(axes: axes, keepDims: keepDims, count: n), self)
    }

    public func mean(axis: Int, keepDims: Bool = false) throws(TensorError) -> Tensor {
        try mean(axes: [axis], keepDims: keepDims)
    }

    /// Largest element, as a rank-0 tensor. The gradient is shared equally among ties.
    public func max() -> Tensor {
        try! max(axes: Array(0..<rank))
    }

    public func max(axes: [Int], keepDims: Bool = false) throws(TensorError) -> Tensor {
        let axes = try shape.normalize(axes: axes, op: "max")
        for a in axes where shape[a] == 0 {
            throw .invalidArgument(op: "max", message: "axis \(a) has size 0; the maximum of nothing is undefined")
        }
        let out = reduce(.max, storage, shape, axes: axes, site: "maxAxes")
        return Tensor.result(out, shape.removing(axes: axes, keepingDimensions: keepDims),
                             .max(axes: axes, keepDims: keepDims), self, saveOutput: true)
    }

    public func max(axis: Int, keepDims: Bool = false) throws(TensorError) -> Tensor {
        try max(axes: [axis], keepDims: keepDims)
    }

    /// Smallest element over `axes` (as `-max(-x)`).
    public func min(axes: [Int], keepDims: Bool = false) throws(TensorError) -> Tensor {
        try -((-self).max(axes: axes, keepDims: keepDims))
    }

    /// This tensor stretched to `target` by broadcasting (size-1 or missing leading dimensions).
    public func broadcast(to target: Shape) throws(TensorError) -> Tensor {
        if target == shape { return self }
        if count == 1 && rank <= target.rank {
            // One value filling the target (a full reduction's gradient): no walk plan needed.
            let n = target.elementCount
            @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) { p[1].update(repeating: p[0][0], count: n) }
            let out = TensorStorage.compute1(.passUnretained(storage), outputs: (n, 0), run, record: { run },
            describe: { KernelSignature("fill", shape, output: target) })
            return Tensor.result(out, target, .broadcastTo(target), self)
        }
        let joined = try broadcastShape(shape, target, op: "broadcast")
        guard joined == target else {
            throw .shapeMismatch(op: "broadcast", shapes: [shape, target],
                hint: "only size-1 or missing leading dimensions can be stretched")
        }
        let source = shape
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            broadcastBinary(CopySecondKernel.self, p[0], source, p[0], source, p[1], target)
        }
        let out = TensorStorage.compute1(.passUnretained(storage), outputs: (target.elementCount, 0), run, record: { run },
            describe: { KernelSignature("broadcast", shape, output: target) })
        return Tensor.result(out, target, .broadcastTo(target), self)
    }

    /// PyTorch's name for `broadcast(to:)`.
    public func expanded(to target: Shape) throws(TensorError) -> Tensor { try broadcast(to: target) }

    /// Sums this tensor down to `target`, the shape it was broadcast from: the adjoint of `broadcast`.
    public func sum(toShape target: Shape) throws(TensorError) -> Tensor {
        if target == shape { return self }
        let joined = try broadcastShape(target, shape, op: "sum(toShape:)")
        guard joined == shape else {
            throw .shapeMismatch(op: "sum(toShape:)", shapes: [shape, target],
                hint: "the target must broadcast to the tensor's shape")
        }
        let offset = rank - target.rank
        var axes = Array(0..<offset)
        for i in 0..<target.rank where target[i] == 1 && shape[i + offset] != 1 { axes.append(i + offset) }
        let out = reduce(.sum, storage, shape, axes: axes, site: "sumTo")
        return Tensor.result(out, target, .sumTo(target), self)
    }
}
