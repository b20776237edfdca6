// Reshape, permute, concatenate and slice.

extension Tensor {
    /// The same elements in a new shape; one dimension may be -1 and is inferred. Shares storage.
    public func reshaped(to dims: [Int]) throws(TensorError) -> Tensor {
        var dims = dims
        let unknown = dims.indices.filter { dims[$0] == -1 }
        guard unknown.count <= 1, dims.allSatisfy({ $0 >= -1 }) else {
            throw .invalidArgument(op: "reshape", message: "dimensions \(dims) may hold at most one -1 and no other negative value")
        }
        let known = dims.filter { $0 != -1 }.reduce(1, *)
        if let u = unknown.first {
            guard known > 0, count % known == 0 else {
                throw .invalidArgument(op: "reshape", message: "cannot infer the -1 in \(dims) for \(count) elements")
            }
            dims[u] = count / known
        }
        guard dims.count <= Shape.maxRank else {
            throw .invalidArgument(op: "reshape", message: "rank \(dims.count) is above the maximum \(Shape.maxRank)")
        }
        let target = Shape(dims)
        guard target.elementCount == count else {
            throw .shapeMismatch(op: "reshape", shapes: [shape, target],
                hint: "a reshape keeps the element count (\(count) vs \(target.elementCount))")
        }
        return reshapedUnchecked(target)
    }

    public func reshaped(to target: Shape) throws(TensorError) -> Tensor {
        try reshaped(to: Array(target))
    }

    @inlinable
    func reshapedUnchecked(_ target: Shape) -> Tensor {
        if target == shape { return self }
        return Tensor.result(storage, target, .reshape, self)
    }

    /// Dimensions reordered: output dimension `i` is input dimension `permutation[i]`.
    public func permuted(_ permutation: [Int]) throws(TensorError) -> Tensor {
        guard permutation.count == rank else {
            throw .invalidArgument(op: "permute", message: "permutation \(permutation) must list each of the \(rank) axes once")
        }
        let axes = try permutation.map { (a: Int) throws(TensorError) -> Int in try shape.normalize(axis: a, op: "permute") }
        guard Set(axes).count == rank else {
            throw .invalidArgument(op: "permute", message: "permutation \(permutation) must list each of the \(rank) axes once")
        }
        if axes == Array(0..<rank) { return self }
        let strides = shape.strides
        let dims = axes.map { shape[$0] }
        let sourceStrides = axes.map { strides[$0] }
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            stridedCopy(p[0], srcStrides: sourceStrides, dims: dims, p[1])
        }
        let out = TensorStorage.compute1(.passUnretained(storage), outputs: (count, 0), run, record: { run },
            describe: { KernelSignature("permute", shape, indices: axes) })
        return Tensor.result(out, Shape(dims), .permute(axes), self)
    }

    /// The last two dimensions swapped (a matrix transpose, batched over leading dimensions).
    public func transposed() throws(TensorError) -> Tensor {
        guard rank >= 2 else {
            throw .invalidArgument(op: "transpose", message: "needs rank >= 2, got shape \(shape); reshape a vector to [n, 1] or [1, n] first")
        }
        var p = Array(0..<rank)
        p.swapAt(rank - 1, rank - 2)
        return try permuted(p)
    }

    /// Tensors joined along `axis`; all other dimensions must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) throws(TensorError) -> Tensor {
        guard let first = tensors.first else {
            throw .invalidArgument(op: "concat", message: "needs at least one tensor")
        }
        let ax = try first.shape.normalize(axis: axis, op: "concat")
        for t in tensors {
            var ok = t.rank == first.rank
            if ok { for i in 0..<first.rank where i != ax && t.shape[i] != first.shape[i] { ok = false } }
            guard ok else {
                throw .shapeMismatch(op: "concat", shapes: [first.shape, t.shape],
                    hint: "all dimensions except the concatenation axis \(ax) must agree")
            }
        }
        let sizes = tensors.map { $0.shape[ax] }
        var dims = Array(first.shape)
        dims[ax] = sizes.reduce(0, +)
        let outShape = Shape(dims)
        let outer = first.shape.product(0..<ax), inner = first.shape.product((ax + 1)..<first.rank)
        let out = TensorStorage.allocate(count: outShape.elementCount)
        let rowLength = dims[ax] * inner
        var column = 0
        for t in tensors {
            let chunk = t.shape[ax] * inner
            withExtendedLifetime(t.storage) {
                for o in 0..<outer {
                    (out.pointer + o * rowLength + column).update(from: t.storage.pointer + o * chunk, count: chunk)
                }
            }
            column += chunk
        }
        guard GradMode.isEnabled, tensors.contains(where: { $0.node != nil }) else {
            return Tensor(storage: out, shape: outShape)
        }
        return recorded(.concat(axis: ax, sizes: sizes), out, outShape, nil, nil, extra: tensors)
    }

    /// Elements `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) throws(TensorError) -> Tensor {
        let ax = try shape.normalize(axis: axis, op: "slice")
        guard range.lowerBound >= 0 && range.upperBound <= shape[ax] else {
            throw .invalidArgument(op: "slice", message: "range \(range) is outside 0..<\(shape[ax]) of axis \(ax) in shape \(shape)")
        }
        var dims = Array(shape)
        dims[ax] = range.count
        let outShape = Shape(dims)
        let outer = shape.product(0..<ax), inner = shape.product((ax + 1)..<rank)
        let chunk = range.count * inner, row = shape[ax] * inner, start = range.lowerBound
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            for o in 0..<outer { (p[1] + o * chunk).update(from: p[0] + o * row + start * inner, count: chunk) }
        }
        let out = TensorStorage.compute1(.passUnretained(storage), outputs: (outShape.elementCount, 0), run, record: { run },
            describe: { KernelSignature("slice", shape, output: outShape, key: .key(ax, start)) })
        return Tensor.result(out, outShape, .slice(axis: ax, start: range.lowerBound), self)
    }

    /// This tensor placed at `start` along `axis` inside zeros of length `size`: the adjoint of `slice`.
    func paddedSlice(axis ax: Int, start: Int, size: Int) -> Tensor {
        var dims = Array(shape)
        let length = dims[ax]
        dims[ax] = size
        let outShape = Shape(dims)
        let outer = shape.product(0..<ax), inner = shape.product((ax + 1)..<rank)
        let total = outShape.elementCount, chunk = length * inner, row = size * inner
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            p[1].update(repeating: 0, count: total)
            for o in 0..<outer { (p[1] + o * row + start * inner).update(from: p[0] + o * chunk, count: chunk) }
        }
        let out = TensorStorage.compute1(.passUnretained(storage), outputs: (total, 0), run, record: { run },
            describe: { KernelSignature("paddedSlice", shape, output: outShape, key: .key(ax, start, size)) })
        return Tensor.result(out, outShape, .padSlice(axis: ax, start: start, size: size), self)
    }
}
