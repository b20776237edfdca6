import Foundation
import Testing

@testable import BettyTensor

// Accuracy tests for the SIMD8 transcendental kernels in VectorMath. Every
// reference value is computed in Double with Foundation's libm, which is far
// more accurate than the Float32 result being checked.

// MARK: - Helpers

/// Deterministic input generator (64-bit LCG), so failures reproduce.
private struct LCG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    mutating func uniform(_ lo: Double, _ hi: Double) -> Float { Float(lo + (hi - lo) * unit()) }
}

/// `count` points evenly spread over [lo, hi] (both ends included).
private func grid(_ lo: Double, _ hi: Double, _ count: Int) -> [Float] {
    (0..<count).map { Float(lo + (hi - lo) * Double($0) / Double(count - 1)) }
}

/// `count` points log-uniform over [lo, hi] (lo > 0), both ends included.
private func logGrid(_ lo: Double, _ hi: Double, _ count: Int) -> [Float] {
    let a = Foundation.log(lo), b = Foundation.log(hi)
    return (0..<count).map { Float(Foundation.exp(a + (b - a) * Double($0) / Double(count - 1))) }
}

/// x and its `k` float neighbours on each side.
private func around(_ x: Float, _ k: Int = 2) -> [Float] {
    var out = [x]
    var up = x, down = x
    for _ in 0..<k {
        up = up.nextUp
        down = down.nextDown
        out.append(up)
        out.append(down)
    }
    return out
}

/// Runs the SIMD8 kernel over `xs` (tail padded by repeating the last
/// input), and checks on every element that the scalar overload returns the
/// very same bits as the vector lane. Returns the vector results.
private func evaluate(
    _ xs: [Float],
    _ vector: (SIMD8<Float>) -> SIMD8<Float>,
    _ scalar: (Float) -> Float,
    sourceLocation: SourceLocation = #_sourceLocation
) -> [Float] {
    precondition(!xs.isEmpty)
    var out = [Float]()
    out.reserveCapacity(xs.count)
    var mismatches = 0
    var firstMismatch: (Float, Float, Float)?
    var i = 0
    while i < xs.count {
        var v = SIMD8<Float>(repeating: xs[xs.count - 1])
        for lane in 0..<8 where i + lane < xs.count { v[lane] = xs[i + lane] }
        let r = vector(v)
        for lane in 0..<8 where i + lane < xs.count {
            let s = scalar(v[lane])
            if s.bitPattern != r[lane].bitPattern {
                mismatches += 1
                if firstMismatch == nil { firstMismatch = (v[lane], r[lane], s) }
            }
            out.append(r[lane])
        }
        i += 8
    }
    #expect(
        mismatches == 0,
        "scalar overload differs from SIMD lane for \(mismatches) inputs; first (x, simd, scalar) = \(String(describing: firstMismatch))",
        sourceLocation: sourceLocation)
    return out
}

/// Largest error over a sweep, with the input that produced it.
private struct MaxError: CustomStringConvertible {
    var error = 0.0
    var x: Float = 0
    var got: Float = 0
    var ref = 0.0
    var count = 0

    mutating func add(x: Float, got: Float, ref: Double, error e: Double) {
        count += 1
        // NaN error (e.g. NaN result for a finite reference) must count as worst.
        if e > error || e.isNaN && !error.isNaN {
            error = e.isNaN ? .infinity : e
            self.x = x
            self.got = got
            self.ref = ref
        }
    }
    var description: String {
        "max error \(error) at x = \(x) (bits 0x\(String(x.bitPattern, radix: 16))): got \(got), reference \(ref), over \(count) points"
    }
}

/// Relative error |got - ref| / |ref| over a sweep; the reference must be
/// non-zero and finite (the callers pick domains where it is).
private func maxRelativeError(
    _ xs: [Float], _ got: [Float], _ ref: (Double) -> Double
) -> MaxError {
    var m = MaxError()
    for (x, g) in zip(xs, got) {
        let r = ref(Double(x))
        m.add(x: x, got: g, ref: r, error: Swift.abs(Double(g) - r) / Swift.abs(r))
    }
    return m
}

private func maxAbsoluteError(
    _ xs: [Float], _ got: [Float], _ ref: (Double) -> Double
) -> MaxError {
    var m = MaxError()
    for (x, g) in zip(xs, got) {
        let r = ref(Double(x))
        m.add(x: x, got: g, ref: r, error: Swift.abs(Double(g) - r))
    }
    return m
}

/// Smallest subnormal, as a Double: one ulp anywhere in the subnormal range.
private let subnormalULP = Double(Float.leastNonzeroMagnitude)

/// Checks `f(x)` for specific inputs against exact expected values (bitwise,
/// so the sign of zero counts; any NaN matches NaN).
private func expectExact(
    _ cases: [(Float, Float)],
    _ vector: (SIMD8<Float>) -> SIMD8<Float>,
    _ scalar: (Float) -> Float,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let got = evaluate(cases.map(\.0), vector, scalar, sourceLocation: sourceLocation)
    for ((x, want), g) in zip(cases, got) {
        let ok = want.isNaN ? g.isNaN : g.bitPattern == want.bitPattern
        #expect(ok, "f(\(x)) = \(g), expected \(want)", sourceLocation: sourceLocation)
    }
}

// MARK: - Tests

@Suite("VectorMath")
struct VectorMathTests {
    // MARK: exp

    @Test func expAccuracy() {
        var rng = LCG(seed: 1)
        var xs = grid(-87, 88, 200_000)
        xs += (0..<50_000).map { _ in rng.uniform(-87, 88) }
        xs += logGrid(1e-30, 1, 2_000) + logGrid(1e-30, 1, 2_000).map { -$0 }
        // Where round(x / ln2) steps from k to k + 1 (range-reduction seams).
        for k in -125...127 { xs += around(Float((Double(k) + 0.5) * M_LN2)) }
        xs = xs.filter { $0 >= -87 && $0 <= 88 }
        let got = evaluate(xs, VectorMath.exp, VectorMath.exp)
        let m = maxRelativeError(xs, got) { Foundation.exp($0) }
        // 2e-7 relative is 1.7-3.4 ulp of a Float32 result: a few roundings' worth,
        // far below what float32 training or inference can resolve.
        #expect(m.error <= 2e-7, "\(m)")
    }

    @Test func expSubnormalRangeAndSpecials() {
        // Results in (0, FLT_MIN): subnormal, must match the reference within one
        // subnormal ulp (the kernel rounds once, so it is correctly rounded up to
        // a hair); one subnormal ulp is the resolution of Float32 there.
        let xs = grid(-103.97, -87.34, 20_000)
        let got = evaluate(xs, VectorMath.exp, VectorMath.exp)
        let m = maxAbsoluteError(xs, got) { Foundation.exp($0) }
        #expect(m.error <= subnormalULP, "\(m)")

        let lastFinite = Float(bitPattern: 0x42B1_7217)  // 88.7228317: exp is just below FLT_MAX
        expectExact(
            [
                (0, 1), (-0.0, 1), (1e-30, 1), (-1e-30, 1),
                (lastFinite.nextUp, .infinity), (89, .infinity), (1000, .infinity), (.infinity, .infinity),
                (-103.98, 0), (-104, 0), (-1000, 0), (-.infinity, 0), (.nan, .nan),
            ], VectorMath.exp, VectorMath.exp)
        let big = VectorMath.exp(lastFinite)
        #expect(big.isFinite && big > 3.4e38, "exp(\(lastFinite)) = \(big)")
        #expect(VectorMath.exp(Float(-103.2)) > 0, "smallest subnormal region must not flush")
    }

    // MARK: log

    @Test func logAccuracy() {
        var rng = LCG(seed: 2)
        // Log-uniform across all positive normals, dense [0.5, 2], and 1 +- few ulps.
        var xs = (0..<200_000).map { _ in Float(Foundation.exp2(-126 + 254 * rng.unit())) }
        xs += grid(0.5, 2, 100_000)
        for k in 1...1_000 {
            xs.append(Float(1 + Double(k) * 0x1p-23))
            xs.append(Float(1 - Double(k) * 0x1p-24))
        }
        // Seam where the mantissa split switches from f = m - 1 to f = 2m - 1.
        for e in -10...10 { xs += around(Float(Foundation.sqrt(0.5) * Foundation.exp2(Double(e))), 3) }
        xs += [Float.leastNormalMagnitude, .greatestFiniteMagnitude, 1, 2, 0.5]
        // Subnormal inputs are handled exactly, not flushed: check them too.
        xs += (0..<5_000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next() >> 41) | 1) }
        xs += [Float.leastNonzeroMagnitude, Float.leastNormalMagnitude.nextDown]
        xs = xs.filter { $0 > 0 && $0 != 1 }
        let got = evaluate(xs, VectorMath.log, VectorMath.log)
        let m = maxRelativeError(xs, got) { Foundation.log($0) }
        // 3e-7 relative is <= 2.5 ulp of a Float32 result; log(x) is only ~1 ulp off.
        #expect(m.error <= 3e-7, "\(m)")
        #expect(VectorMath.log(Float(1)) == 0)
    }

    @Test func logSpecials() {
        expectExact(
            [
                (0, -.infinity), (-0.0, -.infinity), (-1, .nan), (-Float.leastNonzeroMagnitude, .nan),
                (-.infinity, .nan), (.infinity, .infinity), (.nan, .nan), (1, 0),
            ], VectorMath.log, VectorMath.log)
    }

    // MARK: log1p

    /// `_log1pSmall` reduces 1 + e to [sqrt(1/2), sqrt(2)) with a float select instead of the integer
    /// steps of `_logCore`: the two must agree bit for bit on [0, 1], above all around the switch
    /// at 1 + e = sqrt(2) and at e = 1.
    @Test func log1pSmallMatchesTheIntegerReduction() {
        var inputs: [Float] = [0, 1, Float.leastNonzeroMagnitude, 1e-30, 1e-8, 0.5, 0.999999]
        let switchPoint = Float(bitPattern: 0x3FB5_04F3) - 1
        var e = switchPoint
        for _ in 0..<64 { e = e.nextDown }
        for _ in 0..<128 { inputs.append(e); e = e.nextUp }
        var lcg = LCG(seed: 11)
        for _ in 0..<4096 { inputs.append(lcg.uniform(0, 1)) }
        for chunk in stride(from: 0, to: inputs.count - 7, by: 8) {
            let v = SIMD8<Float>(inputs[chunk..<chunk + 8])
            let u = 1 + v, d = u - 1
            let integer = (VectorMath._logCore(u, exponentBias: SIMD8<Float>(repeating: 0)) * (v / d)).replacing(with: v, where: d .== 0)
            let float = VectorMath._log1pSmall(v)
            for lane in 0..<8 {
                #expect(float[lane].bitPattern == integer[lane].bitPattern, "e = \(v[lane]): \(float[lane]) vs \(integer[lane])")
            }
        }
    }

    @Test func log1pAccuracy() {
        var rng = LCG(seed: 3)
        // |x| in [1e-10, 1] on both sides, where naive log(1 + x) fails.
        var xs = logGrid(1e-10, 1, 100_000)
        xs += logGrid(1e-10, 1, 100_000).map { -$0 }
        xs += (0..<20_000).map { _ in rng.uniform(-0.9999999, 1e6) }
        xs += logGrid(1, 1e38, 10_000)
        // Near -1 (1 + x exact, tiny) and where 1 + x just stops rounding to 1.
        xs += (1...200).map { -1 + Float($0) * 0x1p-24 }
        xs += around(0x1p-24, 3) + around(-0x1p-25, 3) + around(0x1p-23, 3)
        xs = xs.filter { $0 > -1 && $0 != 0 }
        let got = evaluate(xs, VectorMath.log1p, VectorMath.log1p)
        let m = maxRelativeError(xs, got) { Foundation.log1p($0) }
        // 5e-7 relative (~4 ulp) covers log's error plus the x / (u - 1) rescale.
        #expect(m.error <= 5e-7, "\(m)")

        // Below 2^-25, 1 + x rounds to 1 and log1p(x) = x - x^2/2 rounds to x.
        let tiny: [Float] = [1e-10, -1e-10, 1e-30, -1e-30, Float.leastNonzeroMagnitude, 0x1p-26]
        expectExact(tiny.map { ($0, $0) }, VectorMath.log1p, VectorMath.log1p)
    }

    @Test func log1pSpecials() {
        expectExact(
            [
                (0, 0), (-0.0, -0.0), (-1, -.infinity), (-1.5, .nan), (-.infinity, .nan),
                (.infinity, .infinity), (.nan, .nan),
            ], VectorMath.log1p, VectorMath.log1p)
        let big = VectorMath.log1p(Float.greatestFiniteMagnitude)
        #expect(Swift.abs(Double(big) - Foundation.log(Double(Float.greatestFiniteMagnitude))) < 1e-5)
    }

    // MARK: sin / cos

    private static func trigInputs() -> [Float] {
        var rng = LCG(seed: 4)
        var xs = grid(-8192, 8192, 200_000)
        xs += (0..<50_000).map { _ in rng.uniform(-8192, 8192) }
        xs += grid(-4 * Double.pi, 4 * Double.pi, 50_000)
        xs += logGrid(1e-30, 1, 2_000) + logGrid(1e-30, 1, 2_000).map { -$0 }
        // Multiples of pi/4: octant seams of the range reduction.
        for k in stride(from: -10_430, through: 10_430, by: 1) {
            xs += around(Float(Double(k) * Double.pi / 4), 1)
        }
        return xs.filter { Swift.abs($0) <= 8192 }
    }

    @Test func sinAccuracy() {
        let xs = Self.trigInputs()
        let got = evaluate(xs, VectorMath.sin, VectorMath.sin)
        let m = maxAbsoluteError(xs, got) { Foundation.sin($0) }
        // 2e-7 absolute is ~3 half-ulps of Float32 values near 1 (ulp 6e-8 .. 1.2e-7);
        // any Float32 reduction of an argument up to 8192 carries error of this size.
        #expect(m.error <= 2e-7, "\(m)")
    }

    @Test func cosAccuracy() {
        let xs = Self.trigInputs()
        let got = evaluate(xs, VectorMath.cos, VectorMath.cos)
        let m = maxAbsoluteError(xs, got) { Foundation.cos($0) }
        // Same 2e-7 absolute bound and reasoning as sin.
        #expect(m.error <= 2e-7, "\(m)")
    }

    /// `paired` must give, lane for lane, exactly the bits of `first` and `second` over `xs`.
    private func expectPairedBits(_ xs: [Float], _ names: (String, String),
                                  _ paired: (SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>),
                                  _ first: (SIMD8<Float>) -> SIMD8<Float>, _ second: (SIMD8<Float>) -> SIMD8<Float>) {
        for start in stride(from: 0, to: xs.count, by: 8) {
            var lanes = SIMD8<Float>(repeating: 0)
            for k in 0..<8 { lanes[k] = xs[(start + k) % xs.count] }
            let (u, v) = paired(lanes)
            let (u1, v1) = (first(lanes), second(lanes))
            for k in 0..<8 {
                #expect(u[k].bitPattern == u1[k].bitPattern, "\(names.0)(\(lanes[k]))")
                #expect(v[k].bitPattern == v1[k].bitPattern, "\(names.1)(\(lanes[k]))")
            }
        }
    }

    /// The one-pass sine and cosine the recorded `sin`/`cos` use must give exactly the bits of
    /// `sin` and `cos`: a backward pass multiplies by the saved value instead of recomputing it.
    @Test func sinCosGivesTheBitsOfSinAndCos() {
        var rng = LCG(seed: 9)
        var xs = Self.trigInputs()
        xs += [0, -0.0, .infinity, -.infinity, .nan, 8192, Float(8192).nextUp, -1e5, 3.4e38, Float.leastNormalMagnitude / 4]
        xs += (0..<500).map { _ in Float(Foundation.exp2(13 + 114 * rng.unit())) * (rng.unit() < 0.5 ? -1 : 1) }
        expectPairedBits(xs, ("sin", "cos"), { VectorMath.sinCos($0) }, { VectorMath.sin($0) }, { VectorMath.cos($0) })
    }

    /// softplus and sigmoid from one exp(-|x|) must give exactly `softplus` and `sigmoid`.
    @Test func softplusAndSigmoidGivesTheBitsOfEach() {
        let xs = grid(-120, 120, 4_001) + [0, -0.0, .infinity, -.infinity, .nan, 1e-30, -1e-30, 88.7, -103.9]
        expectPairedBits(xs, ("softplus", "sigmoid"), { VectorMath.softplusAndSigmoid($0) },
                         { VectorMath.softplus($0) }, { VectorMath.sigmoid($0) })
    }

    @Test func sinCosLargeArgumentsAndSpecials() {
        var rng = LCG(seed: 5)
        var xs: [Float] = [Float(8192).nextUp, -Float(8192).nextUp, 8193, 1e4, -1e5, 123_456.7, 1e10, -3e20, 1e30, 3.4e38]
        xs += (0..<2_000).map { _ in Float(Foundation.exp2(13 + 114 * rng.unit())) * (rng.unit() < 0.5 ? -1 : 1) }
        // Past 8192 lanes go through libm's double sin/cos: correctly rounded to
        // within a hair, so 1e-7 absolute (< 1 ulp at 1) is generous.
        let s = evaluate(xs, VectorMath.sin, VectorMath.sin)
        let ms = maxAbsoluteError(xs, s) { Foundation.sin($0) }
        #expect(ms.error <= 1e-7, "\(ms)")
        let c = evaluate(xs, VectorMath.cos, VectorMath.cos)
        let mc = maxAbsoluteError(xs, c) { Foundation.cos($0) }
        #expect(mc.error <= 1e-7, "\(mc)")

        expectExact(
            [(0, 0), (-0.0, -0.0), (.infinity, .nan), (-.infinity, .nan), (.nan, .nan)],
            VectorMath.sin, VectorMath.sin)
        expectExact(
            [(0, 1), (-0.0, 1), (.infinity, .nan), (-.infinity, .nan), (.nan, .nan)],
            VectorMath.cos, VectorMath.cos)

        // A vector mixing small, large and special lanes: each lane must come out
        // exactly as if computed alone (the slow path touches only its own lanes).
        let mixed = SIMD8<Float>(1, 1e5, -2, .infinity, 0.5, 9000, .nan, 8192)
        let sv = VectorMath.sin(mixed), cv = VectorMath.cos(mixed)
        for i in 0..<8 {
            #expect(sv[i].bitPattern == VectorMath.sin(mixed[i]).bitPattern, "sin lane \(i)")
            #expect(cv[i].bitPattern == VectorMath.cos(mixed[i]).bitPattern, "cos lane \(i)")
        }
    }

    // MARK: tanh

    @Test func tanhAccuracy() {
        var rng = LCG(seed: 6)
        var xs = grid(-10, 10, 200_000)
        xs += (0..<20_000).map { _ in rng.uniform(-20, 20) }
        // Tiny |x| (odd polynomial branch) down to subnormals, both signs.
        let tiny = logGrid(1e-40, 0.625, 20_000)
        xs += tiny + tiny.map { -$0 }
        // Seam between the polynomial and the exp form.
        xs += around(0.625, 4) + around(-0.625, 4)
        xs = xs.filter { $0 != 0 }
        let got = evaluate(xs, VectorMath.tanh, VectorMath.tanh)
        let m = maxRelativeError(xs, got) { Foundation.tanh($0) }
        // 1e-6 relative is ~8 ulp of Float32: the contract for activations, which is
        // well under the noise of float32 training.
        #expect(m.error <= 1e-6, "\(m)")
    }

    @Test func tanhSpecials() {
        expectExact(
            [
                (0, 0), (-0.0, -0.0), (.infinity, 1), (-.infinity, -1), (.nan, .nan),
                (10, 1), (-10, -1), (50, 1), (-50, -1), (100, 1), (1e30, 1), (-1e30, -1),
                (Float.greatestFiniteMagnitude, 1), (Float.leastNonzeroMagnitude, Float.leastNonzeroMagnitude),
            ], VectorMath.tanh, VectorMath.tanh)
    }

    // MARK: sigmoid

    @Test func sigmoidAccuracy() {
        var rng = LCG(seed: 7)
        var xs = grid(-87.3, 80, 200_000)
        xs += (0..<20_000).map { _ in rng.uniform(-87.3, 80) }
        xs += logGrid(1e-30, 1, 2_000) + logGrid(1e-30, 1, 2_000).map { -$0 }
        let got = evaluate(xs, VectorMath.sigmoid, VectorMath.sigmoid)
        let m = maxRelativeError(xs, got) { 1 / (1 + Foundation.exp(-$0)) }
        // 1e-6 relative (~8 ulp of Float32) for all normal results (x >= -87.3),
        // including the tail sigmoid(x) ~ e^x that 1 / (1 + exp(-x)) would lose.
        #expect(m.error <= 1e-6, "\(m)")

        // Below -87.3 the result is subnormal: within one subnormal ulp, never NaN.
        let deep = grid(-103.9, -87.34, 5_000)
        let g2 = evaluate(deep, VectorMath.sigmoid, VectorMath.sigmoid)
        let m2 = maxAbsoluteError(deep, g2) { 1 / (1 + Foundation.exp(-$0)) }
        #expect(m2.error <= subnormalULP, "\(m2)")
    }

    @Test func sigmoidSpecials() {
        expectExact(
            [
                (0, 0.5), (-0.0, 0.5), (.infinity, 1), (-.infinity, 0), (.nan, .nan),
                (100, 1), (1e30, 1), (-200, 0), (-1e30, 0), (Float.greatestFiniteMagnitude, 1),
                (-Float.greatestFiniteMagnitude, 0),
            ], VectorMath.sigmoid, VectorMath.sigmoid)
    }

    // MARK: softplus

    @Test func softplusAccuracy() {
        var rng = LCG(seed: 8)
        var xs = grid(-87, 100, 200_000)
        xs += (0..<20_000).map { _ in rng.uniform(-87, 100) }
        xs += logGrid(1e-30, 1, 2_000) + logGrid(1e-30, 1, 2_000).map { -$0 }
        xs += logGrid(100, 1e38, 2_000)
        let reference: (Double) -> Double = { x in
            Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
        }
        let got = evaluate(xs, VectorMath.softplus, VectorMath.softplus)
        let m = maxRelativeError(xs, got, reference)
        // 1e-6 relative (~8 ulp of Float32) everywhere the result is a normal float.
        #expect(m.error <= 1e-6, "\(m)")

        // softplus(x) ~ e^x becomes subnormal below -87.3: within one subnormal
        // ulp, and > 0 until e^x itself rounds to 0.
        let deep = grid(-103.9, -87.34, 5_000)
        let g2 = evaluate(deep, VectorMath.softplus, VectorMath.softplus)
        let m2 = maxAbsoluteError(deep, g2, reference)
        #expect(m2.error <= subnormalULP, "\(m2)")
        #expect(VectorMath.softplus(Float(-103)) > 0)
    }

    @Test func softplusSpecials() {
        expectExact(
            [
                (.infinity, .infinity), (-.infinity, 0), (.nan, .nan), (100, 100), (1e30, 1e30),
                (Float.greatestFiniteMagnitude, Float.greatestFiniteMagnitude), (-200, 0), (-1e30, 0),
            ], VectorMath.softplus, VectorMath.softplus)
        #expect(Swift.abs(VectorMath.softplus(Float(0)) - Float(M_LN2)) <= Float(M_LN2).ulp)
    }
}
