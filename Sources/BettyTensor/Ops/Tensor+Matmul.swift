// Matrix products through OpenBLAS.

extension Tensor {
    /// Matrix product with optional transposes of either operand.
    ///
    /// - Rank 2: `[m, k] x [k, n] -> [m, n]`.
    /// - Rank 1 operands act as a row (left) or column (right) vector and that dimension is dropped.
    /// - Batched: leading dimensions of equal rank-≥3 operands are batch dimensions; a rank-2 operand
    ///   is broadcast over the other's batch.
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws(TensorError) -> Tensor {
        try Tensor.matmul(self, other, transposeA: transposeA, transposeB: transposeB)
    }

    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws(TensorError) -> Tensor {
        guard a.rank >= 1, b.rank >= 1 else {
            throw .invalidArgument(op: "matmul", message: "operands must have rank >= 1, got \(a.shape) and \(b.shape)")
        }
        if a.rank == 1 || b.rank == 1 {
            guard !(a.rank == 1 && transposeA), !(b.rank == 1 && transposeB) else {
                throw .invalidArgument(op: "matmul", message: "a transpose has no meaning for a vector operand (shapes \(a.shape) and \(b.shape)); reshape it to a row or column matrix instead")
            }
            // A vector is a row (left) or a column (right); that dimension is dropped from the result.
            if a.rank <= 2 && b.rank <= 2 {
                // One recorded product of the operands as given, not a reshape on either side of it:
                // its rule (`matmulGradients`) views vectors as matrices itself.
                let (x, y) = (a.matrixView(asRow: true), b.matrixView(asRow: false))
                let r = try matmulCore(x, y, transposeA, transposeB, recording: false)
                let dims: Shape = a.rank == 1 && b.rank == 1 ? .scalar : .vector(a.rank == 1 ? r.shape[1] : r.shape[0])
                return result(r.storage, dims, .matmul(transposeA: transposeA, transposeB: transposeB), a, b)
            }
            let left = a.rank == 1 ? a.reshapedUnchecked([1, a.count]) : a
            let right = b.rank == 1 ? b.reshapedUnchecked([b.count, 1]) : b
            let r = try matmul(left, right, transposeA: transposeA, transposeB: transposeB)
            var dims = Array(r.shape)
            if b.rank == 1 { dims.removeLast() }
            if a.rank == 1 { dims.remove(at: dims.count - (b.rank == 1 ? 1 : 2)) }
            return r.reshapedUnchecked(Shape(dims))
        }
        if a.rank == 2 && b.rank == 2 { return try matmulCore(a, b, transposeA, transposeB) }
        if b.rank == 2 && !transposeA {
            // Fold the batch into rows: one large product instead of many small ones.
            let k = a.shape[a.rank - 1]
            let flat = try matmulCore(a.reshapedUnchecked([a.count / Swift.max(k, 1), k]), b, false, transposeB)
            var dims = Array(a.shape); dims[dims.count - 1] = flat.shape[1]
            return flat.reshapedUnchecked(Shape(dims))
        }
        if a.rank == b.rank { return try matmulCore(a, b, transposeA, transposeB) }
        // Broadcast the rank-2 operand over the other's batch dimensions.
        if a.rank == 2 {
            let batch = Array(b.shape.dropLast(2))
            return try matmulCore(a.broadcast(to: Shape(batch + Array(a.shape))), b, transposeA, transposeB)
        }
        if b.rank == 2 {
            let batch = Array(a.shape.dropLast(2))
            return try matmulCore(a, b.broadcast(to: Shape(batch + Array(b.shape))), transposeA, transposeB)
        }
        throw .shapeMismatch(op: "matmul", shapes: [a.shape, b.shape],
            hint: "batched operands need the same rank; broadcast or reshape one of them")
    }

    /// Equal-rank operands (rank >= 2) with equal batch dimensions.
    static func matmulCore(_ a: Tensor, _ b: Tensor, _ tA: Bool, _ tB: Bool, recording: Bool = true) throws(TensorError) -> Tensor {
        let r = a.rank
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        guard batchA == batchB else {
            throw .shapeMismatch(op: "matmul", shapes: [a.shape, b.shape],
                hint: "batch dimensions \(batchA) and \(batchB) must be equal")
        }
        let m = tA ? a.shape[r - 1] : a.shape[r - 2]
        let ka = tA ? a.shape[r - 2] : a.shape[r - 1]
        let kb = tB ? b.shape[r - 1] : b.shape[r - 2]
        let n = tB ? b.shape[r - 2] : b.shape[r - 1]
        guard ka == kb else {
            let da = "\(tA ? "transposed " : "")\(a.shape)", db = "\(tB ? "transposed " : "")\(b.shape)"
            throw .shapeMismatch(op: "matmul", shapes: [a.shape, b.shape],
                hint: "inner dimensions differ (\(ka) vs \(kb)) for \(da) x \(db); transpose or reshape an operand")
        }
        let batch = batchA.reduce(1, *)
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            for i in 0..<batch {
                BLAS.sgemm(transposeA: tA, transposeB: tB, m: m, n: n, k: ka,
                           a: p[0] + i * m * ka, b: p[1] + i * ka * n, c: p[2] + i * m * n)
            }
        }
        let out = TensorStorage.compute1(.passUnretained(a.storage), .passUnretained(b.storage), outputs: (batch * m * n, 0), run, record: { run },
            describe: { KernelSignature("matmul", a.shape, b.shape, key: .key(tA ? 1 : 0, tB ? 1 : 0)) })
        let shape = r == 2 ? Shape.matrix(m, n) : Shape(batchA + [m, n])
        guard recording else { return Tensor(storage: out, shape: shape) }
        return result(out, shape, .matmul(transposeA: tA, transposeB: tB), a, b)
    }

    /// A vector as a `[1, n]` row or an `[n, 1]` column; a matrix as it is. Untracked views share
    /// storage: for computing a product whose node records the operands themselves.
    func matrixView(asRow: Bool) -> Tensor {
        rank != 1 ? detached() : Tensor(storage: storage, shape: asRow ? .matrix(1, count) : .matrix(count, 1))
    }
}
