/// What a reduction combines.
@usableFromInline
enum ReduceKind { case sum, max }

/// Sum of `n` contiguous floats with four independent vector accumulators (a fixed order, so the
/// result is deterministic, and enough parallelism to hide the add latency).
@inlinable
func contiguousSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    contiguousSum(n, { p.load8($0) }, { p[$0] })
}

/// The sum of `n` terms given by eight at a time (`vector(i)` for i..<i+8) or one at a time, in
/// `contiguousSum`'s order: terms computed on the fly sum to the same bits as stored ones.
@inlinable @inline(__always)
func contiguousSum(_ n: Int, _ vector: (Int) -> SIMD8<Float>, _ scalar: (Int) -> Float) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i &+ 32 <= n {
        a0 += vector(i); a1 += vector(i &+ 8); a2 += vector(i &+ 16); a3 += vector(i &+ 24)
        i &+= 32
    }
    while i &+ 8 <= n { a0 += vector(i); i &+= 8 }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < n { s += scalar(i); i &+= 1 }
    return s
}

@inlinable
func contiguousMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i &+ 8 <= n {
        let v = p.load8(i)
        m = m.replacing(with: v, where: v .> m)
        i &+= 8
    }
    var s = m.max()
    while i < n { if p[i] > s { s = p[i] }; i &+= 1 }
    return s
}

/// Reduces the middle axis of a buffer viewed as `[outer, n, inner]` into `[outer, inner]`.
func reduceMiddle(_ kind: ReduceKind, _ src: UnsafePointer<Float>, outer: Int, n: Int, inner: Int,
                  _ dst: UnsafeMutablePointer<Float>) {
    if inner == 1 {
        for o in 0..<outer {
            dst[o] = kind == .sum ? contiguousSum(src + o &* n, n) : contiguousMax(src + o &* n, n)
        }
        return
    }
    for o in 0..<outer {
        let row = dst + o &* inner
        let base = src + o &* n &* inner
        if n == 0 {
            row.update(repeating: kind == .sum ? 0 : -.infinity, count: inner)
            continue
        }
        row.update(from: base, count: inner)
        for j in 1..<n {
            let s = base + j &* inner
            switch kind {
            case .sum: AddKernel.run(UnsafePointer(row), 1, s, 1, row, inner)
            case .max: MaxKernel.run(UnsafePointer(row), 1, s, 1, row, inner)
            }
        }
    }
}

@usableFromInline enum MaxKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { b > a ? b : a }
}

/// Reduces `axes` (normalised, sorted) of a contiguous buffer, then multiplies by `scale` when given
/// (a mean); the result keeps the reduced axes as 1. One kernel call: several groups of axes take a
/// pass each, through temporaries the call makes and frees itself.
func reduce(_ kind: ReduceKind, _ storage: TensorStorage, _ shape: Shape, axes: [Int], site: StaticString,
            scale: Float? = nil) -> TensorStorage {
    // Group consecutive axes: [outer, n1*n2, inner] reduces them in one pass.
    var groups: [Range<Int>] = []
    for a in axes {
        if let last = groups.last, last.upperBound == a {
            groups[groups.count - 1] = last.lowerBound..<(a + 1)
        } else {
            groups.append(a..<(a + 1))
        }
    }
    let dims = Array(shape)
    let resultCount = shape.indices.reduce(1) { axes.contains($1) ? $0 : $0 * shape[$1] }
    let total = shape.elementCount
    let scaled = scale != nil
    @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
        guard !groups.isEmpty else {
            p[1].update(from: p[0], count: total)
            if scaled { MulKernel.run(p[1], 1, s, 0, p[1], total) }
            return
        }
        var current = UnsafePointer(p[0])
        var temporary: TensorStorage?
        var dims = dims
        for (i, g) in groups.reversed().enumerated() {
            let outer = dims[0..<g.lowerBound].reduce(1, *)
            let n = dims[g].reduce(1, *)
            let inner = dims[g.upperBound...].reduce(1, *)
            let last = i == groups.count - 1
            let next = last ? nil : TensorStorage.allocate(count: outer * inner, traced: true)
            let destination = next?.pointer ?? p[1]
            reduceMiddle(kind, current, outer: outer, n: n, inner: inner, destination)
            for j in g { dims[j] = 1 }
            temporary = next
            current = UnsafePointer(destination)
        }
        withExtendedLifetime(temporary) {}
        if scaled { MulKernel.run(p[1], 1, s, 0, p[1], resultCount) }
    }
    let key = SIMD8<Int32>.axes(axes, kind == .sum ? 0 : 1, scaled ? 1 : 0)
    return TensorStorage.compute1(.passUnretained(storage), outputs: (resultCount, 0), scalars: (scale ?? 0, 0), run, record: { run },
            describe: { KernelSignature(site, shape, key: key) })
}
