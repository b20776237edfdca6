import Testing
import BettyTensor
import _TestSupport

#if canImport(Glibc)
import Glibc
#endif

// Second-order differentiation: every backward rule that can sit inside a hypergradient is itself
// differentiated (GradientCheck.checkSecondOrder), Hessian-vector products of compositions are
// compared with finite differences of the gradient, the exact Hessian of a quadratic is recovered,
// and third derivatives are taken by nested grads (closed forms, and finite differences of a
// recorded gradient-penalty gradient through every adjoint operation).
//
// Unless stated otherwise, second-order checks use GradientCheck's defaults (eps 1e-2, atol 2e-3,
// rtol 2e-2): in Float32 the central difference of a gradient carries ~1e-5 |g| rounding and
// ~2e-5 |g'''| truncation error, while a wrong rule is off by O(1) (see GradientCheck.swift).

// MARK: - Inputs

/// Uniform values in [low, high) from a fixed seed.
private func uniform(_ shape: Shape, _ seed: UInt64, _ low: Float = -1, _ high: Float = 1) -> Tensor {
    var gen = RandomGenerator(seed: seed)
    return Tensor.randomUniform(shape, low: low, high: high, using: &gen)
}

/// Values with magnitude in [low, high) and a random sign: at least `low` away from 0, so a
/// finite-difference step of 1e-2 never crosses a kink at 0 (relu, abs) or a pole (div).
private func awayFromZero(_ shape: Shape, _ seed: UInt64, _ low: Float = 0.2, _ high: Float = 1.2) -> Tensor {
    var gen = RandomGenerator(seed: seed)
    let n = shape.elementCount
    let values = (0..<n).map { _ -> Float in
        let m = low + (high - low) * gen.nextUniform()
        return gen.nextUniform() < 0.5 ? -m : m
    }
    return try! Tensor(shape: shape, scalars: values)
}

/// Distinct values spaced at least 0.1 apart in a random order (no ties for max within ±1e-2).
private func distinct(_ shape: Shape, _ seed: UInt64) -> Tensor {
    var gen = RandomGenerator(seed: seed)
    var values = (0..<shape.elementCount).map { Float($0) * 0.1 - 0.05 * Float(shape.elementCount) }
    values.shuffle(using: &gen)
    return try! Tensor(shape: shape, scalars: values)
}

private func square(_ t: Tensor) throws -> Tensor { try t * t }

/// Runs a second-order check with the default tolerances and records the worst element on failure.
private func expectSecondOrder(
    _ inputs: [Tensor], sourceLocation: SourceLocation = #_sourceLocation,
    _ f: @escaping ([Tensor]) throws -> Tensor
) throws {
    let report = try GradientCheck.checkSecondOrder(at: inputs, f)
    #expect(report.passed, "\(report)", sourceLocation: sourceLocation)
}

/// Third order: g2(x) = ∇_x sum(v ⊙ g1 ⊙ g1), the gradient of a gradient penalty on
/// g1 = ∇_x sum(f(x) ⊙ w), is recorded and checked against finite differences. Because the penalty
/// is nonlinear in g1, the second pass feeds the rules of the adjoint operations that the first pass
/// emitted (padSlice, indexAdd, scatterAdd, ...) an incoming gradient that depends on x, and the
/// third pass must differentiate through it (as a hypergradient through several unrolled steps does).
/// The step is 2e-3, not 1e-2: g2 is a polynomial of degree 5 or more in the inputs (with
/// coefficients up to ~10³ after a broadcast), so truncation (eps²/6 |g2'''|) needs the smaller step;
/// g2 is Float32 with ~1e-6 relative error, so rounding noise is ~2.5e-4 |g2|. Tolerances as for
/// second order (atol 2e-3, rtol 2e-2) cover both and are far below an O(1) wrong rule.
private func expectThirdOrder(
    _ inputs: [Tensor], eps: Float = 2e-3, sourceLocation: SourceLocation = #_sourceLocation,
    _ f: @escaping ([Tensor]) throws -> Tensor
) throws {
    var gen = RandomGenerator(seed: 404)
    let probe = try f(inputs)
    let w = Tensor.randomUniform(probe.shape, low: 0.5, high: 1.5, using: &gen)
    let v = inputs.map { Tensor.randomUniform($0.shape, low: -1, high: 1, using: &gen) }
    let report = try GradientCheck.check(at: inputs, eps: eps, atol: 2e-3, rtol: 2e-2) { xs in
        let leaves = xs.map { $0.requiresGrad ? $0 : $0.requiringGrad() }
        return try withGrad {
            let g1 = try grad(of: (f(leaves) * w).sum(), wrt: leaves, createGraph: true, allowUnused: true)
            var dot = Tensor(0)
            for (gi, vi) in zip(g1, v) { dot = try dot + (gi * gi * vi).sum() }
            let g2 = try grad(of: dot, wrt: leaves, createGraph: true, allowUnused: true)
            return try Tensor.concat(g2.map { try $0.reshaped(to: [-1]) }, axis: 0)
        }
    }
    #expect(report.passed, "\(report)", sourceLocation: sourceLocation)
}

/// Worst of |actual - expected| / (atol + rtol |expected|) over all elements; at most 1 passes.
private func worstRatio(_ actual: [Float], _ expected: [Double], atol: Double, rtol: Double) -> (ratio: Double, at: String) {
    precondition(actual.count == expected.count, "length \(actual.count) vs \(expected.count)")
    var worst = 0.0, at = "no elements"
    for i in actual.indices {
        let r = Swift.abs(Double(actual[i]) - expected[i]) / (atol + rtol * Swift.abs(expected[i]))
        if r > worst || r.isNaN {
            worst = r.isNaN ? .infinity : r
            at = "element \(i): got \(actual[i]), expected \(expected[i])"
        }
    }
    return (worst, at)
}

// MARK: - Every backward rule, differentiated again

@Suite struct SecondOrderTests {
    // Elementwise functions of one tensor. `u(x) * y` makes the incoming gradient of `u` depend on
    // `y` (so the rule's product with `g` must be recorded) and `u(x)` alone makes the rule's own
    // derivative term matter; both are checked.

    private static func checkUnary(
        _ x: Tensor, sourceLocation: SourceLocation = #_sourceLocation, _ u: @escaping (Tensor) throws -> Tensor
    ) throws {
        let y = uniform(x.shape, 99, 0.5, 1.5)
        try expectSecondOrder([x, y], sourceLocation: sourceLocation) { v in try u(v[0]) * v[1] }
        try expectSecondOrder([x], sourceLocation: sourceLocation) { v in try square(u(v[0])) }
    }

    @Test func exp() throws {
        try Self.checkUnary(uniform([3, 4], 1, -1, 1)) { BettyTensor.exp($0) }
        // exp(x) alone: g = w * exp(x) is built from the saved output, itself tracked.
        try expectSecondOrder([uniform([2, 5], 2, -1, 1)]) { v in BettyTensor.exp(v[0]) }
    }

    @Test func log() throws {
        try Self.checkUnary(uniform([3, 4], 3, 0.5, 2)) { BettyTensor.log($0) }
        try expectSecondOrder([uniform([7], 4, 0.5, 2)]) { v in BettyTensor.log(v[0]) }
    }

    @Test func sqrt() throws {
        try Self.checkUnary(uniform([3, 4], 5, 0.5, 2)) { BettyTensor.sqrt($0) }
        try expectSecondOrder([uniform([7], 6, 0.5, 2)]) { v in BettyTensor.sqrt(v[0]) }
    }

    /// The derivatives of sin and cos come from the value the forward pass saved, to every order:
    /// they must be exactly cos, -sin, -cos, sin of the input (the seeds are ones, so each rule's
    /// product is exact), for lengths with and without a scalar tail.
    @Test(arguments: [7, 8, 21])
    func sinAndCosDerivativesOfEveryOrderAreExact(n: Int) throws {
        let x = uniform([n], 11, -20, 20).requiringGrad()
        let plain = x.detached()
        let s = BettyTensor.sin(plain), c = BettyTensor.cos(plain)
        let expected = [c, -s, -c, s, c].map(\.scalars)
        var f = BettyTensor.sin(x)
        for order in 0..<5 {
            let g = try grad(of: f.sum(), wrt: x, createGraph: true)
            #expect(g.scalars == expected[order], "order \(order + 1)")
            f = g
        }
        // And starting from cos: -sin, -cos, sin.
        var h = BettyTensor.cos(x)
        for (order, e) in [-s, -c, s].enumerated() {
            let g = try grad(of: h.sum(), wrt: x, createGraph: true)
            #expect(g.scalars == e.scalars, "cos, order \(order + 1)")
            h = g
        }
    }

    /// softplus keeps the sigmoid its forward pass computed: its derivative must be exactly
    /// sigmoid(x), and its second derivative exactly what sigmoid's own rule gives, with the
    /// extremes of the input range included.
    @Test(arguments: [7, 8, 21])
    func softplusDerivativesReuseTheSavedSigmoid(n: Int) throws {
        let x = uniform([n], 12, -30, 30).requiringGrad()
        let first = try grad(of: BettyTensor.softplus(x).sum(), wrt: x, createGraph: true)
        #expect(first.scalars == BettyTensor.sigmoid(x.detached()).scalars)
        let second = try grad(of: first.sum(), wrt: x)
        let viaSigmoid = try grad(of: BettyTensor.sigmoid(x).sum(), wrt: x)
        #expect(second.scalars == viaSigmoid.scalars)
    }

    @Test func sinAndCos() throws {
        try Self.checkUnary(uniform([3, 4], 7, -2, 2)) { BettyTensor.sin($0) }
        try Self.checkUnary(uniform([3, 4], 8, -2, 2)) { BettyTensor.cos($0) }
        try expectSecondOrder([uniform([9], 9, -3, 3)]) { v in BettyTensor.sin(v[0]) }
        try expectSecondOrder([uniform([9], 10, -3, 3)]) { v in BettyTensor.cos(v[0]) }
    }

    @Test func tanh() throws {
        try Self.checkUnary(uniform([3, 4], 11, -1.5, 1.5)) { BettyTensor.tanh($0) }
        try expectSecondOrder([uniform([9], 12, -2, 2)]) { v in BettyTensor.tanh(v[0]) }
    }

    @Test func sigmoid() throws {
        try Self.checkUnary(uniform([3, 4], 13, -3, 3)) { BettyTensor.sigmoid($0) }
        try expectSecondOrder([uniform([9], 14, -3, 3)]) { v in BettyTensor.sigmoid(v[0]) }
    }

    @Test func softplus() throws {
        try Self.checkUnary(uniform([3, 4], 15, -3, 3)) { BettyTensor.softplus($0) }
        try expectSecondOrder([uniform([9], 16, -3, 3)]) { v in BettyTensor.softplus(v[0]) }
    }

    @Test func pow() throws {
        // Positive bases for real exponents; the exponent-2 fast path and its own rule (g * a * 2).
        for p: Float in [2, 3, 0.5, -1.5, 4] {
            try Self.checkUnary(uniform([2, 5], 17, 0.5, 1.5)) { BettyTensor.pow($0, p) }
        }
        // Negative bases with integer exponents (odd and even).
        for p: Float in [2, 3] {
            try Self.checkUnary(awayFromZero([2, 5], 18)) { BettyTensor.pow($0, p) }
        }
    }

    @Test func reluAwayFromZero() throws {
        // |x| >= 0.2, so x ± 1e-2 never changes the mask.
        try Self.checkUnary(awayFromZero([3, 4], 19)) { relu($0) }
    }

    @Test func absAwayFromZero() throws {
        try Self.checkUnary(awayFromZero([3, 4], 20)) { BettyTensor.abs($0) }
    }

    @Test func clampAwayFromBounds() throws {
        // Every value is at least 0.05 from the bounds ±0.5, so x ± 1e-2 keeps the mask; both the
        // clamped and the passing regions are present.
        let x = try Tensor(shape: [2, 5], scalars: [-0.9, -0.3, 0.1, 0.4, 0.7, -0.6, 0.2, -0.1, 0.95, 0.3])
        try Self.checkUnary(x) { clamp($0, min: -0.5, max: 0.5) }
    }

    @Test func mulAndBroadcastingMul() throws {
        try expectSecondOrder([uniform([3, 4], 21), uniform([3, 4], 22)]) { v in try v[0] * v[1] }
        // Broadcast operands: the rule's sum(toShape:) is differentiated too.
        try expectSecondOrder([uniform([3, 1], 23), uniform([4], 24)]) { v in try v[0] * v[1] }
        // x * x: one tensor on both sides of the product.
        try expectSecondOrder([uniform([5], 25)]) { v in try v[0] * v[0] * v[0] }
    }

    @Test func divAndScalarDiv() throws {
        try expectSecondOrder([uniform([3, 4], 26), awayFromZero([3, 4], 27, 0.5, 1.5)]) { v in try v[0] / v[1] }
        try expectSecondOrder([uniform([2, 3], 28), awayFromZero([3], 29, 0.5, 1.5)]) { v in try v[0] / v[1] }
        try expectSecondOrder([awayFromZero([6], 30, 0.5, 1.5)]) { v in 2 / v[0] }
    }

    @Test func addSubNegAndScalars() throws {
        try expectSecondOrder([uniform([3, 4], 31), uniform([4], 32)]) { v in
            try square((v[0] + v[1]) - (-v[1]) * 3 - 1) + (2 - v[0]) * 0.5
        }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulTransposes(transposeA: Bool, transposeB: Bool) throws {
        let m = 3, k = 4, n = 2
        let a = uniform(transposeA ? [k, m] : [m, k], 33)
        let b = uniform(transposeB ? [n, k] : [k, n], 34)
        // Bilinear: the second derivative is all cross terms, i.e. the rules of the rules.
        try expectSecondOrder([a, b]) { v in try v[0].matmul(v[1], transposeA: transposeA, transposeB: transposeB) }
        // Nonlinear on top: the incoming gradient depends on both operands.
        try expectSecondOrder([a, b]) { v in
            try BettyTensor.tanh(v[0].matmul(v[1], transposeA: transposeA, transposeB: transposeB))
        }
    }

    @Test func matmulBatchedAndVectors() throws {
        try expectSecondOrder([uniform([2, 3, 4], 35), uniform([2, 4, 2], 36)]) { v in try square(v[0].matmul(v[1])) }
        try expectSecondOrder([uniform([2, 3, 4], 37), uniform([4, 2], 38)]) { v in try square(v[0].matmul(v[1])) }
        try expectSecondOrder([uniform([3, 4], 39), uniform([2, 4, 2], 40)]) { v in try square(v[0].matmul(v[1])) }
        try expectSecondOrder([uniform([4], 41), uniform([4, 3], 42)]) { v in try square(v[0].matmul(v[1])) }
        try expectSecondOrder([uniform([3, 4], 43), uniform([4], 44)]) { v in try square(v[0].matmul(v[1])) }
        // Vectors with a transposed matrix, and two vectors: matmul records these as one product.
        try expectSecondOrder([uniform([4, 3], 45), uniform([4], 46)]) { v in try square(v[0].matmul(v[1], transposeA: true)) }
        try expectSecondOrder([uniform([4], 47), uniform([3, 4], 48)]) { v in try square(v[0].matmul(v[1], transposeB: true)) }
        try expectSecondOrder([uniform([4], 49), uniform([4], 50)]) { v in try square(v[0].matmul(v[1])) }
    }

    @Test func sumMeanMax() throws {
        let x = uniform([2, 3, 4], 45)
        try expectSecondOrder([x]) { v in try square(v[0].sum()) }
        try expectSecondOrder([x]) { v in try square(v[0].sum(axis: 1)) }
        try expectSecondOrder([x]) { v in try square(v[0].sum(axes: [0, 2], keepDims: true)) }
        try expectSecondOrder([x]) { v in try square(v[0].mean()) }
        try expectSecondOrder([x]) { v in try square(v[0].mean(axis: -1)) }
        try expectSecondOrder([x]) { v in try square(v[0].mean(axes: [0, 1], keepDims: true)) }
        // Values 0.1 apart: the argmax does not move under a step of 1e-2.
        let d = distinct([2, 3, 4], 46)
        try expectSecondOrder([d]) { v in try square(v[0].max()) }
        try expectSecondOrder([d]) { v in try square(v[0].max(axis: 1)) }
        try expectSecondOrder([d]) { v in try square(v[0].max(axes: [0, 2], keepDims: true)) }
        try expectSecondOrder([d, uniform([2, 4], 47)]) { v in try v[0].max(axis: 1) * v[1] }
    }

    @Test func broadcastAndSumToShape() throws {
        try expectSecondOrder([uniform([3, 1], 48), uniform([2, 3, 4], 49)]) { v in
            try v[0].broadcast(to: [2, 3, 4]) * v[1]
        }
        try expectSecondOrder([uniform([3, 1], 50)]) { v in try square(v[0].broadcast(to: [2, 3, 4])) }
        try expectSecondOrder([uniform([2, 3, 4], 51), uniform([3, 1], 52)]) { v in
            try v[0].sum(toShape: [3, 1]) * v[1]
        }
        try expectSecondOrder([uniform([2, 3, 4], 53)]) { v in try square(v[0].sum(toShape: [1, 4])) }
    }

    @Test func reshapeAndPermute() throws {
        try expectSecondOrder([uniform([2, 6], 54), uniform([3, 4], 55)]) { v in try v[0].reshaped(to: [3, 4]) * v[1] }
        try expectSecondOrder([uniform([2, 6], 56)]) { v in try square(v[0].reshaped(to: [-1, 2, 2])) }
        try expectSecondOrder([uniform([2, 3, 4], 57), uniform([4, 2, 3], 58)]) { v in
            try v[0].permuted([2, 0, 1]) * v[1]
        }
        try expectSecondOrder([uniform([2, 3, 4], 59)]) { v in try square(v[0].permuted([1, 2, 0])) }
        try expectSecondOrder([uniform([3, 4], 60)]) { v in try square(v[0].transposed()) }
    }

    @Test func concat() throws {
        try expectSecondOrder([uniform([2, 3], 61), uniform([2, 2], 62)]) { v in
            try square(Tensor.concat([v[0], v[1]], axis: 1))
        }
        // A tensor listed twice, on axis 0, with a third operand.
        try expectSecondOrder([uniform([2, 3], 63), uniform([1, 3], 64)]) { v in
            try square(Tensor.concat([v[0], v[1], v[0]], axis: 0))
        }
        try expectSecondOrder([uniform([2, 3], 65), uniform([2, 3], 66)]) { v in
            try Tensor.concat([v[0], v[1]], axis: -1) * Tensor.concat([v[1], v[0]], axis: -1)
        }
    }

    @Test func slice() throws {
        try expectSecondOrder([uniform([3, 5], 67)]) { v in try square(v[0].slice(axis: 1, 1..<4)) }
        try expectSecondOrder([uniform([4, 3], 68), uniform([2, 3], 69)]) { v in
            try v[0].slice(axis: 0, 2..<4) * v[1]
        }
        try expectSecondOrder([uniform([2, 4, 3], 70)]) { v in try square(v[0].slice(axis: -2, 0..<2)) }
    }

    @Test func indexSelect() throws {
        // Repeated indices: the adjoint must add, and its own adjoint select again.
        try expectSecondOrder([uniform([3, 4], 71)]) { v in try square(v[0].indexSelect(axis: 0, indices: [2, 0, 2, 1])) }
        try expectSecondOrder([uniform([3, 4], 72), uniform([3, 3], 73)]) { v in
            try v[0].indexSelect(axis: 1, indices: [3, 3, 0]) * v[1]
        }
    }

    @Test func gather() throws {
        let index1 = try Tensor(shape: [3, 2], scalars: [0, 3, 2, 2, 1, 0])
        try expectSecondOrder([uniform([3, 4], 74)]) { v in try square(v[0].gather(axis: 1, index: index1)) }
        let index0 = try Tensor(shape: [4, 4], scalars: [0, 1, 2, 0, 2, 2, 1, 1, 1, 0, 0, 2, 0, 0, 0, 0])
        try expectSecondOrder([uniform([3, 4], 75), uniform([4, 4], 76)]) { v in
            try v[0].gather(axis: 0, index: index0) * v[1]
        }
    }

    @Test func softmaxAndLogSoftmax() throws {
        try expectSecondOrder([uniform([3, 4], 77, -2, 2)]) { v in try BettyTensor.softmax(v[0], axis: 1) }
        try expectSecondOrder([uniform([3, 4], 78, -2, 2)]) { v in try BettyTensor.softmax(v[0], axis: 0) }
        try expectSecondOrder([uniform([3, 4], 79, -2, 2), uniform([3, 4], 80)]) { v in
            try BettyTensor.softmax(v[0], axis: -1) * v[1]
        }
        try expectSecondOrder([uniform([3, 4], 81, -2, 2)]) { v in try logSoftmax(v[0], axis: 1) }
        try expectSecondOrder([uniform([2, 3, 2], 82, -2, 2)]) { v in try logSoftmax(v[0], axis: 1) }
        try expectSecondOrder([uniform([3, 4], 83, -2, 2), uniform([3, 4], 84)]) { v in
            try logSoftmax(v[0], axis: -1) * v[1]
        }
    }

    @Test func whereSelect() throws {
        let c = try Tensor(shape: [3, 4], scalars: [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0])
        try expectSecondOrder([uniform([3, 4], 85), uniform([4], 86)]) { v in
            try square(Tensor.where(c, v[0], v[1]))
        }
        try expectSecondOrder([uniform([3, 4], 87), uniform([3, 4], 88), uniform([3, 4], 89)]) { v in
            try Tensor.where(c, v[0], v[1]) * v[2]
        }
        // A broadcast condition.
        let row = Tensor([1, 0, 1, 0])
        try expectSecondOrder([uniform([3, 1], 90), uniform([3, 4], 91)]) { v in
            try square(Tensor.where(row, v[0], v[1]))
        }
    }

    // Third order: (op(x))⁴ has a non-zero third derivative, and the second backward pass records
    // the rules of the adjoints (slice ↔ padSlice, indexSelect ↔ indexAdd, gather ↔ scatterAdd,
    // broadcast ↔ sum(toShape:)), which the third pass then differentiates.

    @Test func thirdOrderThroughShapeAndIndexingOps() throws {
        let fourth: (Tensor) throws -> Tensor = { t in try square(square(t)) }
        try expectThirdOrder([uniform([3, 5], 120)]) { v in try fourth(v[0].slice(axis: 1, 1..<4)) }
        try expectThirdOrder([uniform([3, 4], 121)]) { v in try fourth(v[0].indexSelect(axis: 0, indices: [2, 0, 2])) }
        let index = try Tensor(shape: [3, 2], scalars: [0, 3, 2, 2, 1, 0])
        try expectThirdOrder([uniform([3, 4], 122)]) { v in try fourth(v[0].gather(axis: 1, index: index)) }
        try expectThirdOrder([uniform([2, 3], 123), uniform([2, 2], 124)]) { v in
            try fourth(Tensor.concat([v[0], v[1]], axis: 1))
        }
        try expectThirdOrder([uniform([3, 1], 125)]) { v in try fourth(v[0].broadcast(to: [2, 3, 4])) }
        try expectThirdOrder([uniform([2, 3, 4], 126)]) { v in try fourth(v[0].sum(toShape: [3, 1])) }
        try expectThirdOrder([uniform([2, 6], 127)]) { v in try fourth(v[0].reshaped(to: [3, 4])) }
        try expectThirdOrder([uniform([2, 3, 4], 128)]) { v in try fourth(v[0].permuted([2, 0, 1])) }
        try expectThirdOrder([uniform([2, 3, 4], 129)]) { v in try fourth(v[0].sum(axis: 1)) }
        try expectThirdOrder([uniform([2, 3, 4], 130)]) { v in try fourth(v[0].mean(axes: [0, 2])) }
        try expectThirdOrder([distinct([3, 4], 131)]) { v in try fourth(v[0].max(axis: 1)) }
        let c = try Tensor(shape: [3, 4], scalars: [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0])
        try expectThirdOrder([uniform([3, 4], 132), uniform([4], 133)]) { v in try fourth(Tensor.where(c, v[0], v[1])) }
    }

    @Test func thirdOrderThroughNonlinearOps() throws {
        try expectThirdOrder([uniform([3, 4], 140), uniform([4, 2], 141)]) { v in
            try square(square(v[0].matmul(v[1])))
        }
        try expectThirdOrder([uniform([2, 5], 142, -1.5, 1.5)]) { v in BettyTensor.tanh(v[0]) }
        try expectThirdOrder([uniform([2, 5], 143, -1, 1)]) { v in BettyTensor.exp(v[0]) }
        try expectThirdOrder([uniform([2, 5], 144, -3, 3)]) { v in BettyTensor.sigmoid(v[0]) }
        try expectThirdOrder([uniform([3, 4], 145, -2, 2)]) { v in try BettyTensor.softmax(v[0], axis: 1) }
        try expectThirdOrder([uniform([3, 4], 146, -2, 2)]) { v in try logSoftmax(v[0], axis: 1) }
        try expectThirdOrder([uniform([3, 4], 147), awayFromZero([3, 4], 148, 0.5, 1.5)]) { v in try v[0] / v[1] }
        try expectThirdOrder([awayFromZero([3, 4], 149)]) { v in try square(square(relu(v[0]))) }
    }
}

// MARK: - Hessian-vector products of compositions

extension SecondOrderTests {
    @Suite struct HessianVectorProducts {
        /// Central difference of the (first-order) gradient along `v`, in Double from Float32 gradients.
        private static func finiteDifferenceHVP(
            at params: [Tensor], along v: [Tensor], eps: Float,
            _ loss: ([Tensor]) throws -> Tensor
        ) throws -> [[Double]] {
            func gradient(_ sign: Float) throws -> [[Float]] {
                let shifted = try params.indices.map { i in try params[i] + v[i] * (sign * eps) }.map { $0.requiringGrad() }
                return try grad(of: loss(shifted), wrt: shifted).map(\.scalars)
            }
            let plus = try gradient(1), minus = try gradient(-1)
            return zip(plus, minus).map { p, m in
                zip(p, m).map { (Double($0) - Double($1)) / (2 * Double(eps)) }
            }
        }

        /// HVP by double backward: grad(sum_i sum(g_i * v_i)) with g = grad(loss, createGraph: true).
        private static func hvp(at params: [Tensor], along v: [Tensor], _ loss: ([Tensor]) throws -> Tensor) throws -> [Tensor] {
            let leaves = params.map { $0.requiringGrad() }
            let g = try grad(of: loss(leaves), wrt: leaves, createGraph: true)
            var dot = Tensor(0)
            for (gi, vi) in zip(g, v) { dot = try dot + (gi * vi).sum() }
            return try grad(of: dot, wrt: leaves)
        }

        @Test func sinOfLinearTimesInput() throws {
            var gen = RandomGenerator(seed: 2024)
            let w = Tensor.randomNormal([5, 5], std: 0.5, using: &gen)
            let x = Tensor.randomNormal([5], using: &gen)
            let v = Tensor.randomNormal([5], using: &gen)
            // x appears twice: inside sin(W x) and as the multiplier.
            let loss: ([Tensor]) throws -> Tensor = { p in try (BettyTensor.sin(w.matmul(p[0])) * p[0]).sum() }

            let hv = try Self.hvp(at: [x], along: [v], loss)[0].scalars
            let fd = try Self.finiteDifferenceHVP(at: [x], along: [v], eps: 1e-2, loss)[0]
            // Central differences of Float32 gradients (|g| ~ 5) with eps 1e-2: rounding ~5e-5, truncation
            // ~eps²/6 |g'''| ~ 1e-4; atol 2e-3 + rtol 1e-2 is well above both and far below an O(1) error.
            let r = worstRatio(hv, fd, atol: 2e-3, rtol: 1e-2)
            #expect(r.ratio <= 1, "HVP vs finite differences: ratio \(r.ratio) at \(r.at)")

            // Closed form in Double: H_jk = -Σ_i sin(u_i) W_ij W_ik x_i + cos(u_k) W_kj + cos(u_j) W_jk, u = W x.
            let W = w.scalars.map(Double.init), xs = x.scalars.map(Double.init), vs = v.scalars.map(Double.init)
            let u = (0..<5).map { i in (0..<5).reduce(0.0) { $0 + W[i * 5 + $1] * xs[$1] } }
            var exact = [Double](repeating: 0, count: 5)
            for j in 0..<5 {
                for k in 0..<5 {
                    var h = W[k * 5 + j] * Glibc.cos(u[k]) + W[j * 5 + k] * Glibc.cos(u[j])
                    for i in 0..<5 { h -= Glibc.sin(u[i]) * W[i * 5 + j] * W[i * 5 + k] * xs[i] }
                    exact[j] += h * vs[k]
                }
            }
            // Float32 evaluation of sums of ~25 O(1) terms: error ~1e-6 each; 1e-4 abs + 1e-4 rel is ample
            // yet would catch a dropped term (the x-appears-twice cross terms are O(1)).
            let e = worstRatio(hv, exact, atol: 1e-4, rtol: 1e-4)
            #expect(e.ratio <= 1, "HVP vs closed form: ratio \(e.ratio) at \(e.at)")
        }

        /// A 2-layer MLP with cross entropy, at fixed random data.
        private struct MLP {
            let x: Tensor, labels: Tensor, oneHot: Tensor
            let params: [Tensor]  // W1 [4,5], b1 [5], W2 [5,3], b2 [3]

            init(seed: UInt64) throws {
                var gen = RandomGenerator(seed: seed)
                x = Tensor.randomNormal([6, 4], using: &gen)
                labels = Tensor([0, 2, 1, 1, 0, 2])
                oneHot = try Tensor.oneHot(labels, classes: 3)
                params = [
                    Tensor.randomNormal([4, 5], std: 0.7, using: &gen),
                    Tensor.randomNormal([5], std: 0.3, using: &gen),
                    Tensor.randomNormal([5, 3], std: 0.7, using: &gen),
                    Tensor.randomNormal([3], std: 0.3, using: &gen),
                ]
            }

            func preActivation(_ p: [Tensor]) throws -> Tensor { try x.matmul(p[0]) + p[1] }

            func loss(_ p: [Tensor]) throws -> Tensor {
                let logits = try relu(preActivation(p)).matmul(p[2]) + p[3]
                return try (-(oneHot * logSoftmax(logits, axis: 1)).sum(axis: 1)).mean()
            }
        }

        @Test func mlpCrossEntropyAllParameters() throws {
            let mlp = try MLP(seed: 77)
            var gen = RandomGenerator(seed: 78)
            let v = mlp.params.map { Tensor.randomNormal($0.shape, using: &gen) }
            let eps: Float = 1e-2

            // Premise: no hidden pre-activation crosses 0 between p - eps v and p + eps v, so the loss is
            // smooth along the segment and finite differences measure the true Hessian.
            let h = try mlp.preActivation(mlp.params).scalars
            let dh = try (mlp.x.matmul(v[0]) + v[1]).scalars
            let margin = zip(h, dh).map { Swift.abs($0) - eps * Swift.abs($1) }.min()!
            try #require(margin > 1e-3, "a pre-activation crosses the relu kink; pick another seed (margin \(margin))")

            let hv = try Self.hvp(at: mlp.params, along: v, mlp.loss)
            let fd = try Self.finiteDifferenceHVP(at: mlp.params, along: v, eps: eps, mlp.loss)
            for i in 0..<4 {
                #expect(hv[i].shape == mlp.params[i].shape)
                // Gradients are O(0.1-1); Float32 rounding over eps 1e-2 is ~1e-5 and truncation ~1e-4 (the
                // loss is piecewise analytic with small third derivatives); 1e-3 abs + 1e-2 rel catches an
                // O(1) error in any rule.
                let r = worstRatio(hv[i].scalars, fd[i], atol: 1e-3, rtol: 1e-2)
                #expect(r.ratio <= 1, "parameter \(i): ratio \(r.ratio) at \(r.at)")
            }
            // The Hessian part in W1 is not zero: the relu network couples the layers.
            #expect(hv[0].scalars.contains { Swift.abs($0) > 1e-2 })
        }

        @Test func mlpHessianIsSymmetric() throws {
            // uᵀ H v == vᵀ H u: independent of finite differences, catches a rule whose derivative is
            // recorded with the wrong operand.
            let mlp = try MLP(seed: 77)
            var gen = RandomGenerator(seed: 79)
            let u = mlp.params.map { Tensor.randomNormal($0.shape, using: &gen) }
            let v = mlp.params.map { Tensor.randomNormal($0.shape, using: &gen) }
            let hv = try Self.hvp(at: mlp.params, along: v, mlp.loss)
            let hu = try Self.hvp(at: mlp.params, along: u, mlp.loss)
            let uHv = zip(hv, u).reduce(0.0) { acc, p in acc + zip(p.0.scalars, p.1.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
            let vHu = zip(hu, v).reduce(0.0) { acc, p in acc + zip(p.0.scalars, p.1.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
            // Both are sums of ~60 Float32 products of O(1) values: rounding ~1e-5; a wrong rule gives O(1).
            #expect(Swift.abs(uHv - vHu) <= 1e-4 + 1e-4 * Swift.abs(uHv), "uᵀHv \(uHv) vs vᵀHu \(vHu)")
        }

        @Test func exactHessianOfQuadratic() throws {
            let aRows: [[Float]] = [
                [4, 1, -2, 0.5],
                [1, 3, 0.25, -1],
                [-2, 0.25, 5, 1.5],
                [0.5, -1, 1.5, 2],
            ]
            let a = try Tensor(aRows)
            let b = Tensor([1, -2, 0.5, 3])
            let x = Tensor([0.3, -1.2, 2.0, 0.7]).requiringGrad()
            // f = 0.5 xᵀ A x + bᵀ x, written with x twice.
            let f = try (x * a.matmul(x)).sum() * 0.5 + (b * x).sum()
            let g = try grad(of: f, wrt: x, createGraph: true)

            // g = A x + b (A symmetric), referenced in Double.
            let xs: [Double] = [0.3, -1.2, 2.0, 0.7].map { Double(Float($0)) }
            let expectedGrad = (0..<4).map { i in
                (0..<4).reduce(Double(b.scalars[i])) { $0 + Double(aRows[i][$1]) * xs[$1] }
            }
            // Four Float32 products summed: error below 1e-5 of the O(10) terms.
            let gr = worstRatio(g.scalars, expectedGrad, atol: 1e-5, rtol: 1e-5)
            #expect(gr.ratio <= 1, "gradient: ratio \(gr.ratio) at \(gr.at)")

            for k in 0..<4 {
                var unit = [Float](repeating: 0, count: 4)
                unit[k] = 1
                let column = try grad(of: (g * Tensor(unit)).sum(), wrt: x, retainGraph: true)
                // Tight: every entry is a single A entry times 1 (plus exact zeros) halved and added to
                // itself (0.5a + 0.5a == a exactly in binary floating point), so the Float32 result is exact
                // up to BLAS summing exact zeros; 1e-6 allows for nothing more than that.
                let expected = (0..<4).map { Double(aRows[$0][k]) }
                let r = worstRatio(column.scalars, expected, atol: 1e-6, rtol: 0)
                #expect(r.ratio <= 1, "column \(k): ratio \(r.ratio) at \(r.at)")
            }
        }

        @Test func thirdDerivativeOfFourthPower() throws {
            let values: [Float] = [0.5, -1, 1.5, 2, -0.75]
            let x = Tensor(values).requiringGrad()
            let y = BettyTensor.pow(x, 4).sum()
            let g1 = try grad(of: y, wrt: x, createGraph: true)           // 4x³
            let g2 = try grad(of: g1.sum(), wrt: x, createGraph: true)    // 12x²
            let g3 = try grad(of: g2.sum(), wrt: x)                       // 24x
            // pow goes through exp(p log|x|) (a few ulp); 1e-5 relative + 1e-5 absolute covers that at
            // values up to 48, while a missing factor is off by 1/3 or more.
            let r1 = worstRatio(g1.scalars, values.map { 4 * Double($0) * Double($0) * Double($0) }, atol: 1e-5, rtol: 1e-5)
            let r2 = worstRatio(g2.scalars, values.map { 12 * Double($0) * Double($0) }, atol: 1e-5, rtol: 1e-5)
            let r3 = worstRatio(g3.scalars, values.map { 24 * Double($0) }, atol: 1e-5, rtol: 1e-5)
            #expect(r1.ratio <= 1, "first: \(r1.at)")
            #expect(r2.ratio <= 1, "second: \(r2.at)")
            #expect(r3.ratio <= 1, "third: \(r3.at)")
        }

        @Test func thirdDerivativeOfSin() throws {
            let values: [Float] = [0.3, -1.1, 2.0, 2.9, -2.4]
            let x = Tensor(values).requiringGrad()
            let g1 = try grad(of: BettyTensor.sin(x).sum(), wrt: x, createGraph: true)  // cos
            let g2 = try grad(of: g1.sum(), wrt: x, createGraph: true)                 // -sin
            let g3 = try grad(of: g2.sum(), wrt: x)                                    // -cos
            // The SIMD sin/cos are accurate to a few ulp of O(1) values; 1e-5 absolute is ~100 ulp.
            #expect(worstRatio(g1.scalars, values.map { Glibc.cos(Double($0)) }, atol: 1e-5, rtol: 0).ratio <= 1)
            #expect(worstRatio(g2.scalars, values.map { -Glibc.sin(Double($0)) }, atol: 1e-5, rtol: 0).ratio <= 1)
            let r3 = worstRatio(g3.scalars, values.map { -Glibc.cos(Double($0)) }, atol: 1e-5, rtol: 0)
            #expect(r3.ratio <= 1, "third: \(r3.at)")
        }

        @Test func thirdDerivativeWithInputUsedTwice() throws {
            // f = sum(x² sin x); f''' = (6 - x²) cos x - 6x sin x ... computed as d³/dx³ of x² sin x:
            // f' = 2x sin x + x² cos x, f'' = 2 sin x + 4x cos x - x² sin x,
            // f''' = 6 cos x - 6x sin x - x² cos x.
            let values: [Float] = [0.4, -0.9, 1.7, -2.2]
            let x = Tensor(values).requiringGrad()
            let y = try (x * x * BettyTensor.sin(x)).sum()
            let g1 = try grad(of: y, wrt: x, createGraph: true)
            let g2 = try grad(of: g1.sum(), wrt: x, createGraph: true)
            let g3 = try grad(of: g2.sum(), wrt: x)
            let expected = values.map { v -> Double in
                let d = Double(v)
                return 6 * Glibc.cos(d) - 6 * d * Glibc.sin(d) - d * d * Glibc.cos(d)
            }
            // O(10) terms each accurate to a few ulp: 1e-4 abs + 1e-5 rel.
            let r = worstRatio(g3.scalars, expected, atol: 1e-4, rtol: 1e-5)
            #expect(r.ratio <= 1, "third: \(r.at)")
        }
    }
}
