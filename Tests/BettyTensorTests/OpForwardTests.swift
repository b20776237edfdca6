import Foundation
import Testing
import BettyTensor
import _TestSupport

// Forward values of every operation, against hand-computed numbers or a naive reference computed
// here element by element (in Float where the library does one IEEE operation per element, so the
// comparison is exact; in Double where it accumulates or calls a transcendental).

// MARK: - Naive references

/// Index arithmetic and loops written the obvious way, independent of the library's kernels.
private enum FwdRef {
    static func strides(_ dims: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: dims.count)
        var acc = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) { s[i] = acc; acc *= dims[i] }
        return s
    }

    static func multiIndex(_ flat: Int, _ dims: [Int]) -> [Int] {
        var rest = flat
        var idx = [Int](repeating: 0, count: dims.count)
        for i in stride(from: dims.count - 1, through: 0, by: -1) where dims[i] > 0 {
            idx[i] = rest % dims[i]
            rest /= dims[i]
        }
        return idx
    }

    static func flatIndex(_ idx: [Int], _ dims: [Int]) -> Int {
        zip(idx, strides(dims)).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// NumPy's broadcast rule, written independently of the library.
    static func broadcastDims(_ a: [Int], _ b: [Int]) -> [Int] {
        let r = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: r - a.count) + a, pb = [Int](repeating: 1, count: r - b.count) + b
        return zip(pa, pb).map { max($0, $1) }
    }

    /// The element of a tensor of shape `dims` that lands at `outIdx` once broadcast.
    static func sourceIndex(_ outIdx: [Int], _ dims: [Int]) -> Int {
        let offset = outIdx.count - dims.count
        let idx = dims.indices.map { dims[$0] == 1 ? 0 : outIdx[$0 + offset] }
        return flatIndex(idx, dims)
    }

    /// `f(a, b)` elementwise with broadcasting, in Float (one operation per element).
    static func broadcast(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> (dims: [Int], values: [Float]) {
        let ad = Array(a.shape), bd = Array(b.shape)
        let dims = broadcastDims(ad, bd)
        let av = a.scalars, bv = b.scalars
        let values = (0..<dims.reduce(1, *)).map { i -> Float in
            let idx = multiIndex(i, dims)
            return f(av[sourceIndex(idx, ad)], bv[sourceIndex(idx, bd)])
        }
        return (dims, values)
    }

    /// Groups the elements of `x` by their index with `axes` removed and combines each group.
    static func reduce(_ x: Tensor, axes: [Int], keepDims: Bool,
                       _ combine: ([Double]) -> Double) -> (dims: [Int], values: [Double]) {
        let dims = Array(x.shape)
        let ax = Set(axes.map { $0 < 0 ? $0 + dims.count : $0 })
        let keptDims = dims.indices.map { ax.contains($0) ? 1 : dims[$0] }
        var groups = [[Double]](repeating: [], count: keptDims.reduce(1, *))
        for (i, v) in x.scalars.enumerated() {
            var idx = multiIndex(i, dims)
            for a in ax { idx[a] = 0 }
            groups[flatIndex(idx, keptDims)].append(Double(v))
        }
        let outDims = keepDims ? keptDims : dims.indices.filter { !ax.contains($0) }.map { dims[$0] }
        return (outDims, groups.map(combine))
    }

    /// Product of (optionally transposed) matrices, batched over leading dimensions; a rank-2
    /// operand is shared by every batch. Returns the values and, per element, the rounding bound
    /// `k·u·Σ|a||b|` of a Float32 dot product of length k (u = 2^-24), the classic gamma_k bound.
    static func matmul(_ a: Tensor, _ b: Tensor, tA: Bool, tB: Bool)
        -> (dims: [Int], values: [Double], bounds: [Double]) {
        let ad = Array(a.shape), bd = Array(b.shape)
        let ar = ad.count, br = bd.count
        let batchA = Array(ad.dropLast(2)), batchB = Array(bd.dropLast(2))
        let batch = batchA.count >= batchB.count ? batchA : batchB
        let m = tA ? ad[ar - 1] : ad[ar - 2], k = tA ? ad[ar - 2] : ad[ar - 1]
        let n = tB ? bd[br - 2] : bd[br - 1]
        let aStep = batchA.isEmpty ? 0 : m * k, bStep = batchB.isEmpty ? 0 : k * n
        let av = a.scalars.map(Double.init), bv = b.scalars.map(Double.init)
        var values: [Double] = [], bounds: [Double] = []
        for p in 0..<batch.reduce(1, *) {
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0, s1 = 0.0
                    for l in 0..<k {
                        let x = av[p * aStep + (tA ? l * m + i : i * k + l)]
                        let y = bv[p * bStep + (tB ? j * k + l : l * n + j)]
                        s += x * y
                        s1 += Swift.abs(x * y)
                    }
                    values.append(s)
                    bounds.append(Double(k) * 0x1p-24 * s1)
                }
            }
        }
        return (batch + [m, n], values, bounds)
    }

    static func tensor(_ dims: [Int], _ values: [Float]) throws -> Tensor {
        try Tensor(shape: Shape(dims), scalars: values)
    }

    /// 0, 1, 2, ... in the given shape.
    static func iota(_ dims: [Int]) throws -> Tensor {
        try tensor(dims, (0..<dims.reduce(1, *)).map(Float.init))
    }

    /// Distinct small integers in a scrambled order (7 is coprime with every count used here), so
    /// the maximum of a group is not simply its last element.
    static func scrambled(_ dims: [Int]) throws -> Tensor {
        let n = dims.reduce(1, *)
        return try tensor(dims, (0..<n).map { Float(($0 * 7) % n) - Float(n / 2) })
    }

    static func normal(_ dims: [Int], seed: UInt64, std: Float = 1) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor.randomNormal(Shape(dims), std: std, using: &g)
    }

    static func uniform(_ dims: [Int], seed: UInt64, low: Float, high: Float) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor.randomUniform(Shape(dims), low: low, high: high, using: &g)
    }

    /// Expects `actual` to have `dims` and each element within `tol * max(1, |expected|)` of the
    /// reference (absolute below 1, relative above).
    static func expectClose(_ actual: Tensor, _ dims: [Int], _ expected: [Double], tol: Double,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Array(actual.shape) == dims, "shape", sourceLocation: sourceLocation)
        let got = actual.scalars
        guard got.count == expected.count else {
            Issue.record("\(got.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
            return
        }
        var worst = 0.0, at = -1
        for i in got.indices {
            let err = Swift.abs(Double(got[i]) - expected[i]) / max(1, Swift.abs(expected[i]))
            if !(err <= worst) { worst = err; at = i }
        }
        #expect(worst <= tol,
                "worst scaled error \(worst) > \(tol) at \(at): got \(at >= 0 ? got[at] : .nan), expected \(at >= 0 ? expected[at] : .nan)",
                sourceLocation: sourceLocation)
    }

    /// Expects each element within its own absolute bound (a rounding-error bound per element).
    static func expectWithinBounds(_ actual: Tensor, _ dims: [Int], _ expected: [Double], _ bounds: [Double],
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Array(actual.shape) == dims, "shape", sourceLocation: sourceLocation)
        let got = actual.scalars
        guard got.count == expected.count else {
            Issue.record("\(got.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
            return
        }
        let bad = got.indices.filter { !(Swift.abs(Double(got[$0]) - expected[$0]) <= bounds[$0]) }
        #expect(bad.isEmpty,
                "\(bad.count) elements outside their bound, first at \(bad.first ?? -1): got \(bad.first.map { got[$0] } ?? 0), expected \(bad.first.map { expected[$0] } ?? 0) ± \(bad.first.map { bounds[$0] } ?? 0)",
                sourceLocation: sourceLocation)
    }
}

// MARK: - Argument types

struct FwdBroadcastCase: Sendable, CustomTestStringConvertible {
    let a: [Int], b: [Int], result: [Int], name: String
    var testDescription: String { "\(name) \(a)·\(b)" }

    static let all: [FwdBroadcastCase] = [
        .init(a: [2, 3], b: [2, 3], result: [2, 3], name: "same shape"),
        .init(a: [2, 3], b: [], result: [2, 3], name: "rank-0 scalar"),
        .init(a: [4, 3], b: [3], result: [4, 3], name: "row"),
        .init(a: [4, 1], b: [1, 5], result: [4, 5], name: "column × row"),
        .init(a: [2, 1, 3], b: [4, 1], result: [2, 4, 3], name: "leading dimension"),
        .init(a: [3, 9], b: [9], result: [3, 9], name: "row longer than a vector"),
        .init(a: [2, 3, 10], b: [1, 3, 10], result: [2, 3, 10], name: "row block with a leading one"),
        .init(a: [5, 12], b: [5, 1], result: [5, 12], name: "column"),
        .init(a: [2, 3, 10], b: [2, 3, 1], result: [2, 3, 10], name: "column of a rank-3 tensor"),
        .init(a: [2, 3, 10], b: [2, 1, 1], result: [2, 3, 10], name: "one value per leading block"),
        .init(a: [2, 3, 10], b: [3, 1], result: [2, 3, 10], name: "middle column (general path)"),
    ]
}

extension BatchedMatmulLayout {
    /// Stored operands for logical [batch 2] × [3, 4] × [4, 5].
    func forwardOperands() -> (Tensor, Tensor) {
        let (m, k, n) = (3, 4, 5)
        let aBatch: [Int] = aBatched ? [2] : [], bBatch: [Int] = bBatched ? [2] : []
        let aDims: [Int] = aBatch + (tA ? [k, m] : [m, k])
        let bDims: [Int] = bBatch + (tB ? [n, k] : [k, n])
        return (FwdRef.normal(aDims, seed: 21), FwdRef.normal(bDims, seed: 22))
    }
}

extension UnaryFunction {
    /// 19 points (two SIMD8 bodies and a scalar tail) over the function's domain.
    var inputs: [Float] {
        let (lo, hi): (Float, Float) = (self == .log || self == .sqrt) ? (0.05, 20) : (-6, 6)
        return (0..<19).map { lo + (hi - lo) * Float($0) / 18 }
    }
}

// MARK: - Tests

@Suite struct OpForwardTests {
    // MARK: Broadcasting arithmetic

    @Test func sameShapeArithmeticIsElementwise() throws {
        let a = try FwdRef.tensor([2, 3], [1, 2, 3, 4, 5, 6])
        let b = try FwdRef.tensor([2, 3], [6, 5, 4, 3, 2, 1])
        // Exact: small integers and one correctly rounded IEEE operation per element.
        #expect(try (a + b).scalars == [7, 7, 7, 7, 7, 7])
        #expect(try (a - b).scalars == [-5, -3, -1, 1, 3, 5])
        #expect(try (a * b).scalars == [6, 10, 12, 12, 10, 6])
        #expect(try (a / b).scalars == [1 / 6, 2 / 5, 3 / 4, 4 / 3, 5 / 2, 6 / 1] as [Float])
        #expect(try (a + b).shape == [2, 3])
    }

    @Test(arguments: FwdBroadcastCase.all)
    func broadcastingArithmeticMatchesNaiveReference(_ c: FwdBroadcastCase) throws {
        let a = FwdRef.normal(c.a, seed: 1)
        let b = FwdRef.uniform(c.b, seed: 2, low: 0.5, high: 2)  // a divisor away from 0
        let ops: [(String, (Tensor, Tensor) throws -> Tensor, (Float, Float) -> Float)] = [
            ("+", { try $0 + $1 }, { $0 + $1 }), ("-", { try $0 - $1 }, { $0 - $1 }),
            ("*", { try $0 * $1 }, { $0 * $1 }), ("/", { try $0 / $1 }, { $0 / $1 }),
        ]
        for (name, op, ref) in ops {
            for (x, y) in [(a, b), (b, a)] {
                let r = try op(x, y)
                let expected = FwdRef.broadcast(x, y, ref)
                #expect(Array(r.shape) == c.result, "\(name) shape")
                #expect(expected.dims == c.result)
                // Exact: each element is the same single Float operation on the same operands.
                #expect(r.scalars == expected.values, "\(name) \(x.shape) with \(y.shape)")
            }
        }
    }

    @Test func incompatibleShapesThrowShapeMismatch() {
        let a = Tensor.zeros([2, 3]), b = Tensor.zeros([4])
        #expect(throws: TensorError.self) { try a + b }
        do {
            _ = try a * Tensor.zeros([3, 2])
            Issue.record("[2,3] * [3,2] did not throw")
        } catch {
            guard case .shapeMismatch = error else { Issue.record("wrong error \(error)"); return }
        }
    }

    @Test func scalarOperandsOnEitherSide() throws {
        let x = try FwdRef.tensor([2, 2], [1, 2, 4, -8])
        // Exact: every result below is a small dyadic rational.
        #expect((x + 1).scalars == [2, 3, 5, -7])
        #expect((1 + x).scalars == [2, 3, 5, -7])
        #expect((x - 1).scalars == [0, 1, 3, -9])
        #expect((1 - x).scalars == [0, -1, -3, 9])
        #expect((x * 3).scalars == [3, 6, 12, -24])
        #expect((3 * x).scalars == [3, 6, 12, -24])
        #expect((x / 2).scalars == [0.5, 1, 2, -4])
        #expect((2 / x).scalars == [2, 1, 0.5, -0.25])
        #expect((-x).scalars == [-1, -2, -4, 8])
        #expect(try (x + Tensor(1)).scalars == [2, 3, 5, -7])
        // x / 3 is computed as x * (1/3): two roundings, within 1.2e-7 relative; 2.5e-7 leaves margin.
        FwdRef.expectClose(x / 3, [2, 2], [1.0 / 3, 2.0 / 3, 4.0 / 3, -8.0 / 3], tol: 2.5e-7)
    }

    @Test func broadcastToAndSumToShape() throws {
        let v = try FwdRef.tensor([3], [1, 2, 3])
        #expect(try v.broadcast(to: [2, 3]).scalars == [1, 2, 3, 1, 2, 3])
        let c = try FwdRef.tensor([2, 1], [1, 2])
        #expect(try c.broadcast(to: [2, 3]).scalars == [1, 1, 1, 2, 2, 2])
        let x = try FwdRef.tensor([2, 1, 3], [1, 2, 3, 4, 5, 6])
        let big = try x.broadcast(to: [2, 4, 3])
        #expect(big.shape == [2, 4, 3])
        #expect(big.scalars == FwdRef.broadcast(x, Tensor.zeros([2, 4, 3]), { a, _ in a }).values)
        #expect(throws: TensorError.self) { try v.broadcast(to: [2, 4]) }
        #expect(throws: TensorError.self) { try Tensor.zeros([2, 3]).broadcast(to: [3]) }
        // One value fills any shape of equal or higher rank; a higher rank cannot shrink.
        #expect(try Tensor(7).broadcast(to: [2, 2]).scalars == [7, 7, 7, 7])
        let one = try FwdRef.tensor([1, 1], [-3])
        #expect(try one.broadcast(to: [2, 1, 3]).shape == [2, 1, 3])
        #expect(try one.broadcast(to: [2, 1, 3]).scalars == [Float](repeating: -3, count: 6))
        #expect(try one.broadcast(to: [0, 4]).scalars.isEmpty)
        #expect(throws: TensorError.self) { try one.broadcast(to: [3]) }

        // sum(toShape:) is the adjoint: integer sums are exact.
        let m = try FwdRef.iota([2, 4, 3])
        for target in [[2, 4, 3], [3], [4, 1], [1, 3], [2, 1, 3], [2, 4, 1], [1], []] as [[Int]] {
            let r = try m.sum(toShape: Shape(target))
            let offset = 3 - target.count
            let axes = (0..<3).filter { $0 < offset || target[$0 - offset] == 1 }
            let ref = FwdRef.reduce(m, axes: axes, keepDims: false) { $0.reduce(0, +) }
            #expect(r.shape == Shape(target), "\(target)")
            #expect(r.scalars.map(Double.init) == ref.values, "\(target)")
        }
        #expect(throws: TensorError.self) { try m.sum(toShape: [5]) }
    }

    // MARK: Reductions

    static let axisSets: [[Int]] = [[0], [1], [2], [-1], [0, 1], [1, 2], [0, 2], [2, 0], [-3, -1], [0, 1, 2], []]

    @Test(arguments: OpForwardTests.axisSets, [false, true])
    func reductionsMatchNaiveReference(axes: [Int], keepDims: Bool) throws {
        let x = try FwdRef.scrambled([2, 3, 4])
        let sum = FwdRef.reduce(x, axes: axes, keepDims: keepDims) { $0.reduce(0, +) }
        let r = try x.sum(axes: axes, keepDims: keepDims)
        #expect(Array(r.shape) == sum.dims)
        // Exact: sums of at most 24 integers of magnitude <= 12.
        #expect(r.scalars.map(Double.init) == sum.values)

        let mean = FwdRef.reduce(x, axes: axes, keepDims: keepDims) { $0.reduce(0, +) / Double($0.count) }
        // sum exact, then * (1/n): two roundings, at most 1.2e-7 relative; 2.5e-7 leaves margin.
        FwdRef.expectClose(try x.mean(axes: axes, keepDims: keepDims), mean.dims, mean.values, tol: 2.5e-7)

        let mx = FwdRef.reduce(x, axes: axes, keepDims: keepDims) { $0.max()! }
        let rmax = try x.max(axes: axes, keepDims: keepDims)
        #expect(Array(rmax.shape) == mx.dims)
        #expect(rmax.scalars.map(Double.init) == mx.values)  // exact: selects an input element

        let mn = FwdRef.reduce(x, axes: axes, keepDims: keepDims) { $0.min()! }
        let rmin = try x.min(axes: axes, keepDims: keepDims)
        #expect(Array(rmin.shape) == mn.dims)
        #expect(rmin.scalars.map(Double.init) == mn.values)  // exact: selects an input element
    }

    @Test func fullReductionsAreRankZero() throws {
        let x = try FwdRef.tensor([2, 3], [1, -2, 3, 4, 5, -6])
        #expect(x.sum().shape == .scalar)
        #expect(x.sum().scalar == 5)  // exact: integers
        #expect(x.max().shape == .scalar)
        #expect(x.max().scalar == 5)
        #expect(try x.min(axes: [0, 1]).scalar == -6)
        // 5/6 after two roundings (sum exact, times 1/6): within 1.2e-7 relative.
        FwdRef.expectClose(x.mean(), [], [5.0 / 6], tol: 2.5e-7)
    }

    /// `sum()` sums in the order `sum(axes:)` does over every axis: the same bits, at every length
    /// (the SIMD body and the scalar tail), for rank 0 and for no elements.
    @Test func fullSumMatchesTheReductionOverAllAxes() throws {
        var g = RandomGenerator(seed: 61)
        for shape in [[], [0], [1], [7], [8], [9], [3, 0], [37, 19], [2, 3, 5, 7]] as [[Int]] {
            let x = Tensor.randomNormal(Shape(shape), using: &g)
            let full = x.sum(), axes = try x.sum(axes: Array(0..<shape.count))
            #expect(full.shape == .scalar)
            #expect(full.scalar.bitPattern == axes.scalar.bitPattern, "\(shape)")
        }
        #expect(Tensor(-0.0).sum().scalar.sign == .minus)  // a rank-0 sum is the value itself
    }

    @Test func reductionAcrossSIMDWidthAndStridedAxes() throws {
        // 37 × 19 exercises the SIMD body, the scalar tail and the strided (inner > 1) loops.
        let x = FwdRef.normal([37, 19], seed: 3)
        for axis in [0, 1] {
            let ref = FwdRef.reduce(x, axes: [axis], keepDims: false) { $0.reduce(0, +) }
            let bounds = FwdRef.reduce(x, axes: [axis], keepDims: false) { v in
                // Float summation of n terms: |error| <= n·u·Σ|x| (gamma_n bound, u = 2^-24).
                Double(v.count) * 0x1p-24 * v.reduce(0) { $0 + Swift.abs($1) }
            }
            FwdRef.expectWithinBounds(try x.sum(axis: axis), ref.dims, ref.values, bounds.values)
            let mx = FwdRef.reduce(x, axes: [axis], keepDims: false) { $0.max()! }
            #expect(try x.max(axis: axis).scalars.map(Double.init) == mx.values)  // exact: a selection
        }
    }

    @Test func maxWithTiesReturnsTheTiedValue() throws {
        let x = try FwdRef.tensor([2, 3], [1, 3, 3, 2, 2, 0])
        // Exact: selections of input elements.
        #expect(try x.max(axis: 1).scalars == [3, 2])
        #expect(try x.max(axis: 0).scalars == [2, 3, 3])
        #expect(try x.min(axes: [1]).scalars == [1, 0])
        #expect(Tensor([-1, -1, -1]).max().scalar == -1)
    }

    @Test func reductionAxisErrors() {
        let x = Tensor.zeros([2, 3])
        #expect(throws: TensorError.axisOutOfRange(op: "sum", axis: 2, rank: 2)) { try x.sum(axis: 2) }
        #expect(throws: TensorError.axisOutOfRange(op: "max", axis: -3, rank: 2)) { try x.max(axis: -3) }
        #expect(throws: TensorError.self) { try x.sum(axes: [1, -1]) }  // the same axis twice
        #expect(throws: TensorError.self) { try Tensor.zeros([0, 3]).max(axis: 0) }  // max of nothing
    }

    // MARK: Shape operations

    @Test func reshapeKeepsRowMajorOrderAndInfersMinusOne() throws {
        let x = try FwdRef.iota([2, 3, 4])
        let a = try x.reshaped(to: [-1, 4])
        #expect(a.shape == [6, 4])
        #expect(a.scalars == x.scalars)
        #expect(try x.reshaped(to: [4, -1]).shape == [4, 6])
        #expect(try x.reshaped(to: [2, -1, 3]).shape == [2, 4, 3])
        #expect(try x.reshaped(to: [-1]).shape == [24])
        #expect(try x.reshaped(to: [24, 1, 1]).scalars == x.scalars)
        #expect(try Tensor([7]).reshaped(to: [Int]()).shape == .scalar)
        #expect(throws: TensorError.self) { try x.reshaped(to: [-1, -1]) }
        #expect(throws: TensorError.self) { try x.reshaped(to: [5, -1]) }
        #expect(throws: TensorError.self) { try x.reshaped(to: [5, 5]) }
        #expect(throws: TensorError.self) { try x.reshaped(to: [-2, 12]) }
    }

    @Test(arguments: [[2, 0, 1], [1, 0, 2], [0, 2, 1], [2, 1, 0], [-1, 0, 1]])
    func permuteRank3MovesEveryElement(_ p: [Int]) throws {
        let dims = [2, 3, 4]
        let x = try FwdRef.iota(dims)
        let perm = p.map { $0 < 0 ? $0 + 3 : $0 }
        let outDims = perm.map { dims[$0] }
        let r = try x.permuted(p)
        #expect(Array(r.shape) == outDims)
        // out[i0, i1, i2] = x[...] with input axis perm[k] indexed by i_k; exact (a copy).
        let expected = (0..<24).map { flat -> Float in
            let o = FwdRef.multiIndex(flat, outDims)
            var idx = [0, 0, 0]
            for k in 0..<3 { idx[perm[k]] = o[k] }
            return x.scalars[FwdRef.flatIndex(idx, dims)]
        }
        #expect(r.scalars == expected)
    }

    @Test func permuteRejectsBadPermutations() {
        let x = Tensor.zeros([2, 3, 4])
        #expect(throws: TensorError.self) { try x.permuted([0, 0, 1]) }
        #expect(throws: TensorError.self) { try x.permuted([0, 1]) }
        #expect(throws: TensorError.self) { try x.permuted([0, 1, 3]) }
    }

    @Test func transposedSwapsTheLastTwoAxes() throws {
        let m = try FwdRef.tensor([2, 3], [1, 2, 3, 4, 5, 6])
        let t = try m.transposed()
        #expect(t.shape == [3, 2])
        #expect(t.scalars == [1, 4, 2, 5, 3, 6])  // exact: a copy
        // A large matrix goes through the blocked 2-D transpose.
        let big = FwdRef.normal([45, 70], seed: 4)
        let bt = try big.transposed()
        let bv = big.scalars
        #expect(bt.shape == [70, 45])
        // Output element (j, i) with flat index j·45 + i is input element (i, j).
        let expectedT: [Float] = (0..<(70 * 45)).map { (f: Int) -> Float in bv[(f % 45) * 70 + f / 45] }
        #expect(bt.scalars == expectedT)
        let x = try FwdRef.iota([2, 3, 4])
        #expect(try x.transposed().scalars == x.permuted([0, 2, 1]).scalars)
        #expect(try x.transposed().shape == [2, 4, 3])
        #expect(throws: TensorError.self) { try Tensor([1, 2]).transposed() }
    }

    @Test(arguments: [0, 1, 2, -1])
    func concatAlongEachAxis(_ axis: Int) throws {
        let ax = axis < 0 ? axis + 3 : axis
        let sizes = [1, 2, 3]
        let parts = try sizes.enumerated().map { (i, s) -> Tensor in
            var dims = [2, 3, 4]
            dims[ax] = s
            return try FwdRef.iota(dims) + Float(100 * (i + 1))
        }
        let r = try Tensor.concat(parts, axis: axis)
        var outDims = [2, 3, 4]
        outDims[ax] = 6
        #expect(Array(r.shape) == outDims)
        let expected = (0..<outDims.reduce(1, *)).map { flat -> Float in
            var idx = FwdRef.multiIndex(flat, outDims)
            var part = 0
            while idx[ax] >= sizes[part] { idx[ax] -= sizes[part]; part += 1 }
            return parts[part].scalars[FwdRef.flatIndex(idx, Array(parts[part].shape))]
        }
        #expect(r.scalars == expected)  // exact: a copy
    }

    @Test func concatErrors() {
        #expect(throws: TensorError.self) { try Tensor.concat([], axis: 0) }
        #expect(throws: TensorError.self) { try Tensor.concat([.zeros([2, 3]), .zeros([3, 3])], axis: 1) }
        #expect(throws: TensorError.self) { try Tensor.concat([.zeros([2, 3]), .zeros([2, 3])], axis: 2) }
    }

    @Test(arguments: [(0, 1..<2), (1, 1..<3), (2, 0..<1), (-1, 2..<4), (1, 0..<3), (2, 3..<3)])
    func sliceAlongAxes(_ axis: Int, _ range: Range<Int>) throws {
        let dims = [2, 3, 4]
        let ax = axis < 0 ? axis + 3 : axis
        let x = try FwdRef.iota(dims)
        let r = try x.slice(axis: axis, range)
        var outDims = dims
        outDims[ax] = range.count
        #expect(Array(r.shape) == outDims)
        let expected = (0..<outDims.reduce(1, *)).map { flat -> Float in
            var idx = FwdRef.multiIndex(flat, outDims)
            idx[ax] += range.lowerBound
            return x.scalars[FwdRef.flatIndex(idx, dims)]
        }
        #expect(r.scalars == expected)  // exact: a copy
    }

    @Test func sliceOutOfRangeThrows() {
        let x = Tensor.zeros([2, 3])
        #expect(throws: TensorError.self) { try x.slice(axis: 1, 2..<4) }
        #expect(throws: TensorError.self) { try x.slice(axis: 2, 0..<1) }
    }

    // MARK: Indexing

    @Test func indexSelectWithRepeatedIndices() throws {
        let x = try FwdRef.tensor([3, 2], [1, 2, 3, 4, 5, 6])
        let rows = try x.indexSelect(axis: 0, indices: [2, 0, 2, 2])
        #expect(rows.shape == [4, 2])
        #expect(rows.scalars == [5, 6, 1, 2, 5, 6, 5, 6])  // exact: a copy
        let cols = try x.indexSelect(axis: -1, indices: [1, 1, 0])
        #expect(cols.shape == [3, 3])
        #expect(cols.scalars == [2, 2, 1, 4, 4, 3, 6, 6, 5])
        #expect(try x.indexSelect(axis: 0, indices: []).shape == [0, 2])

        let y = try FwdRef.iota([2, 3, 4])
        let mid = try y.indexSelect(axis: 1, indices: [2, 2, 0, 1])
        #expect(mid.shape == [2, 4, 4])
        let expected = (0..<32).map { flat -> Float in
            var idx = FwdRef.multiIndex(flat, [2, 4, 4])
            idx[1] = [2, 2, 0, 1][idx[1]]
            return y.scalars[FwdRef.flatIndex(idx, [2, 3, 4])]
        }
        #expect(mid.scalars == expected)
        #expect(throws: TensorError.indexOutOfRange(op: "indexSelect(axis: 0)", index: 3, bound: 3)) {
            try x.indexSelect(axis: 0, indices: [0, 3])
        }
        #expect(throws: TensorError.self) { try x.indexSelect(axis: 0, indices: [-1]) }
    }

    @Test func gatherPicksAlongAnAxis() throws {
        let x = try FwdRef.tensor([2, 3], [1, 2, 3, 4, 5, 6])
        let along1 = try x.gather(axis: 1, index: FwdRef.tensor([2, 2], [2, 0, 1, 1]))
        #expect(along1.shape == [2, 2])
        #expect(along1.scalars == [3, 1, 5, 5])  // exact: a copy
        let along0 = try x.gather(axis: 0, index: FwdRef.tensor([1, 3], [1, 0, 1]))
        #expect(along0.shape == [1, 3])
        #expect(along0.scalars == [4, 2, 6])
        #expect(throws: TensorError.self) { try x.gather(axis: 1, index: FwdRef.tensor([2, 1], [0, 3])) }
        #expect(throws: TensorError.self) { try x.gather(axis: 1, index: FwdRef.tensor([2, 1], [0, 0.5])) }
        #expect(throws: TensorError.self) { try x.gather(axis: 1, index: FwdRef.tensor([1, 1], [0])) }
    }

    @Test func argmaxTakesTheFirstOfTies() throws {
        let x = try FwdRef.tensor([2, 3], [1, 5, 5, 7, 2, 7])
        #expect(try x.argmax(axis: 1).scalars == [1, 0])
        #expect(try x.argmax(axis: -1).shape == [2])
        #expect(try x.argmax(axis: 0).scalars == [1, 0, 1])
        #expect(try x.argmax(axis: 1, keepDims: true).shape == [2, 1])
        let y = try FwdRef.scrambled([3, 4, 5])
        let ref = FwdRef.reduce(y, axes: [1], keepDims: false) { v in Double(v.firstIndex(of: v.max()!)!) }
        #expect(try y.argmax(axis: 1).scalars.map(Double.init) == ref.values)
    }

    @Test func oneHotRows() throws {
        let r = try Tensor.oneHot(Tensor([2, 0, 1, 2]), classes: 3)
        #expect(r.shape == [4, 3])
        #expect(r.scalars == [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1])
        #expect(throws: TensorError.self) { try Tensor.oneHot(Tensor([3]), classes: 3) }
        #expect(throws: TensorError.self) { try Tensor.oneHot(Tensor([0.5]), classes: 3) }
        #expect(throws: TensorError.self) { try Tensor.oneHot(Tensor.zeros([2, 2]), classes: 3) }
    }

    @Test func whereSelectsWithBroadcasting() throws {
        let cond = try FwdRef.tensor([2, 1], [1, 0])
        let a = try FwdRef.tensor([1, 3], [10, 20, 30])
        let r = try Tensor.where(cond, a, Tensor(-1))
        #expect(r.shape == [2, 3])
        #expect(r.scalars == [10, 20, 30, -1, -1, -1])
        // Any non-zero condition selects `a`; 18 elements cover the SIMD body and the tail.
        let c2 = try FwdRef.tensor([3], [2, 0, -0.5])
        let x = try FwdRef.iota([6, 3]), y = try FwdRef.tensor([6, 1], [-1, -2, -3, -4, -5, -6])
        let r2 = try Tensor.where(c2, x, y)
        #expect(r2.shape == [6, 3])
        let expected2: [Float] = (0..<18).map { (i: Int) -> Float in i % 3 == 1 ? Float(-(i / 3) - 1) : Float(i) }
        #expect(r2.scalars == expected2)
        #expect(throws: TensorError.self) { try Tensor.where(Tensor.zeros([4]), x, y) }
    }

    @Test func comparisonsAreZerosAndOnesWithBroadcasting() throws {
        let a = Tensor([1, 2, 3])
        let b = try FwdRef.tensor([2, 1], [2, 1])
        // Exact: comparisons produce 0 or 1.
        #expect(try (a .== b).scalars == [0, 1, 0, 1, 0, 0])
        #expect(try (a .!= b).scalars == [1, 0, 1, 0, 1, 1])
        #expect(try (a .< b).scalars == [1, 0, 0, 0, 0, 0])
        #expect(try (a .<= b).scalars == [1, 1, 0, 1, 0, 0])
        #expect(try (a .> b).scalars == [0, 0, 1, 0, 1, 1])
        #expect(try (a .>= b).scalars == [0, 1, 1, 1, 1, 1])
        #expect(try (a .> b).shape == [2, 3])
        #expect((a .== 2).scalars == [0, 1, 0])
        #expect((a .!= 2).scalars == [1, 0, 1])
        #expect((a .< 2).scalars == [1, 0, 0])
        #expect((a .<= 2).scalars == [1, 1, 0])
        #expect((a .> 2).scalars == [0, 0, 1])
        #expect((a .>= 2).scalars == [0, 1, 1])
        // A comparison is a constant: it carries no graph.
        #expect((a.requiringGrad() .> 1).requiresGrad == false)
        #expect(throws: TensorError.self) { try a .< Tensor([1, 2]) }
    }

    // MARK: Matrix products

    @Test(arguments: [false, true], [false, true])
    func matmulTransposeCombinations(transposeA: Bool, transposeB: Bool) throws {
        let (m, k, n) = (5, 7, 3)
        let a = FwdRef.normal(transposeA ? [k, m] : [m, k], seed: 10)
        let b = FwdRef.normal(transposeB ? [n, k] : [k, n], seed: 11)
        let r = try a.matmul(b, transposeA: transposeA, transposeB: transposeB)
        let ref = FwdRef.matmul(a, b, tA: transposeA, tB: transposeB)
        // Per element: the Float32 dot-product rounding bound k·u·Σ|a||b| (OpenBLAS may reorder
        // or fuse, which stays within it).
        FwdRef.expectWithinBounds(r, [m, n], ref.values, ref.bounds)
    }

    @Test func matmulHandKnownValues() throws {
        let a = try FwdRef.tensor([2, 3], [1, 2, 3, 4, 5, 6])
        let b = try FwdRef.tensor([3, 2], [7, 8, 9, 10, 11, 12])
        // Exact: integer products and sums far below 2^24.
        #expect(try a.matmul(b).scalars == [58, 64, 139, 154])
        #expect(try a.matmul(a, transposeB: true).scalars == [14, 32, 32, 77])
        #expect(try a.matmul(a, transposeA: true).scalars == [17, 22, 27, 22, 29, 36, 27, 36, 45])
        #expect(try b.matmul(a, transposeA: true, transposeB: true).scalars == [58, 139, 64, 154])
        #expect(throws: TensorError.self) { try a.matmul(a) }
        #expect(throws: TensorError.self) { try Tensor(1).matmul(a) }
    }

    @Test func matmulWithRank1Operands() throws {
        let v = Tensor([1, 2, 3])
        let m = try FwdRef.tensor([3, 2], [1, 0, 0, 1, 1, 1])
        // Exact: integer arithmetic.
        let vm = try v.matmul(m)
        #expect(vm.shape == [2])
        #expect(vm.scalars == [4, 5])
        let mv = try m.matmul(Tensor([1, 2]))
        #expect(mv.shape == [3])
        #expect(mv.scalars == [1, 2, 3])
        let mtv = try m.matmul(v, transposeA: true)  // [2, 3] × [3]
        #expect(mtv.shape == [2])
        #expect(mtv.scalars == [4, 5])
        // A vector against a batch of matrices: [3] × [2, 3, 2] -> [2, 2].
        let batch = try FwdRef.iota([2, 3, 2])
        let vb = try v.matmul(batch)
        #expect(vb.shape == [2, 2])
        #expect(vb.scalars == [16, 22, 52, 58])
        // A batch of matrices against a vector: [2, 3, 2] × [2] -> [2, 3].
        let bv = try batch.matmul(Tensor([1, -1]))
        #expect(bv.shape == [2, 3])
        #expect(bv.scalars == [-1, -1, -1, -1, -1, -1])
    }

    /// The product of two vectors is their dot product, a rank-0 tensor (both dimensions dropped,
    /// as documented for rank-1 operands).
    @Test func matmulVectorByVectorIsDotProduct() throws {
        let r = try Tensor([1, 2, 3]).matmul(Tensor([4, 5, 6]))
        #expect(r.shape == .scalar)
        #expect(r.scalar == 32)  // exact: integers
    }

    @Test(arguments: BatchedMatmulLayout.all)
    func batchedMatmulMatchesNaiveLoops(_ c: BatchedMatmulLayout) throws {
        let (a, b) = c.forwardOperands()
        let r = try a.matmul(b, transposeA: c.tA, transposeB: c.tB)
        let ref = FwdRef.matmul(a, b, tA: c.tA, tB: c.tB)
        #expect(ref.dims == [2, 3, 5])
        // Per element: the Float32 dot-product rounding bound k·u·Σ|a||b|.
        FwdRef.expectWithinBounds(r, ref.dims, ref.values, ref.bounds)
    }

    @Test func batchedMatmulRejectsMismatchedBatches() {
        #expect(throws: TensorError.self) { try Tensor.zeros([2, 3, 4]).matmul(Tensor.zeros([3, 4, 5])) }
        #expect(throws: TensorError.self) { try Tensor.zeros([2, 2, 3, 4]).matmul(Tensor.zeros([2, 4, 5])) }
    }

    @Test func largeMatmulMatchesNaiveReference() throws {
        let a = FwdRef.uniform([200, 300], seed: 12, low: -1, high: 1)
        let b = FwdRef.uniform([300, 100], seed: 13, low: -1, high: 1)
        let r = try a.matmul(b)
        let ref = FwdRef.matmul(a, b, tA: false, tB: false)
        // Per element: k·u·Σ|a_il b_lj| with k = 300 (about 1.8e-5 · 75 ≈ 1.3e-3 at most, typically
        // far less): the worst case of any summation order in Float32, so no correct kernel exceeds it,
        // while a wrong index or a dropped block is off by O(1).
        FwdRef.expectWithinBounds(r, [200, 100], ref.values, ref.bounds)
    }

    // MARK: Softmax family

    @Test(arguments: [0, 1, -1])
    func softmaxMatchesReferenceAndSumsToOne(_ axis: Int) throws {
        let x = FwdRef.normal([4, 11], seed: 14, std: 3)
        let ax = axis < 0 ? axis + 2 : axis
        let s = try softmax(x, axis: axis)
        let dims = [4, 11], xv = x.scalars.map(Double.init)
        let expected = (0..<44).map { flat -> Double in
            let idx = FwdRef.multiIndex(flat, dims)
            var denominator = 0.0
            for j in 0..<dims[ax] {
                var other = idx
                other[ax] = j
                denominator += Foundation.exp(xv[FwdRef.flatIndex(other, dims)])
            }
            return Foundation.exp(xv[flat]) / denominator
        }
        // Probabilities <= 1 from exp (~1 ulp), a sum and a division: 1e-6 absolute is ~8 ulp at 1.
        FwdRef.expectClose(s, dims, expected, tol: 1e-6)
        let totals = try s.sum(axis: axis)
        FwdRef.expectClose(totals, [dims[1 - ax]], [Double](repeating: 1, count: dims[1 - ax]), tol: 1e-6)
        let ls = try logSoftmax(x, axis: axis)
        // log-probabilities down to ~-20: 1e-6 relative-or-absolute is ~8 ulp.
        FwdRef.expectClose(ls, dims, expected.map { Foundation.log($0) }, tol: 1e-6)
    }

    @Test func softmaxAlongAMiddleAxisOfRank3() throws {
        let x = FwdRef.normal([2, 5, 3], seed: 15)
        let s = try softmax(x, axis: 1)
        let sums = try s.sum(axis: 1)
        // Sums of 5 probabilities: 1e-6 is ~8 ulp at 1.
        FwdRef.expectClose(sums, [2, 3], [Double](repeating: 1, count: 6), tol: 1e-6)
        let viaExp = try exp(x) / exp(x).sum(axis: 1, keepDims: true)
        FwdRef.expectClose(s, [2, 5, 3], viaExp.scalars.map(Double.init), tol: 1e-6)
    }

    @Test func softmaxIsStableForLargeInputs() throws {
        let x = try FwdRef.tensor([3, 3], [1000, 1000, -1000, -1000, -1000, -1000, 1000, 0, -1000])
        let s = try softmax(x)
        #expect(s.scalars.allSatisfy { $0.isFinite })
        // exp(-1000) and exp(-2000) underflow to 0 in any precision: 1e-6 absolute is ~8 ulp at 1.
        FwdRef.expectClose(s, [3, 3], [0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1, 0, 0], tol: 1e-6)
        let ls = try logSoftmax(x)
        #expect(ls.scalars.allSatisfy { $0.isFinite })
        // Only the saturated entries here; the others are checked for accuracy below. Values near
        // 0 or 2000: 1e-6 relative-or-absolute is ~8 ulp.
        let lsv = ls.scalars
        FwdRef.expectClose(try FwdRef.tensor([3], [lsv[6], lsv[7], lsv[8]]), [3], [0, -1000, -2000], tol: 1e-6)
        let lse = try logSumExp(x, axis: -1)
        FwdRef.expectClose(lse, [3], [1000 + Foundation.log(2.0), -1000 + Foundation.log(3.0), 1000], tol: 1e-6)
        // Along axis 0 as well (the strided path).
        let s0 = try softmax(x, axis: 0)
        #expect(s0.scalars.allSatisfy { $0.isFinite })
        FwdRef.expectClose(try s0.sum(axis: 0), [3], [1, 1, 1], tol: 1e-6)
    }

    /// log-softmax of large logits keeps the accuracy of its (small) result: it must compute
    /// (x - max) - log(sum), not x - (max + log(sum)), whose rounding at 1000 (ulp 6.1e-5) swamps
    /// the answer. PyTorch and JAX give these values to within an ulp.
    @Test func logSoftmaxIsAccurateForLargeLogits() throws {
        let l2 = Foundation.log(2.0), t = Foundation.log1p(Foundation.exp(-10.0))
        // 1e-6 relative-or-absolute (~8 ulp): the subtraction x - max is exact and log is ~1 ulp.
        FwdRef.expectClose(try logSoftmax(Tensor([1000, 1000, -1000])), [3], [-l2, -l2, -2000 - l2], tol: 1e-6)
        FwdRef.expectClose(try logSoftmax(Tensor([1000, 990])), [2], [-t, -10 - t], tol: 1e-6)
        FwdRef.expectClose(try logSoftmax(FwdRef.tensor([2, 1], [1000, 990]), axis: 0), [2, 1], [-t, -10 - t], tol: 1e-6)
    }

    @Test func logSumExpMatchesReference() throws {
        let x = FwdRef.normal([3, 4], seed: 16, std: 2)
        let xv = x.scalars.map(Double.init)
        for axis in [0, 1, -1] {
            let ax = axis < 0 ? axis + 2 : axis
            let ref = FwdRef.reduce(x, axes: [ax], keepDims: true) { v in Foundation.log(v.reduce(0) { $0 + Foundation.exp($1) }) }
            // Values of a few units: 1e-6 relative-or-absolute is ~8 ulp.
            FwdRef.expectClose(try logSumExp(x, axis: axis, keepDims: true), ref.dims, ref.values, tol: 1e-6)
            let flatDims = ref.dims.enumerated().filter { $0.offset != ax }.map(\.element)
            FwdRef.expectClose(try logSumExp(x, axis: axis), flatDims, ref.values, tol: 1e-6)
        }
        let all = Foundation.log(xv.reduce(0) { $0 + Foundation.exp($1) })
        FwdRef.expectClose(try logSumExp(Tensor(x.scalars)), [], [all], tol: 1e-6)
    }

    // MARK: Elementwise functions

    @Test(arguments: UnaryFunction.allCases)
    func unaryFunctionMatchesLibm(_ f: UnaryFunction) throws {
        let xs = f.inputs
        let r = f.apply(Tensor(xs))
        // 1e-6 relative-or-absolute (~8 Float32 ulp): the accuracy contract of the kernels, tested
        // in depth in VectorMathTests; a wrong function or a swapped lane is off by far more.
        FwdRef.expectClose(r, [xs.count], xs.map { f.reference(Double($0)) }, tol: 1e-6)
    }

    @Test func clampLimitsToTheBounds() throws {
        let x = Tensor([-3, -1, -0.5, 0, 0.5, 1, 3, 2, -2])
        // Exact: each element is one of the inputs or a bound.
        #expect(clamp(x, min: -1, max: 1).scalars == [-1, -1, -0.5, 0, 0.5, 1, 1, 1, -1])
        #expect(clamp(x, min: 0).scalars == [0, 0, 0, 0, 0.5, 1, 3, 2, 0])
        #expect(clamp(x, max: 0.5).scalars == [-3, -1, -0.5, 0, 0.5, 0.5, 0.5, 0.5, -2])
        #expect(clamp(x).scalars == x.scalars)
    }

    @Test func powWithIntegerAndFractionalExponents() throws {
        let x = Tensor([2, -2, 1.5, -0.5, 0, 3, -3, 0.25, 10])
        #expect(pow(x, 2).scalars == x.scalars.map { $0 * $0 })  // exact: computed as x * x
        // pow goes through exp(p·log|x|): ~2 ulp; 1e-6 relative (~8 ulp) is the kernels' contract.
        FwdRef.expectClose(pow(x, 3), [9], x.scalars.map { Foundation.pow(Double($0), 3) }, tol: 1e-6)
        FwdRef.expectClose(pow(x, 1), [9], x.scalars.map(Double.init), tol: 1e-6)
        #expect(pow(x, 0).scalars == [Float](repeating: 1, count: 9))  // x^0 = 1, even 0^0
        let neg1 = Tensor([2, -4, 0.5, -0.125, 8])
        FwdRef.expectClose(pow(neg1, -1), [5], [0.5, -0.25, 2, -8, 0.125], tol: 1e-6)
        let pos = Tensor([4, 2, 0.25, 9, 1e-4, 100])
        FwdRef.expectClose(pow(pos, 0.5), [6], pos.scalars.map { Double($0).squareRoot() }, tol: 1e-6)
        FwdRef.expectClose(pow(pos, 1.5), [6], pos.scalars.map { Foundation.pow(Double($0), 1.5) }, tol: 1e-6)
        // A negative base with a non-integer exponent has no real value.
        #expect(pow(Tensor([-2]), 0.5).scalars[0].isNaN)
        #expect(pow(Tensor([0]), 0.5).scalars == [0])
    }

    @Test func signAndAbs() {
        let x = Tensor([-2, -0.0, 0, 3, -0.5, 1e-30, -Float.infinity, 7, 0.25])
        // Exact: sign is -1, 0 or 1; abs clears the sign bit.
        #expect(sign(x).scalars == [-1, 0, 0, 1, -1, 1, -1, 1, 1])
        #expect(abs(x).scalars == [2, 0, 0, 3, 0.5, 1e-30, .infinity, 7, 0.25])
        #expect(abs(x).scalars[1].sign == .plus)  // |-0| is +0
        #expect(sign(x.requiringGrad()).requiresGrad == false)
    }

    // MARK: Creation

    @Test func constantsAndRanges() throws {
        #expect(Tensor.zeros([2, 3]).scalars == [Float](repeating: 0, count: 6))
        #expect(Tensor.ones([4]).scalars == [1, 1, 1, 1])
        #expect(Tensor.full([2, 2], 2.5).scalars == [2.5, 2.5, 2.5, 2.5])
        #expect(Tensor.full([2, 2], 2.5).shape == [2, 2])
        #expect(Tensor.zeros([]).shape == .scalar)
        #expect(try Tensor.arange(0, 5).scalars == [0, 1, 2, 3, 4])
        #expect(try Tensor.arange(1, 2, step: 0.25).scalars == [1, 1.25, 1.5, 1.75])
        #expect(try Tensor.arange(5, 0, step: -2).scalars == [5, 3, 1])
        #expect(try Tensor.arange(3, 3).count == 0)
        #expect(try Tensor.arange(3, 1).count == 0)
        let tenths = try Tensor.arange(0, 1, step: 0.1)
        #expect(tenths.count == 10)
        // start + i·step in Float: one rounding each, within 1 ulp of i/10.
        FwdRef.expectClose(tenths, [10], (0..<10).map { Double($0) / 10 }, tol: 1e-7)
        #expect(throws: TensorError.self) { try Tensor.arange(0, 1, step: 0) }
        #expect(throws: TensorError.self) { try Tensor.arange(0, .infinity) }
    }

    @Test func eyeDiagAndDiagonal() throws {
        #expect(Tensor.eye(3).shape == [3, 3])
        #expect(Tensor.eye(3).scalars == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        #expect(Tensor.eye(0).count == 0)
        let d = try Tensor.diag(Tensor([1, -2, 3]))
        #expect(d.shape == [3, 3])
        #expect(d.scalars == [1, 0, 0, 0, -2, 0, 0, 0, 3])
        let m = try FwdRef.tensor([3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let diagonal = try m.diagonal()
        #expect(diagonal.shape == [3])
        #expect(diagonal.scalars == [1, 5, 9])
        #expect(try Tensor.diag(m.diagonal()).diagonal().scalars == [1, 5, 9])
        #expect(throws: TensorError.self) { try Tensor.diag(m) }
        #expect(throws: TensorError.self) { try Tensor.zeros([2, 3]).diagonal() }
        #expect(throws: TensorError.self) { try Tensor([1, 2]).diagonal() }
    }

    @Test func tensorInitialisersCheckTheirInput() throws {
        #expect(throws: TensorError.self) { try Tensor(shape: [2, 2], scalars: [1, 2, 3]) }
        #expect(throws: TensorError.self) { try Tensor([[1, 2], [3]]) }
        let rows = try Tensor([[1, 2, 3], [4, 5, 6]])
        #expect(rows.shape == [2, 3])
        #expect(rows.scalars == [1, 2, 3, 4, 5, 6])
        #expect(Tensor(4).shape == .scalar)
        #expect(Tensor(4).scalar == 4)
    }

    // MARK: Random tensors

    @Test func randomTensorsAreReproducibleAndDistributedAsAsked() throws {
        var g1 = RandomGenerator(seed: 99), g2 = RandomGenerator(seed: 99), g3 = RandomGenerator(seed: 100)
        let a = Tensor.randomNormal([10_000], mean: 2, std: 3, using: &g1)
        let b = Tensor.randomNormal([10_000], mean: 2, std: 3, using: &g2)
        let c = Tensor.randomNormal([10_000], mean: 2, std: 3, using: &g3)
        #expect(a.scalars == b.scalars)
        #expect(a.scalars != c.scalars)
        let v = a.scalars.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let std = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count)).squareRoot()
        // Standard errors: 3/√10⁴ = 0.03 for the mean, 3/√(2·10⁴) ≈ 0.021 for the deviation;
        // 0.15 is about 5 to 7 of them.
        #expect(Swift.abs(mean - 2) < 0.15, "mean \(mean)")
        #expect(Swift.abs(std - 3) < 0.15, "std \(std)")

        let u = Tensor.randomUniform([10_000], low: -2, high: 3, using: &g1).scalars
        #expect(u.allSatisfy { $0 >= -2 && $0 < 3 })
        let um = u.reduce(0) { $0 + Double($1) } / Double(u.count)
        // Standard error 5/√(12·10⁴) ≈ 0.0144; 0.08 is about 5.5 of them.
        #expect(Swift.abs(um - 0.5) < 0.08, "uniform mean \(um)")

        let bern = try Tensor.bernoulli([10_000], probability: 0.3, using: &g1).scalars
        #expect(bern.allSatisfy { $0 == 0 || $0 == 1 })
        let p = bern.reduce(0) { $0 + Double($1) } / Double(bern.count)
        // Standard error √(0.21/10⁴) ≈ 0.0046; 0.025 is about 5.5 of them.
        #expect(Swift.abs(p - 0.3) < 0.025, "bernoulli mean \(p)")
        #expect(try Tensor.bernoulli([5], probability: 0, using: &g1).scalars == [0, 0, 0, 0, 0])
        #expect(try Tensor.bernoulli([5], probability: 1, using: &g1).scalars == [1, 1, 1, 1, 1])
        #expect(throws: TensorError.self) { try Tensor.bernoulli([2], probability: 1.5, using: &g1) }
    }
}
