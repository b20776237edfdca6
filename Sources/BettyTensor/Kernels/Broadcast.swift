/// NumPy broadcasting: shapes are aligned at the right; a dimension of 1 stretches to match.
@usableFromInline
func broadcastShape(_ a: Shape, _ b: Shape, op: String) throws(TensorError) -> Shape {
    if a == b { return a }
    let rank = Swift.max(a.rank, b.rank)
    var out = Shape.scalar
    for i in 0..<rank {
        let da = i < rank - a.rank ? 1 : a[i - (rank - a.rank)]
        let db = i < rank - b.rank ? 1 : b[i - (rank - b.rank)]
        if da == db || db == 1 {
            out.append(da)
        } else if da == 1 {
            out.append(db)
        } else {
            throw .shapeMismatch(op: op, shapes: [a, b],
                hint: "dimension \(i) of the aligned shapes is \(da) vs \(db); sizes must match or one must be 1 (reshape or expand one operand)")
        }
    }
    return out
}

/// How to walk the operands of a broadcast: dimensions merged where both operands are contiguous
/// across them, so the inner loop runs as long as possible with strides 0 or 1.
struct BroadcastPlan {
    var dims: [Int] = []
    var strides: [[Int]] = []

    init(output: Shape, operands: [Shape]) {
        let rank = output.rank
        // Per-operand strides in the output's index space; 0 where the operand is stretched.
        var full: [[Int]] = operands.map { shape in
            var s = [Int](repeating: 0, count: rank)
            var acc = 1
            for i in stride(from: shape.rank - 1, through: 0, by: -1) {
                let oi = i + rank - shape.rank
                s[oi] = shape[i] == 1 && output[oi] != 1 ? 0 : acc
                acc *= shape[i]
            }
            return s
        }
        var outDims = (0..<rank).map { output[$0] }
        // Drop size-1 output dimensions: they contribute no iteration.
        let keep = (0..<rank).filter { outDims[$0] != 1 }
        outDims = keep.map { outDims[$0] }
        full = full.map { s in keep.map { s[$0] } }
        // Merge dimension i into i+1 when every operand steps through them as one.
        var dims: [Int] = []
        var strides: [[Int]] = Array(repeating: [], count: operands.count)
        for (k, d) in outDims.enumerated() {
            if let last = dims.last,
               (0..<operands.count).allSatisfy({ strides[$0].last! == full[$0][k] * d }) {
                dims[dims.count - 1] = last * d
                for o in 0..<operands.count { strides[o][strides[o].count - 1] = full[o][k] }
            } else {
                dims.append(d)
                for o in 0..<operands.count { strides[o].append(full[o][k]) }
            }
        }
        if dims.isEmpty {
            dims = [1]
            strides = Array(repeating: [0], count: operands.count)
        }
        self.dims = dims
        self.strides = strides
    }

    /// Calls `body(offsets, innerLength)` for each innermost run, with each operand's element offset.
    /// Inner strides are `strides[o].last`.
    func forEachRun(_ body: (_ offsets: [Int], _ outOffset: Int, _ length: Int) -> Void) {
        let inner = dims.count - 1
        let n = dims[inner]
        var index = [Int](repeating: 0, count: inner)
        var offsets = [Int](repeating: 0, count: strides.count)
        var outOffset = 0
        while true {
            body(offsets, outOffset, n)
            outOffset += n
            // Odometer over the outer dimensions.
            var d = inner - 1
            while d >= 0 {
                index[d] += 1
                for o in 0..<strides.count { offsets[o] += strides[o][d] }
                if index[d] < dims[d] { break }
                for o in 0..<strides.count { offsets[o] -= strides[o][d] * dims[d] }
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }
}

/// `out = f(a, b)` with broadcasting, where `out` has the broadcast shape.
@inlinable @inline(__always)
func broadcastBinary<K: BinaryKernel>(
    _ kernel: K.Type, _ a: UnsafePointer<Float>, _ aShape: Shape,
    _ b: UnsafePointer<Float>, _ bShape: Shape, _ out: UnsafeMutablePointer<Float>, _ outShape: Shape
) {
    let n = outShape.elementCount
    let aFull = aShape.elementCount == n, bFull = bShape.elementCount == n
    if aFull && bFull {
        K.run(a, 1, b, 1, out, n)
    } else if aFull && bShape.elementCount == 1 {
        K.run(a, 1, b, 0, out, n)
    } else if bFull && aShape.elementCount == 1 {
        K.run(a, 0, b, 1, out, n)
    } else if aShape.elementCount == 1 && bShape.elementCount == 1 {
        K.run(a, 0, b, 0, out, n)
    } else if aFull, repeatsAsRows(bShape, of: outShape) {
        // A bias row: b repeats every `m` elements (the commonest broadcast, in every linear layer).
        let m = bShape.elementCount
        for r in stride(from: 0, to: n, by: m) { K.run(a + r, 1, b, 1, out + r, m) }
    } else if bFull, repeatsAsRows(aShape, of: outShape) {
        let m = aShape.elementCount
        for r in stride(from: 0, to: n, by: m) { K.run(a, 1, b + r, 1, out + r, m) }
    } else if aFull, let rows = stretchesAsColumns(bShape, of: outShape) {
        // One value per row of `n / rows` elements (a [rows, 1] operand).
        let length = n / rows
        for r in 0..<rows { K.run(a + r &* length, 1, b + r, 0, out + r &* length, length) }
    } else if bFull, let rows = stretchesAsColumns(aShape, of: outShape) {
        let length = n / rows
        for r in 0..<rows { K.run(a + r, 0, b + r &* length, 1, out + r &* length, length) }
    } else {
        broadcastBinaryGeneral(kernel, a, aShape, b, bShape, out, outShape)
    }
}

/// Whether `small`, leading ones aside, is the trailing dimensions of `output`: it then repeats
/// unchanged every `small.elementCount` elements of the output.
@inlinable
func repeatsAsRows(_ small: Shape, of output: Shape) -> Bool {
    var first = 0
    while first < small.rank && small[first] == 1 { first += 1 }
    let kept = small.rank - first
    guard kept > 0, kept <= output.rank else { return false }
    for i in 0..<kept where small[first + i] != output[output.rank - kept + i] { return false }
    return true
}

/// The number of rows when `small` has `output`'s rank, equals it on a leading run of dimensions
/// and is 1 on all the rest: each of its elements then stretches over one contiguous run.
@inlinable
func stretchesAsColumns(_ small: Shape, of output: Shape) -> Int? {
    guard small.rank == output.rank else { return nil }
    var split = 0
    while split < small.rank && small[split] == output[split] { split += 1 }
    guard split > 0, split < small.rank else { return nil }
    for i in split..<small.rank where small[i] != 1 { return nil }
    return small.elementCount
}

@usableFromInline
func broadcastBinaryGeneral<K: BinaryKernel>(
    _ kernel: K.Type, _ a: UnsafePointer<Float>, _ aShape: Shape,
    _ b: UnsafePointer<Float>, _ bShape: Shape, _ out: UnsafeMutablePointer<Float>, _ outShape: Shape
) {
    let plan = BroadcastPlan(output: outShape, operands: [aShape, bShape])
    let sa = plan.strides[0].last!, sb = plan.strides[1].last!
    plan.forEachRun { offsets, outOffset, length in
        K.run(a + offsets[0], sa, b + offsets[1], sb, out + outOffset, length)
    }
}
