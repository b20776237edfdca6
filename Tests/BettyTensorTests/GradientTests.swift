import Testing
import BettyTensor
import _TestSupport

// The tape's gradient of every differentiable operation, checked against central finite
// differences (`GradientCheck.check`) on seeded random inputs, with broadcasting wherever the
// operation broadcasts. Inputs are built to stay away from the points where an operation has no
// derivative (kinks, ties, clamp bounds), so a finite difference with step eps = 1e-2 never
// straddles one.

// MARK: - Inputs and the check

private enum GradFixture {
    static func normal(_ dims: [Int], seed: UInt64, std: Float = 1) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor.randomNormal(Shape(dims), std: std, using: &g)
    }

    static func uniform(_ dims: [Int], seed: UInt64, low: Float, high: Float) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor.randomUniform(Shape(dims), low: low, high: high, using: &g)
    }

    /// Magnitudes uniform in [low, high] with random signs: never within `low` of 0.
    static func awayFromZero(_ dims: [Int], seed: UInt64, low: Float = 0.2, high: Float = 1.5) -> Tensor {
        var g = RandomGenerator(seed: seed)
        let n = dims.reduce(1, *)
        let values = (0..<n).map { _ -> Float in
            let magnitude = low + (high - low) * g.nextUniform()
            return g.nextUniform() < 0.5 ? -magnitude : magnitude
        }
        return try! Tensor(shape: Shape(dims), scalars: values)
    }

    /// Distinct values 0.1 apart in a shuffled order: no ties anywhere, and a step of eps = 1e-2
    /// never reorders two of them, so max and min are differentiable at every element.
    static func distinct(_ dims: [Int], seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        let n = dims.reduce(1, *)
        let values = (0..<n).map { Float($0) * 0.1 - Float(n) * 0.05 }.shuffled(using: &g)
        return try! Tensor(shape: Shape(dims), scalars: values)
    }

    /// `x` with every element moved at least `margin` away from each of `points`.
    static func awayFrom(_ points: [Float], margin: Float, _ x: Tensor) -> Tensor {
        let values = x.scalars.map { v -> Float in
            var v = v
            for p in points where Swift.abs(v - p) < margin { v = v >= p ? p + margin : p - margin }
            return v
        }
        return try! Tensor(shape: x.shape, scalars: values)
    }

    static func tensor(_ dims: [Int], _ values: [Float]) throws -> Tensor {
        try Tensor(shape: Shape(dims), scalars: values)
    }

    /// Expects the tape's gradient of `f` at `inputs` to match central differences.
    ///
    /// Tolerance: GradientCheck's defaults, atol 1e-3 and rtol 1e-2 on each partial derivative with
    /// eps = 1e-2. Its Float32 central differences err by about 1e-5·|f| (rounding) plus
    /// 2e-5·|f'''| (truncation), far inside that, while a wrong rule is off by O(1). Inputs here
    /// have O(1) values and at most a few dozen elements, so neither error grows past the bound.
    static func expectGradient(at inputs: [Tensor], _ label: String = "",
                               sourceLocation: SourceLocation = #_sourceLocation,
                               _ f: ([Tensor]) throws -> Tensor) throws {
        let report = try GradientCheck.check(at: inputs, f)
        #expect(report.passed, "\(label) \(report)", sourceLocation: sourceLocation)
    }
}

// MARK: - Argument types

enum GradBinary: String, CaseIterable, Sendable {
    case add, sub, mul, div

    func apply(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        switch self {
        case .add: try a + b
        case .sub: try a - b
        case .mul: try a * b
        case .div: try a / b
        }
    }
}

struct GradBroadcastCase: Sendable, CustomTestStringConvertible {
    let a: [Int], b: [Int]
    var testDescription: String { "\(a) with \(b)" }

    static let all: [GradBroadcastCase] = [
        .init(a: [3, 4], b: [3, 4]),
        .init(a: [3, 4], b: [4]),
        .init(a: [3, 1], b: [1, 4]),
        .init(a: [2, 3, 4], b: [3, 1]),
        .init(a: [4], b: [2, 3, 4]),
        .init(a: [3, 4], b: []),
        .init(a: [], b: [2, 3]),
    ]
}

enum GradScalarForm: String, CaseIterable, Sendable {
    case tensorPlusScalar, scalarPlusTensor, tensorMinusScalar, scalarMinusTensor
    case tensorTimesScalar, scalarTimesTensor, tensorOverScalar, scalarOverTensor, negation

    func apply(_ x: Tensor) -> Tensor {
        let s: Float = 1.7
        return switch self {
        case .tensorPlusScalar: x + s
        case .scalarPlusTensor: s + x
        case .tensorMinusScalar: x - s
        case .scalarMinusTensor: s - x
        case .tensorTimesScalar: x * s
        case .scalarTimesTensor: s * x
        case .tensorOverScalar: x / s
        case .scalarOverTensor: s / x
        case .negation: -x
        }
    }

    var input: Tensor {
        // s / x: |x| >= 0.5 keeps 1/x and its third derivative moderate for the finite difference.
        self == .scalarOverTensor
            ? GradFixture.awayFromZero([3, 5], seed: 30, low: 0.5)
            : GradFixture.normal([3, 5], seed: 30)
    }
}

extension UnaryFunction {
    /// 15 elements (a SIMD8 body and a scalar tail) from the function's smooth domain.
    var input: Tensor {
        switch self {
        // log and sqrt: positive inputs, >= 0.5 so the finite difference stays well conditioned.
        case .log, .sqrt: GradFixture.uniform([3, 5], seed: 31, low: 0.5, high: 3)
        // abs and relu have a kink at 0: |x| >= 0.2 > eps, so x ± eps stays on one side of it.
        case .abs, .relu: GradFixture.awayFromZero([3, 5], seed: 31)
        default: GradFixture.normal([3, 5], seed: 31, std: 1.5)
        }
    }
}

struct GradReductionCase: Sendable, CustomTestStringConvertible {
    /// nil: over all elements with the whole-tensor method.
    let axes: [Int]?
    let keepDims: Bool
    var testDescription: String { axes.map { "axes \($0)\(keepDims ? " keepDims" : "")" } ?? "all" }

    static let all: [GradReductionCase] = [.init(axes: nil, keepDims: false)]
        + [[0], [1], [-1], [0, 2], [1, 2], [0, 1, 2]].flatMap { axes in
            [false, true].map { GradReductionCase(axes: axes, keepDims: $0) }
        }
}

enum GradReduction: String, CaseIterable, Sendable {
    case sum, mean, max, min

    func apply(_ x: Tensor, _ c: GradReductionCase) throws -> Tensor {
        guard let axes = c.axes else {
            return switch self {
            case .sum: x.sum()
            case .mean: x.mean()
            case .max: x.max()
            case .min: try x.min(axes: Array(0..<x.rank))
            }
        }
        return switch self {
        case .sum: try x.sum(axes: axes, keepDims: c.keepDims)
        case .mean: try x.mean(axes: axes, keepDims: c.keepDims)
        case .max: try x.max(axes: axes, keepDims: c.keepDims)
        case .min: try x.min(axes: axes, keepDims: c.keepDims)
        }
    }
}

extension BatchedMatmulLayout {
    /// Stored operands for logical [batch 2] × [3, 4] × [4, 2].
    func gradientOperands() -> [Tensor] {
        let (m, k, n) = (3, 4, 2)
        let aBatch: [Int] = aBatched ? [2] : [], bBatch: [Int] = bBatched ? [2] : []
        let aDims: [Int] = aBatch + (tA ? [k, m] : [m, k])
        let bDims: [Int] = bBatch + (tB ? [n, k] : [k, n])
        return [GradFixture.normal(aDims, seed: 40), GradFixture.normal(bDims, seed: 41)]
    }
}

// MARK: - Tests

@Suite struct GradientTests {
    // MARK: Arithmetic

    @Test(arguments: GradBinary.allCases, GradBroadcastCase.all)
    func binaryOpWithBroadcasting(_ op: GradBinary, _ c: GradBroadcastCase) throws {
        let a = GradFixture.normal(c.a, seed: 1)
        // A divisor with |b| >= 0.5: 1/b and its derivatives stay moderate.
        let b = op == .div ? GradFixture.awayFromZero(c.b, seed: 2, low: 0.5) : GradFixture.normal(c.b, seed: 2)
        try GradFixture.expectGradient(at: [a, b]) { x in try op.apply(x[0], x[1]) }
    }

    @Test(arguments: GradScalarForm.allCases)
    func scalarOperandForms(_ form: GradScalarForm) throws {
        try GradFixture.expectGradient(at: [form.input]) { x in form.apply(x[0]) }
    }

    @Test func tensorUsedOnSeveralPathsAccumulates() throws {
        let x = GradFixture.normal([3, 4], seed: 3), w = GradFixture.normal([4], seed: 4)
        try GradFixture.expectGradient(at: [x, w]) { v in
            let h = try v[0] * v[1] + sin(v[0])
            return try h * v[0] - (v[1] * v[1]).sum() + v[0].mean(axes: [0], keepDims: true)
        }
    }

    // MARK: Elementwise functions

    @Test(arguments: UnaryFunction.allCases)
    func unaryFunction(_ f: UnaryFunction) throws {
        try GradFixture.expectGradient(at: [f.input]) { x in f.apply(x[0]) }
    }

    @Test(arguments: [Float(2), 3, 0.5, 1.5, -1])
    func powWithScalarExponent(_ p: Float) throws {
        let x: Tensor
        if p == 0.5 || p == 1.5 {
            x = GradFixture.uniform([3, 5], seed: 5, low: 0.5, high: 3)  // a real power needs x > 0
        } else if p == -1 {
            x = GradFixture.awayFromZero([3, 5], seed: 5, low: 0.5)  // 1/x: |x| >= 0.5 keeps it tame
        } else {
            x = GradFixture.normal([3, 5], seed: 5)  // integer powers: negative bases too
        }
        try GradFixture.expectGradient(at: [x]) { v in pow(v[0], p) }
    }

    @Test func clampPassesGradientOnlyInside() throws {
        // At least 0.05 (> eps) from each bound, so x ± eps never crosses one.
        let x = GradFixture.awayFrom([-0.5, 0.8], margin: 0.05, GradFixture.normal([4, 5], seed: 6))
        let v = x.scalars
        // Both regions are exercised: some elements are clamped, some pass through.
        try #require(v.contains { $0 < -0.5 || $0 > 0.8 } && v.contains { $0 > -0.5 && $0 < 0.8 })
        try GradFixture.expectGradient(at: [x], "both bounds") { t in clamp(t[0], min: -0.5, max: 0.8) }
        let y = GradFixture.awayFrom([0], margin: 0.05, x)
        try GradFixture.expectGradient(at: [y], "lower bound only") { t in clamp(t[0], min: 0) }
        try GradFixture.expectGradient(at: [y], "upper bound only") { t in clamp(t[0], max: 0) }
    }

    @Test func whereRoutesGradientToTheSelectedOperand() throws {
        let cond = try GradFixture.tensor([3, 1], [1, 0, 1])  // a constant, broadcast along rows
        let a = GradFixture.normal([3, 4], seed: 7), b = GradFixture.normal([4], seed: 8)
        try GradFixture.expectGradient(at: [a, b]) { x in try Tensor.where(cond, x[0], x[1]) }
        // The condition broadcast against both operands.
        let c2 = try GradFixture.tensor([4], [0, 1, 1, 0])
        let s = GradFixture.normal([3, 1], seed: 9)
        try GradFixture.expectGradient(at: [s, b]) { x in try Tensor.where(c2, x[0], x[1] * 2) }
    }

    // MARK: Matrix products

    @Test(arguments: [false, true], [false, true])
    func matmulTransposeCombinations(transposeA: Bool, transposeB: Bool) throws {
        let a = GradFixture.normal(transposeA ? [4, 3] : [3, 4], seed: 10)
        let b = GradFixture.normal(transposeB ? [5, 4] : [4, 5], seed: 11)
        try GradFixture.expectGradient(at: [a, b]) { x in
            try x[0].matmul(x[1], transposeA: transposeA, transposeB: transposeB)
        }
    }

    @Test func matmulWithRank1Operands() throws {
        let v = GradFixture.normal([4], seed: 12)
        try GradFixture.expectGradient(at: [v, GradFixture.normal([4, 3], seed: 13)], "vector × matrix") { x in
            try x[0].matmul(x[1])
        }
        try GradFixture.expectGradient(at: [GradFixture.normal([3, 4], seed: 14), v], "matrix × vector") { x in
            try x[0].matmul(x[1])
        }
        try GradFixture.expectGradient(at: [v, GradFixture.normal([3, 4], seed: 15)], "vector × matrixᵀ") { x in
            try x[0].matmul(x[1], transposeB: true)
        }
        try GradFixture.expectGradient(at: [GradFixture.normal([4, 3], seed: 16), v], "matrixᵀ × vector") { x in
            try x[0].matmul(x[1], transposeA: true)
        }
        try GradFixture.expectGradient(at: [v, GradFixture.normal([2, 4, 3], seed: 17)], "vector × batch") { x in
            try x[0].matmul(x[1])
        }
        try GradFixture.expectGradient(at: [GradFixture.normal([2, 3, 4], seed: 18), v], "batch × vector") { x in
            try x[0].matmul(x[1])
        }
    }

    /// The gradient of a dot product of two vectors (a rank-0 result).
    @Test func matmulVectorByVectorGradient() throws {
        var g = RandomGenerator(seed: 19)
        let a = Tensor.randomNormal([5], using: &g), b = Tensor.randomNormal([5], using: &g)
        try GradFixture.expectGradient(at: [a, b], "vector × vector") { x in try x[0].matmul(x[1]) }
    }

    @Test(arguments: BatchedMatmulLayout.all)
    func batchedMatmul(_ c: BatchedMatmulLayout) throws {
        try GradFixture.expectGradient(at: c.gradientOperands()) { x in
            try x[0].matmul(x[1], transposeA: c.tA, transposeB: c.tB)
        }
    }

    // MARK: Reductions

    @Test(arguments: GradReduction.allCases, GradReductionCase.all)
    func reduction(_ kind: GradReduction, _ c: GradReductionCase) throws {
        // Distinct values 0.1 apart: max and min have a unique winner that x ± eps never changes.
        let x = GradFixture.distinct([2, 3, 4], seed: 20)
        try GradFixture.expectGradient(at: [x]) { v in try kind.apply(v[0], c) }
    }

    /// At a tie max and min have no derivative, so finite differences cannot check them; the
    /// documented rule (the gradient is shared equally among the tied elements) is checked exactly.
    @Test func maxAndMinShareGradientEquallyAmongTies() throws {
        let x = try GradFixture.tensor([2, 3], [1, 3, 3, 2, 2, 2]).requiringGrad()
        let third = Float(1) / 3
        // Exact: the rule computes 1 · mask / count, the same single division as `third`.
        #expect(try grad(of: x.max(axis: 1).sum(), wrt: x).scalars == [0, 0.5, 0.5, third, third, third])
        #expect(try grad(of: x.max(), wrt: x).scalars == [0, 0.5, 0.5, 0, 0, 0])
        #expect(try grad(of: x.min(axes: [1]).sum(), wrt: x).scalars == [1, 0, 0, third, third, third])
        #expect(try grad(of: x.max(axes: [0], keepDims: true).sum(), wrt: x).scalars == [0, 1, 1, 1, 0, 0])
    }

    @Test func broadcastToAndSumToShape() throws {
        try GradFixture.expectGradient(at: [GradFixture.normal([3, 1], seed: 21)], "[3,1] to [2,3,4]") { x in
            try x[0].broadcast(to: [2, 3, 4])
        }
        try GradFixture.expectGradient(at: [GradFixture.normal([4], seed: 22)], "[4] to [3,4]") { x in
            try x[0].broadcast(to: [3, 4])
        }
        try GradFixture.expectGradient(at: [GradFixture.normal([], seed: 23)], "[] to [2,2]") { x in
            try x[0].broadcast(to: [2, 2])
        }
        let big = GradFixture.normal([2, 3, 4], seed: 24)
        for target in [[3, 1], [4], [2, 1, 4], [1], []] as [[Int]] {
            try GradFixture.expectGradient(at: [big], "sum to \(target)") { x in try x[0].sum(toShape: Shape(target)) }
        }
    }

    // MARK: Shape and indexing

    @Test func reshapePermuteTranspose() throws {
        let x = GradFixture.normal([2, 3, 4], seed: 25)
        try GradFixture.expectGradient(at: [x], "reshape") { v in try v[0].reshaped(to: [4, -1]) }
        try GradFixture.expectGradient(at: [x], "permute") { v in try v[0].permuted([2, 0, 1]) }
        try GradFixture.expectGradient(at: [x], "transpose rank 3") { v in try v[0].transposed() }
        try GradFixture.expectGradient(at: [GradFixture.normal([3, 5], seed: 26)], "transpose rank 2") { v in
            try v[0].transposed()
        }
        // Shape ops in a chain, so a non-trivial upstream gradient reaches each rule.
        try GradFixture.expectGradient(at: [x], "chain") { v in
            try sin(v[0].permuted([1, 2, 0]).reshaped(to: [3, 8]).transposed())
        }
    }

    @Test(arguments: [0, 1, -1])
    func concatAlongAxis(_ axis: Int) throws {
        let ax = axis < 0 ? axis + 3 : axis
        let parts = [1, 2, 3].enumerated().map { (i, size) -> Tensor in
            var dims = [2, 3, 2]
            dims[ax] = size
            return GradFixture.normal(dims, seed: 27 + UInt64(i))
        }
        try GradFixture.expectGradient(at: parts) { x in try Tensor.concat(x, axis: axis) }
        // The same tensor twice: both slices of the gradient add up.
        try GradFixture.expectGradient(at: [parts[1]], "self-concat") { x in
            try Tensor.concat([x[0], x[0] * 2], axis: axis)
        }
    }

    @Test func sliceAlongEachAxis() throws {
        let x = GradFixture.normal([2, 3, 4], seed: 30)
        for (axis, range) in [(0, 1..<2), (1, 1..<3), (2, 0..<3), (-1, 2..<4)] {
            try GradFixture.expectGradient(at: [x], "axis \(axis) \(range)") { v in try v[0].slice(axis: axis, range) }
        }
    }

    @Test func indexSelectWithRepeatedIndices() throws {
        let x = GradFixture.normal([3, 4], seed: 31)
        try GradFixture.expectGradient(at: [x], "rows") { v in try v[0].indexSelect(axis: 0, indices: [2, 0, 2, 2]) }
        try GradFixture.expectGradient(at: [x], "columns") { v in try v[0].indexSelect(axis: -1, indices: [1, 1, 3]) }
        let y = GradFixture.normal([2, 3, 2], seed: 32)
        try GradFixture.expectGradient(at: [y], "middle axis") { v in try v[0].indexSelect(axis: 1, indices: [0, 0, 2]) }
    }

    @Test func gatherWithRepeatedIndex() throws {
        let x = GradFixture.normal([3, 4], seed: 33)
        let along1 = try GradFixture.tensor([3, 2], [3, 3, 0, 1, 2, 2])
        try GradFixture.expectGradient(at: [x], "axis 1") { v in try v[0].gather(axis: 1, index: along1) }
        let along0 = try GradFixture.tensor([2, 4], [0, 2, 2, 1, 0, 0, 1, 2])
        try GradFixture.expectGradient(at: [x], "axis 0") { v in try v[0].gather(axis: 0, index: along0) }
    }

    @Test func diagAndDiagonal() throws {
        try GradFixture.expectGradient(at: [GradFixture.normal([4], seed: 34)], "diag") { v in try Tensor.diag(v[0]) }
        try GradFixture.expectGradient(at: [GradFixture.normal([4, 4], seed: 35)], "diagonal") { v in try v[0].diagonal() }
    }

    // MARK: Softmax family

    @Test(arguments: [0, -1])
    func softmaxAndLogSoftmax(_ axis: Int) throws {
        let x = GradFixture.normal([3, 5], seed: 36, std: 1.5)
        try GradFixture.expectGradient(at: [x], "softmax") { v in try softmax(v[0], axis: axis) }
        try GradFixture.expectGradient(at: [x], "logSoftmax") { v in try logSoftmax(v[0], axis: axis) }
        // A cross-entropy-like scalar: the usual way the rule is reached.
        // One-hot targets along the softmax axis: per row for axis -1, per column for axis 0.
        let t = axis == 0
            ? try Tensor.oneHot(Tensor([2, 0, 1, 1, 0]), classes: 3).transposed()
            : try Tensor.oneHot(Tensor([1, 4, 0]), classes: 5)
        try GradFixture.expectGradient(at: [x], "cross-entropy") { v in try -(logSoftmax(v[0], axis: axis) * t).sum() }
    }

    @Test func softmaxAlongAMiddleAxis() throws {
        let x = GradFixture.normal([2, 3, 2], seed: 37)
        try GradFixture.expectGradient(at: [x], "softmax") { v in try softmax(v[0], axis: 1) }
        try GradFixture.expectGradient(at: [x], "logSoftmax") { v in try logSoftmax(v[0], axis: 1) }
    }

    @Test(arguments: [0, 1, -1], [false, true])
    func logSumExpAlongAxis(_ axis: Int, keepDims: Bool) throws {
        let x = GradFixture.normal([3, 4], seed: 38, std: 1.5)
        try GradFixture.expectGradient(at: [x]) { v in try logSumExp(v[0], axis: axis, keepDims: keepDims) }
    }

    // MARK: backward() and .grad

    @Test func backwardAccumulatesIntoGradAcrossCalls() throws {
        let x = Tensor([1, -2, 3]).requiringGrad()
        #expect(x.grad == nil)
        try (x * x).sum().backward()
        // Exact: small integers (d/dx Σx² = 2x).
        #expect(x.grad?.scalars == [2, -4, 6])
        try (x * x).sum().backward()
        #expect(x.grad?.scalars == [4, -8, 12])
        try (3 * x).sum().backward()
        #expect(x.grad?.scalars == [7, -5, 15])
        x.zeroGrad()
        #expect(x.grad == nil)
        try (x * x).sum().backward()
        #expect(x.grad?.scalars == [2, -4, 6])
        #expect(x.grad?.requiresGrad == false)  // accumulated gradients are plain values
    }

    @Test func backwardReachesEveryLeafAndOnlyLeaves() throws {
        let a = Tensor([1, 2]).requiringGrad(), b = Tensor([3, -1]).requiringGrad()
        let c = Tensor([5, 5])  // a constant
        let h = try a * b
        try (h + c).sum().backward()
        // Exact: small integers (d(a·b)/da = b, d(a·b)/db = a).
        #expect(a.grad?.scalars == [3, -1])
        #expect(b.grad?.scalars == [1, 2])
        #expect(h.isLeaf == false)
        #expect(c.grad == nil)
    }

    @Test func backwardOfANonScalarNeedsAGradOutput() throws {
        let x = Tensor([1, 2, 3]).requiringGrad()
        #expect(throws: TensorError.self) { try (x * 2).backward() }
        try (x * 2).backward(gradOutput: Tensor([1, -1, 0.5]))
        #expect(x.grad?.scalars == [2, -2, 1])  // exact: dyadic values
        #expect(throws: TensorError.self) { try (x * 2).backward(gradOutput: Tensor([1, 2])) }
    }

    @Test func retainGraphAllowsASecondBackwardThatAccumulates() throws {
        let x = Tensor([1, 2]).requiringGrad()
        let y = try (x * x * x).sum()
        try y.backward(retainGraph: true)
        #expect(x.grad?.scalars == [3, 12])  // exact: 3x² for small integers
        try y.backward()
        #expect(x.grad?.scalars == [6, 24])
    }

    /// Once a pass without retainGraph has freed a graph, differentiating it again must throw
    /// (as PyTorch does, and as Autograd's own "was freed by an earlier backward pass" error
    /// intends) instead of silently adding nothing or reporting the input as unused.
    @Test func differentiatingAFreedGraphAgainThrows() throws {
        let x = Tensor([1, 2]).requiringGrad()
        let y = try (x * x).sum()
        try y.backward()
        #expect(x.grad?.scalars == [2, 4])  // exact: 2x for small integers
        let error = #expect(throws: TensorError.self) { try y.backward() }
        if let error { #expect(error.description.contains("freed"), "\(error)") }
        #expect(x.grad?.scalars == [2, 4])  // a refused pass leaves the gradient alone

        let z = try (x * x).sum()
        _ = try grad(of: z, wrt: [x])
        // allowUnused must not turn a freed graph into a zero gradient.
        let again = #expect(throws: TensorError.self) { try grad(of: z, wrt: [x], allowUnused: true) }
        if let again { #expect(again.description.contains("freed"), "\(again)") }
    }
}
