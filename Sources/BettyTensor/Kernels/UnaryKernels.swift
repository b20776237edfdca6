/// An elementwise function with an eight-lane body and a scalar tail that agree bit for bit.
@usableFromInline
protocol UnaryKernel {
    static func apply(_ x: SIMD8<Float>) -> SIMD8<Float>
    static func apply(_ x: Float) -> Float
}

extension UnaryKernel {
    @inlinable @inline(__always)
    static func run(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i &+ 8 <= n {
            out.store8(apply(x.load8(i)), i)
            i &+= 8
        }
        while i < n {
            out[i] = apply(x[i])
            i &+= 1
        }
    }
}

@usableFromInline enum NegKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { -x }
    @inlinable static func apply(_ x: Float) -> Float { -x }
}
@usableFromInline enum ExpKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.exp(x) }
    @inlinable static func apply(_ x: Float) -> Float { VectorMath.exp(x) }
}
@usableFromInline enum LogKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.log(x) }
    @inlinable static func apply(_ x: Float) -> Float { VectorMath.log(x) }
}
@usableFromInline enum SqrtKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { x.squareRoot() }
    @inlinable static func apply(_ x: Float) -> Float { x.squareRoot() }
}
@usableFromInline enum AbsKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Clearing the sign bit is exact and branch-free.
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }
    @inlinable static func apply(_ x: Float) -> Float { Swift.abs(x) }
}
@usableFromInline enum SignKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>(repeating: 0)
            .replacing(with: 1, where: x .> 0)
            .replacing(with: -1, where: x .< 0)
    }
    @inlinable static func apply(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }
}
@usableFromInline enum SinKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.sin(x) }
    @inlinable static func apply(_ x: Float) -> Float { VectorMath.sin(x) }
}
@usableFromInline enum CosKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.cos(x) }
    @inlinable static func apply(_ x: Float) -> Float { VectorMath.cos(x) }
}
@usableFromInline enum TanhKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.tanh(x) }
    @inlinable static func apply(_ x: Float) -> Float { VectorMath.tanh(x) }
}
@usableFromInline enum SigmoidKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.sigmoid(x) }
    @inlinable static func apply(_ x: Float) -> Float { VectorMath.sigmoid(x) }
}
@usableFromInline enum SoftplusKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.softplus(x) }
    @inlinable static func apply(_ x: Float) -> Float { VectorMath.softplus(x) }
}
@usableFromInline enum ReluKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> { x.replacing(with: 0, where: x .< 0) }
    @inlinable static func apply(_ x: Float) -> Float { x < 0 ? 0 : x }
}
/// 1 where x > 0, else 0: the derivative of relu, as a constant mask.
@usableFromInline enum PositiveMaskKernel: UnaryKernel {
    @inlinable static func apply(_ x: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>(repeating: 0).replacing(with: 1, where: x .> 0)
    }
    @inlinable static func apply(_ x: Float) -> Float { x > 0 ? 1 : 0 }
}

/// g · (x > 0 ? 1 : 0), the product relu's backward takes with its mask, without the mask tensor.
@usableFromInline enum TimesPositiveMaskKernel: BinaryKernel {
    @inlinable static func apply(_ g: SIMD8<Float>, _ x: SIMD8<Float>) -> SIMD8<Float> {
        g * PositiveMaskKernel.apply(x)
    }
    @inlinable static func apply(_ g: Float, _ x: Float) -> Float { g * PositiveMaskKernel.apply(x) }
}

/// Two functions of one input in one pass, the tail through the same eight-lane code: sin and cos
/// (`VectorMath.sinCos`), softplus and sigmoid (`VectorMath.softplusAndSigmoid`).
@inline(__always)
func runPaired(_ x: UnsafePointer<Float>, _ first: UnsafeMutablePointer<Float>, _ second: UnsafeMutablePointer<Float>,
               _ n: Int, _ f: (SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>)) {
    var i = 0
    while i &+ 8 <= n {
        let (u, v) = f(x.load8(i))
        first.store8(u, i)
        second.store8(v, i)
        i &+= 8
    }
    while i < n {
        let (u, v) = f(SIMD8(repeating: x[i]))
        first[i] = u[0]
        second[i] = v[0]
        i &+= 1
    }
}
