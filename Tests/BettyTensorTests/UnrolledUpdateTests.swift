import Testing
import BettyTensor
import _TestSupport

#if canImport(Glibc)
import Glibc
#endif

// Hypergradients through unrolled gradient descent:
//
//     w_{k+1} = w_k - η ∇_w (f(w_k) + Σ_j λ_j w_kj²),   dL(w_K)/dλ
//
// taken by differentiating through the K steps (each inner ∇_w recorded with createGraph: true),
// and compared with central differences in λ of the whole unroll re-run without an outer graph:
// once with the library in Float32 (inner gradient by a plain grad, no createGraph), and once with
// an independent Double replica whose inner gradient is written in closed form.

// MARK: - The problem, in the library

private enum InnerLoss: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case leastSquares, logistic
    var testDescription: String { rawValue }
}

private struct Problem {
    let kind: InnerLoss
    let x: Tensor, y: Tensor        // training data [n, d], [n]
    let xVal: Tensor, yVal: Tensor  // validation data [m, d], [m]
    let w0: Tensor                  // [d]
    let eta: Float

    static let d = 3

    init(_ kind: InnerLoss, seed: UInt64) {
        var gen = RandomGenerator(seed: seed)
        let n = 8, m = 6, d = Problem.d
        self.kind = kind
        x = Tensor.randomNormal([n, d], using: &gen)
        xVal = Tensor.randomNormal([m, d], using: &gen)
        let wTrue = Tensor.randomNormal([d], using: &gen)
        func targets(_ a: Tensor, _ count: Int) -> Tensor {
            let clean = try! a.matmul(wTrue).scalars
            let noise = (0..<count).map { _ in 0.3 * gen.nextNormal() }
            switch kind {
            case .leastSquares: return Tensor(zip(clean, noise).map { $0 + $1 })
            case .logistic: return Tensor(zip(clean, noise).map { $0 + $1 >= 0 ? 1 : -1 })
            }
        }
        y = targets(x, n)
        yVal = targets(xVal, m)
        w0 = Tensor.randomNormal([d], std: 0.5, using: &gen)
        eta = kind == .leastSquares ? 0.1 : 0.5
    }

    /// f(w) on (a, b): mean squared residual, or mean logistic loss log(1 + exp(-b (a w))).
    func loss(_ w: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        let z = try a.matmul(w)
        switch kind {
        case .leastSquares:
            let r = try z - b
            return try (r * r).mean()
        case .logistic:
            return try softplus(-(b * z)).mean()
        }
    }

    /// w_K, recorded: every inner gradient is taken with createGraph so w_K depends on λ (and on
    /// the training data, if it requires a gradient).
    func unrolled(lambda: Tensor, steps: Int, x: Tensor? = nil) throws -> Tensor {
        let xTrain = x ?? self.x
        var w = w0.requiringGrad()
        for _ in 0..<steps {
            let inner = try loss(w, xTrain, y) + (lambda * (w * w)).sum()
            let g = try grad(of: inner, wrt: w, createGraph: true)
            w = try w - g * eta
        }
        return w
    }

    /// The same unroll without an outer graph: each inner gradient is a plain first-order grad and
    /// the update runs under withoutGrad. Returns L(w_K) on the validation data (or training data).
    func unrolledLoss(lambda: Tensor, steps: Int, upperOnTraining: Bool = false) throws -> Double {
        var w = w0
        for _ in 0..<steps {
            let leaf = w.requiringGrad()
            let inner = try loss(leaf, x, y) + (lambda * (leaf * leaf)).sum()
            let g = try grad(of: inner, wrt: leaf)
            w = try withoutGrad { try w - g * eta }
        }
        let upper = try withoutGrad {
            try upperOnTraining ? loss(w, x, y) : loss(w, xVal, yVal)
        }
        #expect(!upper.requiresGrad)
        return Double(upper.scalar)
    }

    var replica: DoubleReplica {
        DoubleReplica(kind: kind, d: Problem.d, x: x.scalars.map(Double.init), y: y.scalars.map(Double.init),
                      xVal: xVal.scalars.map(Double.init), yVal: yVal.scalars.map(Double.init),
                      w0: w0.scalars.map(Double.init), eta: Double(eta))
    }
}

// MARK: - An independent replica in Double, with the inner gradient in closed form

private struct DoubleReplica {
    let kind: InnerLoss
    let d: Int
    var x: [Double], y: [Double], xVal: [Double], yVal: [Double]
    let w0: [Double]
    let eta: Double

    private func logistic(_ t: Double) -> Double { 1 / (1 + Glibc.exp(-t)) }

    func loss(_ w: [Double], _ a: [Double], _ b: [Double]) -> Double {
        var total = 0.0
        for i in b.indices {
            let z = (0..<d).reduce(0.0) { $0 + a[i * d + $1] * w[$1] }
            switch kind {
            case .leastSquares: total += (z - b[i]) * (z - b[i])
            case .logistic: total += Glibc.log1p(Glibc.exp(-b[i] * z))
            }
        }
        return total / Double(b.count)
    }

    /// ∇f: (2/n) aᵀ(a w - b), or -(1/n) Σ b_i σ(-b_i z_i) a_i.
    func gradient(_ w: [Double], _ a: [Double], _ b: [Double]) -> [Double] {
        var g = [Double](repeating: 0, count: d)
        let n = Double(b.count)
        for i in b.indices {
            let z = (0..<d).reduce(0.0) { $0 + a[i * d + $1] * w[$1] }
            let c: Double
            switch kind {
            case .leastSquares: c = 2 * (z - b[i]) / n
            case .logistic: c = -b[i] * logistic(-b[i] * z) / n
            }
            for j in 0..<d { g[j] += c * a[i * d + j] }
        }
        return g
    }

    /// L(w_K) with a per-feature λ (a scalar λ is the same value in every slot).
    func unrolledLoss(lambda: [Double], steps: Int, upperOnTraining: Bool = false) -> Double {
        var w = w0
        for _ in 0..<steps {
            let g = gradient(w, x, y)
            for j in 0..<d { w[j] -= eta * (g[j] + 2 * lambda[j] * w[j]) }
        }
        return upperOnTraining ? loss(w, x, y) : loss(w, xVal, yVal)
    }
}

/// Central difference of `f` in Double.
private func centralDifference(_ eps: Double, _ f: (Double) throws -> Double) rethrows -> Double {
    try (f(eps) - f(-eps)) / (2 * eps)
}

private func closeEnough(_ a: Double, _ b: Double, atol: Double, rtol: Double) -> Bool {
    Swift.abs(a - b) <= atol + rtol * Swift.abs(b)
}

// MARK: - Tests

@Suite struct UnrolledUpdateTests {
    static let lambda0: Float = 0.1

    @Test(arguments: InnerLoss.allCases, [5, 20])
    fileprivate func scalarLambda(kind: InnerLoss, steps: Int) throws {
        let p = Problem(kind, seed: kind == .leastSquares ? 101 : 202)
        let lambda = Tensor(Self.lambda0).requiringGrad()
        let wK = try p.unrolled(lambda: lambda, steps: steps)
        let upper = try p.loss(wK, p.xVal, p.yVal)
        let hyper = try grad(of: upper, wrt: lambda).scalar

        // The Double replica agrees with the library's forward unroll: Float32 rounding over K steps
        // of O(1) values stays below 1e-5 relative; a wrong update would differ at O(η λ).
        let replica = p.replica
        let replicaLoss = replica.unrolledLoss(lambda: Array(repeating: Double(Self.lambda0), count: Problem.d), steps: steps)
        #expect(closeEnough(Double(upper.scalar), replicaLoss, atol: 1e-5, rtol: 1e-4),
                "forward: library \(upper.scalar), Double replica \(replicaLoss)")

        // Reference 1: Double replica, eps 1e-4 (truncation ~1e-8 |L'''|, rounding ~1e-12).
        let reference = centralDifference(1e-4) { e in
            replica.unrolledLoss(lambda: Array(repeating: Double(Self.lambda0) + e, count: Problem.d), steps: steps)
        }
        // The hypergradient is a sum over K steps of Float32 vector-Jacobian products of O(1)
        // values: relative error ~1e-7·K (observed ~1e-7); 2e-4 relative + 1e-6 absolute leaves a
        // margin of 10x at K = 20 and is far below the O(1) relative error of a dropped term.
        #expect(closeEnough(Double(hyper), reference, atol: 1e-6, rtol: 2e-4),
                "K=\(steps) \(kind): autodiff \(hyper), Double finite difference \(reference)")
        // The hypergradient is not trivially small, so the comparison means something.
        #expect(Swift.abs(reference) > 1e-3, "reference hypergradient \(reference) is too small to test")

        // Reference 2: the library's own unroll in Float32 at λ ± 1e-2 without the outer graph.
        // Float32 loss values O(1) carry ~1e-7 rounding, so the difference quotient has ~1e-5 noise,
        // and truncation is ~1e-4 |L'''|; 2e-3 absolute + 2e-2 relative.
        let libraryFD = try centralDifference(1e-2) { e in
            try p.unrolledLoss(lambda: Tensor(Self.lambda0 + Float(e)), steps: steps)
        }
        #expect(closeEnough(Double(hyper), libraryFD, atol: 2e-3, rtol: 2e-2),
                "K=\(steps) \(kind): autodiff \(hyper), Float32 finite difference \(libraryFD)")
    }

    @Test(arguments: InnerLoss.allCases, [5, 20])
    fileprivate func vectorLambda(kind: InnerLoss, steps: Int) throws {
        let p = Problem(kind, seed: kind == .leastSquares ? 303 : 404)
        let lambdaValues: [Float] = [0.05, 0.2, 0.1]
        let lambda = Tensor(lambdaValues).requiringGrad()
        let wK = try p.unrolled(lambda: lambda, steps: steps)
        let hyper = try grad(of: p.loss(wK, p.xVal, p.yVal), wrt: lambda)
        #expect(hyper.shape == [3])

        let replica = p.replica
        for j in 0..<3 {
            let reference = centralDifference(1e-4) { e in
                var l = lambdaValues.map(Double.init)
                l[j] += e
                return replica.unrolledLoss(lambda: l, steps: steps)
            }
            // As for a scalar λ: Float32 accumulation over K steps ~1e-7·K relative.
            #expect(closeEnough(Double(hyper.scalars[j]), reference, atol: 1e-6, rtol: 2e-4),
                    "K=\(steps) \(kind) λ[\(j)]: autodiff \(hyper.scalars[j]), finite difference \(reference)")
        }
        // The components differ (one λ per feature really is per feature): the Double references
        // of the first two are more than 1e-3 apart for this data.
        let r0 = centralDifference(1e-4) { e in replica.unrolledLoss(lambda: [0.05 + e, 0.2, 0.1], steps: steps) }
        let r1 = centralDifference(1e-4) { e in replica.unrolledLoss(lambda: [0.05, 0.2 + e, 0.1], steps: steps) }
        #expect(Swift.abs(r0 - r1) > 1e-3, "per-feature hypergradients \(r0), \(r1) do not differ")

        // Float32 library finite differences on one component, as a check of the library forward.
        let libraryFD = try centralDifference(1e-2) { e in
            var l = lambdaValues
            l[1] += Float(e)
            return try p.unrolledLoss(lambda: Tensor(l), steps: steps)
        }
        // Same budget as the scalar case (noise ~1e-5, truncation ~1e-4).
        #expect(closeEnough(Double(hyper.scalars[1]), libraryFD, atol: 2e-3, rtol: 2e-2))
    }

    @Test(arguments: InnerLoss.allCases, [5, 20])
    fileprivate func upperObjectiveSharesTrainingData(kind: InnerLoss, steps: Int) throws {
        // L = f(w_K) on the training data, and the training data itself requires a gradient: it
        // enters every inner step and the upper objective, so dL/dX sums K + 1 paths.
        let p = Problem(kind, seed: kind == .leastSquares ? 505 : 606)
        let lambda = Tensor(Self.lambda0).requiringGrad()
        let xLeaf = p.x.requiringGrad()
        let wK = try p.unrolled(lambda: lambda, steps: steps, x: xLeaf)
        let upper = try p.loss(wK, xLeaf, p.y)
        let g = try grad(of: upper, wrt: [lambda, xLeaf])

        let replica = p.replica
        let lambdas = { (e: Double) in Array(repeating: Double(Self.lambda0) + e, count: Problem.d) }
        let reference = centralDifference(1e-4) { e in
            replica.unrolledLoss(lambda: lambdas(e), steps: steps, upperOnTraining: true)
        }
        // Float32 accumulation over K steps ~1e-7·K relative (see scalarLambda).
        #expect(closeEnough(Double(g[0].scalar), reference, atol: 1e-6, rtol: 2e-4),
                "K=\(steps) \(kind) dL/dλ: autodiff \(g[0].scalar), finite difference \(reference)")
        #expect(Swift.abs(reference) > 1e-4, "reference \(reference) is too small to test")

        let libraryFD = try centralDifference(1e-2) { e in
            try p.unrolledLoss(lambda: Tensor(Self.lambda0 + Float(e)), steps: steps, upperOnTraining: true)
        }
        // Float32 loss noise ~1e-5 over 2e-2, truncation ~1e-4: 2e-3 absolute + 2e-2 relative.
        #expect(closeEnough(Double(g[0].scalar), libraryFD, atol: 2e-3, rtol: 2e-2),
                "K=\(steps) \(kind) dL/dλ: autodiff \(g[0].scalar), Float32 finite difference \(libraryFD)")

        #expect(g[1].shape == p.x.shape)
        let analytic = g[1].scalars
        var worst = (ratio: 0.0, at: "")
        for i in analytic.indices {
            let reference = centralDifference(1e-4) { e in
                var r = replica
                r.x[i] += e
                return r.unrolledLoss(lambda: lambdas(0), steps: steps, upperOnTraining: true)
            }
            // Same Float32 budget as dL/dλ: 1e-6 absolute + 2e-4 relative.
            let ratio = Swift.abs(Double(analytic[i]) - reference) / (1e-6 + 2e-4 * Swift.abs(reference))
            if ratio > worst.ratio || ratio.isNaN {
                worst = (ratio.isNaN ? .infinity : ratio, "X[\(i)]: autodiff \(analytic[i]), finite difference \(reference)")
            }
        }
        #expect(worst.ratio <= 1, "K=\(steps) \(kind) dL/dX: \(worst.at)")
    }

    @Test func zeroStepsLeaveLambdaUnused() throws {
        // With K = 0 the upper loss does not depend on λ: grad must refuse (λ unused), and with
        // allowUnused give exactly zero. Guards against a hypergradient that leaks λ directly.
        let p = Problem(.leastSquares, seed: 707)
        let lambda = Tensor(Self.lambda0).requiringGrad()
        let w0 = try p.unrolled(lambda: lambda, steps: 0)
        let upper = try p.loss(w0, p.xVal, p.yVal)
        #expect(throws: TensorError.self) { try grad(of: upper, wrt: [lambda], retainGraph: true) }
        let g = try grad(of: upper, wrt: [lambda], allowUnused: true)
        #expect(g[0].scalars == [0])
    }
}
