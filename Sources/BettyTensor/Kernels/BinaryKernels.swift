/// An elementwise function of two arguments with an eight-lane body and a scalar tail.
@usableFromInline
protocol BinaryKernel {
    static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float>
    static func apply(_ a: Float, _ b: Float) -> Float
}

extension BinaryKernel {
    /// `out[i] = f(a[i * sa], b[i * sb])` for strides 0 or 1: the innermost run of a broadcast.
    @inlinable @inline(__always)
    static func run(_ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                    _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        switch (sa, sb) {
        case (1, 1):
            while i &+ 8 <= n { out.store8(apply(a.load8(i), b.load8(i)), i); i &+= 8 }
            while i < n { out[i] = apply(a[i], b[i]); i &+= 1 }
        case (1, 0):
            let bv = SIMD8<Float>(repeating: b[0]), bs = b[0]
            while i &+ 8 <= n { out.store8(apply(a.load8(i), bv), i); i &+= 8 }
            while i < n { out[i] = apply(a[i], bs); i &+= 1 }
        case (0, 1):
            let av = SIMD8<Float>(repeating: a[0]), as_ = a[0]
            while i &+ 8 <= n { out.store8(apply(av, b.load8(i)), i); i &+= 8 }
            while i < n { out[i] = apply(as_, b[i]); i &+= 1 }
        default:
            let v = apply(a[0], b[0])
            (out).update(repeating: v, count: n)
        }
    }
}

@usableFromInline enum AddKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a + b }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { a + b }
}
@usableFromInline enum SubKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a - b }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { a - b }
}
@usableFromInline enum MulKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a * b }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { a * b }
}
@usableFromInline enum DivKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a / b }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { a / b }
}
/// Second argument only: used to materialise a broadcast.
@usableFromInline enum CopySecondKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { b }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { b }
}
@usableFromInline enum PowKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        // a^b = exp(b log a), with the sign and zero cases of a real power fixed up lane-wise.
        var r = VectorMath.exp(b * VectorMath.log(AbsKernel.apply(a)))
        let isInt = b .== b.rounded(.towardZero)
        let isOdd = isInt .& ((b * 0.5) .!= (b * 0.5).rounded(.towardZero))
        r = r.replacing(with: -r, where: (a .< 0) .& isOdd)
        r = r.replacing(with: .nan, where: (a .< 0) .& .!isInt)
        r = r.replacing(with: 1, where: b .== 0)
        return r
    }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float {
        apply(SIMD8<Float>(repeating: a), SIMD8<Float>(repeating: b))[0]
    }
}
@usableFromInline enum EqualKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>(repeating: 0).replacing(with: 1, where: a .== b)
    }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { a == b ? 1 : 0 }
}
@usableFromInline enum LessKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>(repeating: 0).replacing(with: 1, where: a .< b)
    }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { a < b ? 1 : 0 }
}
@usableFromInline enum LessEqualKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>(repeating: 0).replacing(with: 1, where: a .<= b)
    }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { a <= b ? 1 : 0 }
}
@usableFromInline enum NotEqualKernel: BinaryKernel {
    @inlinable static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>(repeating: 0).replacing(with: 1, where: a .!= b)
    }
    @inlinable static func apply(_ a: Float, _ b: Float) -> Float { a != b ? 1 : 0 }
}
