// Branch-free single-precision transcendental kernels on SIMD8<Float>.
//
// The algorithms are the Cephes single-precision ones (expf, logf, sinf/cosf,
// tanhf): reduce the argument to a small interval, evaluate a minimax
// polynomial there, undo the reduction. Everything that Cephes does with
// branches is done here with lane masks, so one call handles eight lanes and
// the work per lane does not depend on its neighbours.
//
// Implementation choices that are not obvious:
//
// * No libm in the vector paths: scalar glibc expf/sinf cost 2-8 ns/element
//   here; these cost ~0.9-1.6 ns/element built for baseline x86-64 (SSE2)
//   and about half that with AVX2 enabled.
// * The package builds for baseline x86-64 (SSE2). There `.rounded(.down)`,
//   `.rounded(.toNearestOrEven)` and SIMD Float->Int32 conversions on
//   SIMD8<Float> lower to eight libm/stdlib calls each, so rounding to an
//   integer is done with the 1.5 * 2^23 "magic number" trick instead: adding
//   it forces the FPU to round at the units place, and the integer can be
//   read straight out of the low mantissa bits.
// * Selects use `replacing(with:where:)` (vectorises to and/andn/or, or to
//   min/max); `pointwiseMin/Max` are avoided because they may run as scalar
//   loops. Integer masks compare against a vector, not a scalar: the
//   SIMD8<Int32>-vs-scalar comparisons are generic loops that stay loops.
// * The stdlib's SIMD8<Float> arithmetic is a per-lane loop that only LLVM's
//   SLP vectorizer turns back into vector code, and it can give up on
//   unlucky operand patterns (see log); check the IR after editing.
// * Swift does not contract a * b + c into an FMA, so results are the same on
//   every target, and the scalar overloads (which run the vector code on a
//   splat and take lane 0) are bit-identical to the vector lanes. That lets
//   loops process the tail with the scalar overload without a seam.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@usableFromInline
enum VectorMath {
    // MARK: - exp

    /// e^x. Relative error about 1 ulp for normal results. Gradual underflow
    /// is handled correctly: results are subnormal for x in (-103.97, -87.34)
    /// and exactly 0 below ln(2^-150) = -103.972...; +inf for
    /// x > 88.7228317 (the largest float whose exp is finite); NaN -> NaN.
    @inlinable @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Clamping keeps n in [-150, 128] so the integer exponent arithmetic
        // below cannot wrap; the ends still come out as inf / 0 because the
        // final scaling overflows / underflows naturally. NaN fails both
        // comparisons and propagates through the arithmetic.
        var v = x.replacing(with: 89, where: x .> 89)
        v = v.replacing(with: -104, where: v .< -104)

        let log2e: Float = 1.44269504088896341
        let magic: Float = 12_582_912  // 1.5 * 2^23
        let t = v * log2e + magic       // rounds v/ln2 to the nearest integer
        let nf = t - magic
        let n = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000

        // ln 2 split in two (Cody-Waite): C1 has only 9 significant bits, so
        // n * C1 is exact and v - n * C1 loses nothing; C2 carries the rest.
        let c1: Float = 0.693359375
        let c2: Float = -2.12194440e-4
        var r = v - nf * c1
        r = r - nf * c2

        // Cephes expf minimax polynomial for e^r on |r| <= ln2 / 2.
        let p0: Float = 1.9875691500e-4
        let p1: Float = 1.3981999507e-3
        let p2: Float = 8.3334519073e-3
        let p3: Float = 4.1665795894e-2
        let p4: Float = 1.6666665459e-1
        let p5: Float = 5.0000001201e-1
        let r2 = r * r
        var p = r * p0 + p1
        p = p * r + p2
        p = p * r + p3
        p = p * r + p4
        p = p * r + p5
        p = p * r2 + r
        p = p + 1

        // 2^n in two halves: n reaches -150 and +128, neither of which is a
        // normal float exponent, but n/2 always is. p * 2^n1 is exact, so the
        // second multiply rounds only once into the subnormal range (no
        // double rounding) and overflows cleanly to inf.
        let n1 = n &>> 1
        let n2 = n &- n1
        let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: SIMD8<Float>.self)
        let s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: SIMD8<Float>.self)
        return p * s1 * s2
    }

    // MARK: - log

    /// Natural logarithm. Relative error about 1 ulp. Subnormal inputs are
    /// handled correctly (rescaled by 2^23 first, not flushed to zero).
    /// log(±0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, NaN -> NaN.
    @inlinable @inline(__always)
    static func log(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Subnormals have no implicit leading bit, so the exponent/mantissa
        // split below would be wrong for them; scaling by 2^23 is exact.
        let tiny = x .< Float.leastNormalMagnitude
        let xs = x.replacing(with: x * 8_388_608, where: tiny)

        let bias = SIMD8<Float>(repeating: 0).replacing(with: -23, where: tiny)
        var result = _logCore(xs, exponentBias: bias)
        result = result.replacing(with: .infinity, where: x .== .infinity)
        result = result.replacing(with: -.infinity, where: x .== 0)
        result = result.replacing(with: .nan, where: (x .< 0) .| (x .!= x))
        return result
    }

    /// log(x * 2^exponentBias) for positive, normal, finite x (no special
    /// cases): the Cephes logf core shared by log and softplus. Keeping
    /// softplus on this smaller core keeps it under the SIL inliner's caller
    /// size limit, so it inlines completely instead of calling log.
    @inlinable @inline(__always)
    static func _logCore(_ x: SIMD8<Float>, exponentBias: SIMD8<Float>) -> SIMD8<Float> {
        // Split x = (1 + f) * 2^k with 1 + f in [sqrt(1/2), sqrt(2)), so the
        // polynomial argument is centred on 0 and as small as possible. This
        // is Cephes' frexp + "if m < sqrt(1/2)" step done in integer
        // arithmetic (as in musl): adding 1.0 - sqrt(1/2) in the bit domain
        // carries into the exponent exactly when the mantissa is at or above
        // sqrt(2)'s, so no compare/select is needed. 1 + f is exact and so is
        // f = (1 + f) - 1 (Sterbenz), so f carries no rounding error.
        var ix = unsafeBitCast(x, to: SIMD8<Int32>.self)
        ix = ix &+ (0x3F80_0000 - 0x3F35_04F3)
        let k = (ix &>> 23) &- 0x7F
        ix = (ix & 0x007F_FFFF) &+ 0x3F35_04F3
        let f = unsafeBitCast(ix, to: SIMD8<Float>.self) - 1
        return _logOf(f, exponent: SIMD8<Float>(k) + exponentBias)
    }

    /// log((1 + f) * 2^fe) for f in [sqrt(1/2) - 1, sqrt(2) - 1): the polynomial after the reduction.
    @inlinable @inline(__always)
    static func _logOf(_ f: SIMD8<Float>, exponent fe: SIMD8<Float>) -> SIMD8<Float> {
        // Cephes logf minimax polynomial: log(1 + f) = f - f^2/2 + f^3 P(f).
        let q0: Float = 7.0376836292e-2
        let q1: Float = -1.1514610310e-1
        let q2: Float = 1.1676998740e-1
        let q3: Float = -1.2420140846e-1
        let q4: Float = 1.4249322787e-1
        let q5: Float = -1.6668057665e-1
        let q6: Float = 2.0000714765e-1
        let q7: Float = -2.4999993993e-1
        let q8: Float = 3.3333331174e-1
        let z = f * f
        var y = f * q0 + q1
        y = y * f + q2
        y = y * f + q3
        y = y * f + q4
        y = y * f + q5
        y = y * f + q6
        y = y * f + q7
        y = y * f + q8
        // y * (f * z) rather than Cephes' (y * f) * z: same accuracy, but the
        // latter's operand pattern makes LLVM's SLP vectorizer (which is what
        // turns the stdlib's per-lane SIMD loops into vector code) scalarize
        // half of the polynomial.
        y = y * (f * z)

        // e * ln2 with ln2 split as in exp: the small part is added to the
        // small terms first and the exact e * c1 last, so the big term does
        // not swamp the low-order bits.
        let c1: Float = 0.693359375
        let c2: Float = -2.12194440e-4
        let half: Float = 0.5
        y = y + fe * c2
        y = y - z * half
        return (f + y) + fe * c1
    }

    // MARK: - log1p

    /// log(1 + x), accurate for tiny x. log1p(-1) = -inf, x < -1 -> NaN,
    /// +inf -> +inf, ±0 -> ±0, NaN -> NaN.
    @inlinable @inline(__always)
    static func log1p(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // u = 1 + x loses the low bits of x, but d = u - 1 is exact and
        // log(u) / d equals log(1 + x) / x to first order, so scaling by
        // x / d restores the lost bits (Goldberg's trick). x / d is formed
        // first so huge x cannot overflow log(u) * x.
        let u = 1 + x
        let d = u - 1
        var r = log(u) * (x / d)
        r = r.replacing(with: x, where: d .== 0)
        r = r.replacing(with: .infinity, where: x .== .infinity)
        return r
    }

    // MARK: - sin / cos

    /// sin(x). Absolute error below 2e-7 for |x| <= 8192 (Cephes sinf
    /// reduction); lanes with |x| > 8192 or ±inf are recomputed with the
    /// libm double-precision sin so they stay correct. NaN -> NaN.
    @inlinable @inline(__always)
    static func sin(_ x: SIMD8<Float>) -> SIMD8<Float> { _sinOrCos(x, cosine: false) }

    /// cos(x). Absolute error below 2e-7 for |x| <= 8192; lanes with
    /// |x| > 8192 or ±inf use libm's double-precision cos. NaN -> NaN.
    @inlinable @inline(__always)
    static func cos(_ x: SIMD8<Float>) -> SIMD8<Float> { _sinOrCos(x, cosine: true) }

    @inlinable @inline(__always)
    static func _sinOrCos(_ x: SIMD8<Float>, cosine: Bool) -> SIMD8<Float> {
        let t = _octant(x)
        var res = cosine ? t.cosine : t.sine
        if any(t.ax .> 8192) {
            res = _largeLanes(x, res, cosine: cosine)
        }
        return res
    }

    /// sin(x) and cos(x) from one argument reduction and one evaluation of both polynomials (each
    /// of `sin` and `cos` evaluates both anyway): bit for bit what they return.
    @inlinable @inline(__always)
    static func sinCos(_ x: SIMD8<Float>) -> (sin: SIMD8<Float>, cos: SIMD8<Float>) {
        let t = _octant(x)
        var (s, c) = (t.sine, t.cosine)
        if any(t.ax .> 8192) {
            s = _largeLanes(x, s, cosine: false)
            c = _largeLanes(x, c, cosine: true)
        }
        return (s, c)
    }

    /// sin(x) and cos(x) for |x| <= 8192 from one reduction to an octant and both polynomials;
    /// `ax` = |x| tells the callers which lanes need `_largeLanes`.
    @inlinable @inline(__always)
    static func _octant(_ x: SIMD8<Float>) -> (sine: SIMD8<Float>, cosine: SIMD8<Float>, ax: SIMD8<Float>) {
        let xb = unsafeBitCast(x, to: SIMD8<Int32>.self)
        let ax = unsafeBitCast(xb & 0x7FFF_FFFF, to: SIMD8<Float>.self)
        let (r, j) = _reduceQuarterPi(ax)
        let z = r * r
        let ps = _sinPoly(r, z)
        let pc = _cosPoly(z)
        // Octants 2 and 6 (j & 2) are the cosine quadrants of sin; 4 and 6 (j & 4) flip its sign,
        // and sin is odd, so the input sign is xored in as well. cos(jπ/4 + r) for j = 0, 2, 4, 6
        // is cos r, -sin r, -cos r, sin r: the sine polynomial where j & 2, negative where (j + 2) & 4.
        let swapPolynomials = (j & 2) .!= SIMD8<Int32>(repeating: 0)
        let sSign = ((j & 4) &<< 29) ^ (xb & Int32.min)
        let cSign = ((j &+ 2) & 4) &<< 29
        let s = ps.replacing(with: pc, where: swapPolynomials)
        let c = pc.replacing(with: ps, where: swapPolynomials)
        return (unsafeBitCast(unsafeBitCast(s, to: SIMD8<Int32>.self) ^ sSign, to: SIMD8<Float>.self),
                unsafeBitCast(unsafeBitCast(c, to: SIMD8<Int32>.self) ^ cSign, to: SIMD8<Float>.self),
                ax)
    }

    /// Reduces ax >= 0 to r = ax - jπ/4 with j even and |r| <= π/4 (up to
    /// rounding of ax * 4/π, which only moves r a hair past π/4, where the
    /// polynomials are still accurate). Meaningful for ax <= 8192.
    @inlinable @inline(__always)
    static func _reduceQuarterPi(_ ax: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Int32>) {
        // Cephes takes j = floor(ax * 4/π) and bumps odd j to the next even
        // value; that is the same as rounding ax * 2/π to the nearest integer
        // (only exact ties may differ, and either choice gives |r| = π/4),
        // which the magic-number add does without a floor instruction.
        let fourOverPi: Float = 1.27323954473516
        let half: Float = 0.5
        let magic: Float = 12_582_912  // 1.5 * 2^23
        let t = ax * fourOverPi * half + magic
        let q = t - magic
        let j = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000) &<< 1
        let jf = q + q

        // π/4 split into three parts (Cody-Waite). DP1 has 8 and DP2 11
        // significant bits, so jf * DP1 and jf * DP2 are exact for
        // jf <= 16384 (|x| <= 8192 gives jf <= 10432) and ax - jf * DP1 is
        // exact by Sterbenz: all rounding happens after the big cancellation,
        // on numbers of size π/4, so r is good to about an ulp. Past Cephes'
        // limit of 8192 the products stop being exact and the truncation of
        // π/4 to three floats grows with j, hence the libm fallback there.
        let dp1: Float = 0.78515625
        let dp2: Float = 2.4187564849853515625e-4
        let dp3: Float = 3.77489497744594108e-8
        var r = ax - jf * dp1
        r = r - jf * dp2
        r = r - jf * dp3
        return (r, j)
    }

    /// Cephes sinf polynomial: sin r on |r| <= π/4, z = r * r.
    @inlinable @inline(__always)
    static func _sinPoly(_ r: SIMD8<Float>, _ z: SIMD8<Float>) -> SIMD8<Float> {
        let s0: Float = -1.9515295891e-4
        let s1: Float = 8.3321608736e-3
        let s2: Float = -1.6666654611e-1
        var p = z * s0 + s1
        p = p * z + s2
        return p * z * r + r
    }

    /// Cephes cosf polynomial: cos r on |r| <= π/4, z = r * r.
    @inlinable @inline(__always)
    static func _cosPoly(_ z: SIMD8<Float>) -> SIMD8<Float> {
        let k0: Float = 2.443315711809948e-5
        let k1: Float = -1.388731625493765e-3
        let k2: Float = 4.166664568298827e-2
        let half: Float = 0.5
        var p = z * k0 + k1
        p = p * z + k2
        p = p * z * z
        p = p - z * half
        return p + 1
    }

    /// Rare path: lanes with |x| > 8192 (including ±inf) need a reduction
    /// with more bits of π than the three-part split has, so they are
    /// recomputed in double precision by libm. Only those lanes are touched,
    /// keeping every lane a function of its own input alone. Kept out of line
    /// so the hot inlined code stays small.
    @usableFromInline @inline(never)
    static func _largeLanes(_ x: SIMD8<Float>, _ computed: SIMD8<Float>, cosine: Bool) -> SIMD8<Float> {
        var out = computed
        for i in 0..<8 where x[i].magnitude > 8192 {
            let d = Double(x[i])
            #if canImport(Glibc)
            out[i] = Float(cosine ? Glibc.cos(d) : Glibc.sin(d))
            #elseif canImport(Musl)
            out[i] = Float(cosine ? Musl.cos(d) : Musl.sin(d))
            #elseif canImport(Darwin)
            out[i] = Float(cosine ? Darwin.cos(d) : Darwin.sin(d))
            #endif
        }
        return out
    }

    // MARK: - tanh

    /// tanh(x). Relative error below 1e-6 everywhere (exact for tiny and
    /// subnormal x); tanh(±inf) = ±1, saturates to ±1 for |x| >~ 9; keeps the
    /// sign of ±0; NaN -> NaN.
    @inlinable @inline(__always)
    static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let xb = unsafeBitCast(x, to: SIMD8<Int32>.self)
        let ax = unsafeBitCast(xb & 0x7FFF_FFFF, to: SIMD8<Float>.self)

        // Below 0.625 the exp form 1 - 2/(e^2x + 1) cancels badly, so Cephes
        // uses an odd minimax polynomial there.
        let t0: Float = -5.70498872745e-3
        let t1: Float = 2.06390887954e-2
        let t2: Float = -5.37397155531e-2
        let t3: Float = 1.33314422036e-1
        let t4: Float = -3.33332819422e-1
        let s = ax * ax
        var p = s * t0 + t1
        p = p * s + t2
        p = p * s + t3
        p = p * s + t4
        let small = p * s * ax + ax

        // For large |x| e^2|x| overflows to inf and 2/inf = 0 gives exactly 1.
        let two: Float = 2
        let e = exp(ax + ax)
        let large = 1 - two / (e + 1)

        // Computing on |x| and restoring the sign bit keeps tanh exactly odd
        // (including tanh(-0) = -0).
        let res = small.replacing(with: large, where: ax .>= 0.625)
        let out = unsafeBitCast(res, to: SIMD8<Int32>.self) | (xb & Int32.min)
        return unsafeBitCast(out, to: SIMD8<Float>.self)
    }

    // MARK: - sigmoid

    /// 1 / (1 + exp(-x)), evaluated as e / (1 + e) for x < 0 and
    /// 1 / (1 + e) for x >= 0 with e = exp(-|x|): the same value, but e never
    /// overflows, so large negative x gives a correctly tiny result (down to
    /// subnormals) instead of 1/inf. sigmoid(-inf) = 0, sigmoid(inf) = 1,
    /// NaN -> NaN.
    @inlinable @inline(__always)
    static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        _sigmoid(x, expNegativeAbs: exp(-_abs(x)))
    }

    /// sigmoid(x) from e = exp(-|x|) already computed (the fused logistic loss shares it).
    @inlinable @inline(__always)
    static func _sigmoid(_ x: SIMD8<Float>, expNegativeAbs e: SIMD8<Float>) -> SIMD8<Float> {
        e.replacing(with: 1, where: x .>= 0) / (1 + e)
    }

    /// |x| by clearing the sign bit (NaN stays NaN).
    @inlinable @inline(__always)
    static func _abs(_ x: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<Int32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }

    // MARK: - softplus

    /// log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)): never overflows,
    /// softplus(x) = x for large x, = exp(x) for very negative x (down to
    /// subnormals, 0 below -103.97). softplus(inf) = inf,
    /// softplus(-inf) = 0, NaN -> NaN.
    @inlinable @inline(__always)
    static func softplus(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let e = exp(-_abs(x))
        return x.replacing(with: 0, where: x .< 0) + _log1pSmall(e)
    }

    /// softplus(x) and sigmoid(x), its derivative, from one exp(-|x|): bit for bit `softplus` and
    /// `sigmoid`. A recorded softplus keeps the sigmoid for its backward pass.
    @inlinable @inline(__always)
    static func softplusAndSigmoid(_ x: SIMD8<Float>) -> (softplus: SIMD8<Float>, sigmoid: SIMD8<Float>) {
        let e = exp(-_abs(x))
        return (x.replacing(with: 0, where: x .< 0) + _log1pSmall(e), _sigmoid(x, expNegativeAbs: e))
    }

    /// log1p(e) for e in [0, 1] (e = exp(-|x|) in softplus and the fused logistic loss), written out
    /// with the bare log core rather than calling log1p: u = 1 + e is in [1, 2], so none of log's
    /// special cases apply, and the full log1p -> log nest pushes softplus past the SIL inliner's
    /// caller size limit (it would stay an out-of-line call). The factor e / (u - 1) corrects for
    /// the rounding of 1 + e.
    // Transparent: with @inline(__always) alone it stayed an out-of-line call (past the SIL inliner's
    // size limit for its callers), passing its vectors through memory at ~2x the inlined cost.
    @_transparent @usableFromInline
    static func _log1pSmall(_ e: SIMD8<Float>) -> SIMD8<Float> {
        let u = 1 + e
        let d = u - 1
        // u is in [1, 2], so the reduction to [sqrt(1/2), sqrt(2)) is one select in floats: halve u
        // from sqrt(2) up. Bit for bit what _logCore's integer steps give, which the SLP vectorizer
        // left partly scalar here, and the lanes stored one by one stalled the vector loads after
        // them (the fused logistic loss on 500 elements: 4.4 us per call before, 2.6-2.9 after).
        let upper = u .>= Float(bitPattern: 0x3FB5_04F3)
        let f = d.replacing(with: u * 0.5 - 1, where: upper)
        let fe = SIMD8<Float>(repeating: 0).replacing(with: 1, where: upper)
        return (_logOf(f, exponent: fe) * (e / d)).replacing(with: e, where: d .== 0)
    }

    // MARK: - Scalar overloads
    //
    // These run the vector code on a splat and return lane 0, so a loop's
    // scalar tail produces exactly the bits its SIMD body would.

    @inlinable @inline(__always)
    static func exp(_ x: Float) -> Float { exp(SIMD8<Float>(repeating: x))[0] }

    @inlinable @inline(__always)
    static func log(_ x: Float) -> Float { log(SIMD8<Float>(repeating: x))[0] }

    @inlinable @inline(__always)
    static func log1p(_ x: Float) -> Float { log1p(SIMD8<Float>(repeating: x))[0] }

    @inlinable @inline(__always)
    static func sin(_ x: Float) -> Float { sin(SIMD8<Float>(repeating: x))[0] }

    @inlinable @inline(__always)
    static func cos(_ x: Float) -> Float { cos(SIMD8<Float>(repeating: x))[0] }

    @inlinable @inline(__always)
    static func tanh(_ x: Float) -> Float { tanh(SIMD8<Float>(repeating: x))[0] }

    @inlinable @inline(__always)
    static func sigmoid(_ x: Float) -> Float { sigmoid(SIMD8<Float>(repeating: x))[0] }

    @inlinable @inline(__always)
    static func softplus(_ x: Float) -> Float { softplus(SIMD8<Float>(repeating: x))[0] }
}
