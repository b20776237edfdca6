// Selecting and scattering along an axis by integer indices.

extension Tensor {
    /// Rows (slices along `axis`) picked by `indices`, in that order; indices may repeat.
    public func indexSelect(axis: Int, indices: [Int]) throws(TensorError) -> Tensor {
        let ax = try shape.normalize(axis: axis, op: "indexSelect")
        let n = shape[ax]
        if let bad = indices.first(where: { $0 < 0 || $0 >= n }) {
            throw .indexOutOfRange(op: "indexSelect(axis: \(ax))", index: bad, bound: n)
        }
        var dims = Array(shape)
        dims[ax] = indices.count
        let outShape = Shape(dims)
        let outer = shape.product(0..<ax), inner = shape.product((ax + 1)..<rank)
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            for o in 0..<outer {
                for (j, idx) in indices.enumerated() {
                    (p[1] + (o * indices.count + j) * inner).update(from: p[0] + (o * n + idx) * inner, count: inner)
                }
            }
        }
        let out = TensorStorage.compute1(.passUnretained(storage), outputs: (outShape.elementCount, 0), run, record: { run },
            describe: { KernelSignature("indexSelect", shape, key: .key(ax), indices: indices) })
        return Tensor.result(out, outShape, .indexSelect(axis: ax, indices: indices), self)
    }

    /// Zeros of length `size` along `axis` with the slices of this tensor added at `indices`: the
    /// adjoint of `indexSelect`.
    func indexAdded(axis ax: Int, indices: [Int], size: Int) -> Tensor {
        var dims = Array(shape)
        dims[ax] = size
        let outShape = Shape(dims)
        let outer = shape.product(0..<ax), inner = shape.product((ax + 1)..<rank)
        let total = outShape.elementCount
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            p[1].update(repeating: 0, count: total)
            for o in 0..<outer {
                for (j, idx) in indices.enumerated() {
                    let dst = p[1] + (o * size + idx) * inner
                    AddKernel.run(UnsafePointer(dst), 1, p[0] + (o * indices.count + j) * inner, 1, dst, inner)
                }
            }
        }
        let out = TensorStorage.compute1(.passUnretained(storage), outputs: (total, 0), run, record: { run },
            describe: { KernelSignature("indexAdded", shape, key: .key(ax, size), indices: indices) })
        return Tensor.result(out, outShape, .indexAdd(axis: ax, indices: indices, size: size), self)
    }

    /// `out[..., j, ...] = self[..., index[..., j, ...], ...]` along `axis` (PyTorch's `gather`):
    /// `index` holds integers and matches this shape except along `axis`.
    public func gather(axis: Int, index: Tensor) throws(TensorError) -> Tensor {
        let ax = try shape.normalize(axis: axis, op: "gather")
        try checkIndex(index, axis: ax, op: "gather", bound: shape[ax])
        let n = shape[ax], m = index.shape[ax]
        let outer = shape.product(0..<ax), inner = shape.product((ax + 1)..<rank)
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            let src = p[0], dst = p[2]
            Self.indexWalk(p[1], outer: outer, m: m, inner: inner, n: n) { k, source in dst[k] = src[source] }
        }
        let out = TensorStorage.compute1(.passUnretained(storage), .passUnretained(index.storage), outputs: (index.count, 0), run, record: { run },
            describe: { KernelSignature("gather", shape, index.shape, key: .key(ax)) })
        return Tensor.result(out, index.shape, .gather(axis: ax), self, extra: [index.detached()])
    }

    /// Zeros of length `size` along `axis` with this tensor's elements added at `index`: the adjoint
    /// of `gather`.
    func scatterAdded(axis ax: Int, index: Tensor, size: Int) -> Tensor {
        var dims = Array(shape)
        dims[ax] = size
        let outShape = Shape(dims)
        let outer = shape.product(0..<ax), inner = shape.product((ax + 1)..<rank)
        let (m, total) = (shape[ax], outShape.elementCount)
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            let src = p[0], dst = p[2]
            dst.update(repeating: 0, count: total)
            Self.indexWalk(p[1], outer: outer, m: m, inner: inner, n: size) { k, target in dst[target] += src[k] }
        }
        let out = TensorStorage.compute1(.passUnretained(storage), .passUnretained(index.storage), outputs: (total, 0), run, record: { run },
            describe: { KernelSignature("scatterAdded", shape, index.shape, key: .key(ax, size)) })
        return Tensor.result(out, outShape, .scatterAdd(axis: ax, size: size), self, extra: [index])
    }

    /// Visits every element `k` of an `[outer, m, inner]` index with the flat offset it names in an
    /// `[outer, n, inner]` tensor. One walk serves gather and its adjoint, so they stay exact adjoints.
    @inline(__always)
    private static func indexWalk(_ idx: UnsafePointer<Float>, outer: Int, m: Int, inner: Int, n: Int,
                                  _ body: (_ k: Int, _ offset: Int) -> Void) {
        for o in 0..<outer {
            for j in 0..<m {
                for i in 0..<inner {
                    let k = (o * m + j) * inner + i
                    body(k, (o * n + Int(idx[k])) * inner + i)
                }
            }
        }
    }

    private func checkIndex(_ index: Tensor, axis ax: Int, op: String, bound: Int) throws(TensorError) {
        var ok = index.rank == rank
        if ok { for i in 0..<rank where i != ax && index.shape[i] != shape[i] { ok = false } }
        guard ok else {
            throw .shapeMismatch(op: op, shapes: [shape, index.shape],
                hint: "the index must have the input's rank and dimensions except along axis \(ax)")
        }
        let bad: Float? = index.withUnsafeBufferPointer { buf in
            buf.first { !($0 >= 0 && $0 < Float(bound) && $0.rounded(.towardZero) == $0) }
        }
        if let bad {
            if bad.rounded(.towardZero) != bad || !bad.isFinite {
                throw .invalidArgument(op: op, message: "index value \(bad) is not an integer")
            }
            throw .indexOutOfRange(op: op, index: Int(bad), bound: bound)
        }
    }

    /// Index of the largest element along `axis` (the first on ties), as integer-valued floats.
    /// Not differentiable.
    public func argmax(axis: Int, keepDims: Bool = false) throws(TensorError) -> Tensor {
        let ax = try shape.normalize(axis: axis, op: "argmax")
        let n = shape[ax]
        guard n > 0 else { throw .invalidArgument(op: "argmax", message: "axis \(ax) has size 0") }
        let outer = shape.product(0..<ax), inner = shape.product((ax + 1)..<rank)
        let outShape = shape.removing(axes: [ax], keepingDimensions: keepDims)
        let out = TensorStorage.allocate(count: outer * inner)
        withExtendedLifetime(storage) {
            let src = storage.pointer
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = src[o * n * inner + i], bestIndex = 0
                    for j in 1..<Swift.max(n, 1) {
                        let v = src[(o * n + j) * inner + i]
                        if v > best || (best.isNaN == false && v.isNaN) { best = v; bestIndex = j }
                    }
                    out.pointer[o * inner + i] = Float(bestIndex)
                }
            }
        }
        return Tensor(storage: out, shape: outShape)
    }

    /// One-hot rows: `[n]` integer class labels to `[n, classes]` zeros and ones. Not differentiable.
    public static func oneHot(_ labels: Tensor, classes: Int) throws(TensorError) -> Tensor {
        guard labels.rank == 1 else {
            throw .invalidArgument(op: "oneHot", message: "labels must be rank 1, got shape \(labels.shape)")
        }
        // Not a constant: the labels decide where the ones go.
        let out = TensorStorage.allocate(count: labels.count * classes)
        out.pointer.initialize(repeating: 0, count: labels.count * classes)
        try labels.withUnsafeBufferPointer { (buf) throws(TensorError) in
            for (i, v) in buf.enumerated() {
                guard v >= 0, v < Float(classes), v.rounded(.towardZero) == v else {
                    throw .invalidArgument(op: "oneHot", message: "label \(v) at \(i) is not a class in 0..<\(classes)")
                }
                out.pointer[i * classes + Int(v)] = 1
            }
        }
        return Tensor(storage: out, shape: [labels.count, classes])
    }
}
