import Testing
import BettyNN
import BettyTensor
import Betty

/// Ridge-regression hyperparameter optimization, where the hypergradient has a closed form by the
/// implicit function theorem:
///   inner  w*(λ) = argmin ‖Xw − y‖²/n + Σ λ_j w_j²,   H = 2XᵀX/n + 2 diag(λ)
///   outer  L(w) = ‖X_v w − y_v‖²/m,                   g = ∇L(w*)
///   dL/dλ_j = −(H⁻¹ g)_j · 2 w*_j
@Suite struct RidgeHypergradientTests {
    struct Fixture {
        let x: Tensor, y: Tensor, xv: Tensor, yv: Tensor
        let d = 5, n = 80, m = 40

        init() {
            var gen = RandomGenerator(seed: 3)
            x = Tensor.randomNormal([80, 5], using: &gen)
            let wTrue = Tensor.randomNormal([5], using: &gen)
            y = try! x.matmul(wTrue) + Tensor.randomNormal([80], std: 0.3, using: &gen)
            xv = Tensor.randomNormal([40, 5], using: &gen)
            yv = try! xv.matmul(wTrue) + Tensor.randomNormal([40], std: 0.3, using: &gen)
        }

        /// (H, w*, g) in Double.
        func closedForm(lambda: [Double]) -> (h: [[Double]], w: [Double], g: [Double]) {
            let xs = x.scalars.map(Double.init), ys = y.scalars.map(Double.init)
            var h = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
            var b = [Double](repeating: 0, count: d)
            for i in 0..<n {
                for j in 0..<d {
                    b[j] += 2 * xs[i * d + j] * ys[i] / Double(n)
                    for k in 0..<d { h[j][k] += 2 * xs[i * d + j] * xs[i * d + k] / Double(n) }
                }
            }
            for j in 0..<d { h[j][j] += 2 * lambda[j] }
            let w = solve(h, b)
            let xvs = xv.scalars.map(Double.init), yvs = yv.scalars.map(Double.init)
            var g = [Double](repeating: 0, count: d)
            for i in 0..<m {
                var r = -yvs[i]
                for j in 0..<d { r += xvs[i * d + j] * w[j] }
                for j in 0..<d { g[j] += 2 * r * xvs[i * d + j] / Double(m) }
            }
            return (h, w, g)
        }

        func exactHypergradient(lambda: [Double]) -> [Double] {
            let (h, w, g) = closedForm(lambda: lambda)
            let u = solve(h, g)
            return (0..<d).map { -u[$0] * 2 * w[$0] }
        }

        /// A two-level engine with the inner weights set to w*(λ).
        func engine(lambda: [Float], method: ProblemConfig.Method, sharedLambda: Bool = false,
                    configure: (inout ProblemConfig) -> Void = { _ in }) throws -> Engine {
            let inner = ParameterTensor(Tensor.zeros([d]))
            let outer = ParameterTensor(Tensor(lambda))
            var innerConfig = ProblemConfig()
            innerConfig.type = method
            configure(&innerConfig)
            let (xt, yt, xval, yval) = (x, y, xv, yv)
            let innerProblem = Problem(
                name: "inner", module: inner, optimizer: SGD(inner.parameters, learningRate: 0.1),
                data: [try DataLoader(Dataset(x: xt, y: yt), batchSize: n, shuffle: false)], config: innerConfig
            ) { problem, batch in
                let w = problem.parameters[0], lam = problem["outer"].parameters[0]
                let r = try batch.x.matmul(w) - batch.y
                return try (r * r).mean() + (lam * w * w).sum()
            }
            let outerProblem = Problem(
                name: "outer", module: outer, optimizer: SGD(outer.parameters, learningRate: 1),
                data: [try DataLoader(Dataset(x: xval, y: yval), batchSize: m, shuffle: false)]
            ) { problem, batch in
                let r = try batch.x.matmul(problem["inner"].parameters[0]) - batch.y
                return try (r * r).mean()
            }
            let engine = try Engine(problems: [outerProblem, innerProblem],
                                    u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
            let perFeature = sharedLambda ? [Double](repeating: Double(lambda[0]), count: d) : lambda.map(Double.init)
            let w = closedForm(lambda: perFeature).w
            inner.parameter.assign(Tensor(w.map(Float.init)))
            _ = try engine.hypergradient(of: "inner")  // draws inner's batch
            return engine
        }
    }

    static let lambda: [Float] = [0.05, 0.1, 0.2, 0.4, 0.8]

    @Test func conjugateGradientMatchesTheClosedForm() throws {
        let f = Fixture()
        let exact = f.exactHypergradient(lambda: Self.lambda.map(Double.init))
        // With d = 5 iterations CG solves the 5x5 system exactly (up to Float32 rounding).
        let hg = try f.engine(lambda: Self.lambda, method: .cg) { $0.cgIterations = 5 }.hypergradient(of: "outer")[0].scalars
        for j in 0..<5 {
            // 1e-3 relative, the bar; Float32 CG on a well-conditioned 5x5 system is ~1e-5.
            #expect(Swift.abs(Double(hg[j]) - exact[j]) <= 1e-3 * Swift.abs(exact[j]) + 1e-6, "λ[\(j)]: \(hg[j]) vs \(exact[j])")
        }
    }

    @Test func neumannConvergesToTheClosedForm() throws {
        let f = Fixture()
        let exact = f.exactHypergradient(lambda: Self.lambda.map(Double.init))
        // H's eigenvalues lie in about (1, 5) here: α = 0.3 contracts (I − αH) and 200 terms converge.
        let hg = try f.engine(lambda: Self.lambda, method: .neumann) {
            $0.neumannIterations = 200
            $0.neumannAlpha = 0.3
        }.hypergradient(of: "outer")[0].scalars
        for j in 0..<5 {
            #expect(Swift.abs(Double(hg[j]) - exact[j]) <= 1e-3 * Swift.abs(exact[j]) + 1e-6, "λ[\(j)]: \(hg[j]) vs \(exact[j])")
        }
        // Few terms are a worse approximation: the test can tell.
        let rough = try f.engine(lambda: Self.lambda, method: .neumann) { $0.neumannAlpha = 0.3 }.hypergradient(of: "outer")[0].scalars
        #expect((0..<5).contains { Swift.abs(Double(rough[$0]) - exact[$0]) > 1e-2 * Swift.abs(exact[$0]) })
    }

    @Test func dartsIsTheIdentityHessianApproximation() throws {
        // darts assumes H⁻¹ ≈ I: its value is −g · 2w*, computed by finite differences, which are exact
        // here up to rounding because the inner gradient is linear in λ.
        let f = Fixture()
        let (_, w, g) = f.closedForm(lambda: Self.lambda.map(Double.init))
        let hg = try f.engine(lambda: Self.lambda, method: .darts).hypergradient(of: "outer")[0].scalars
        for j in 0..<5 {
            let expected = -g[j] * 2 * w[j]
            // Float32 differences at ε = 0.01/‖g‖: ~1e-4 relative of the gradient's size.
            #expect(Swift.abs(Double(hg[j]) - expected) <= 2e-3 * Swift.abs(expected) + 1e-5, "λ[\(j)]: \(hg[j]) vs \(expected)")
        }
    }

    @Test(arguments: [ProblemConfig.Method.cg, .neumann])
    func aScalarDecayMatchesTheClosedFormToo(method: ProblemConfig.Method) throws {
        // One λ shared by all features: dL/dλ = Σ_j −(H⁻¹ g)_j · 2 w*_j, the sum of the vector case.
        let f = Fixture()
        let exact = f.exactHypergradient(lambda: [Double](repeating: 0.3, count: 5)).reduce(0, +)
        let hg = try f.engine(lambda: [0.3], method: method, sharedLambda: true) {
            $0.cgIterations = 5
            $0.neumannIterations = 200
            $0.neumannAlpha = 0.3
        }.hypergradient(of: "outer")[0].scalars
        #expect(hg.count == 1)
        #expect(Swift.abs(Double(hg[0]) - exact) <= 1e-3 * Swift.abs(exact) + 1e-6, "\(method): \(hg[0]) vs \(exact)")
    }

    @Test func samaNeedsAdamOnTheLowerLevel() throws {
        let f = Fixture()
        #expect { try f.engine(lambda: Self.lambda, method: .sama).hypergradient(of: "outer") } throws: {
            "\($0)".contains("inner") && "\($0)".contains("Adam")
        }
    }

    @Test func reverseModeThroughManyUnrolledStepsMatchesTheClosedForm() throws {
        // Inner: 300 SGD steps (lr 0.2) from w = 0, recorded; H's eigenvalues lie in about (1, 5), so
        // the iterate and its derivative in λ converge to w*(λ) and dw*/dλ (contraction 0.8^300).
        // Outer: one SGD step with lr 1 and no momentum, so the hypergradient is λ_before − λ_after.
        let f = Fixture()
        let inner = ParameterTensor(Tensor.zeros([f.d]))
        let outer = ParameterTensor(Tensor(Self.lambda))
        var config = ProblemConfig()
        config.type = .reverse
        config.unrollSteps = 300
        let (x, y, xv, yv) = (f.x, f.y, f.xv, f.yv)
        let innerProblem = Problem(name: "inner", module: inner, optimizer: SGD(inner.parameters, learningRate: 0.2),
                                   data: [try DataLoader(Dataset(x: x, y: y), batchSize: f.n, shuffle: false)],
                                   config: config) { p, batch in
            let w = p.parameters[0], lam = p["outer"].parameters[0]
            let r = try batch.x.matmul(w) - batch.y
            return try (r * r).mean() + (lam * w * w).sum()
        }
        innerProblem.onInnerLoopStart = { p in p.module.parameters[0].assign(Tensor.zeros([5])) }
        let outerProblem = Problem(name: "outer", module: outer, optimizer: SGD(outer.parameters, learningRate: 1),
                                   data: [try DataLoader(Dataset(x: xv, y: yv), batchSize: f.m, shuffle: false)]) { p, batch in
            let r = try batch.x.matmul(p["inner"].parameters[0]) - batch.y
            return try (r * r).mean()
        }
        let engine = try Engine(problems: [outerProblem, innerProblem], u2l: ["outer": ["inner"]], l2u: ["inner": ["outer"]])
        try engine.run(iterations: 300)
        let after = outer.value.scalars
        let hg = zip(Self.lambda, after).map { Double($0 - $1) }
        let exact = f.exactHypergradient(lambda: Self.lambda.map(Double.init))
        for j in 0..<5 {
            // 1e-3 relative: the unrolled derivative has converged to ~1e-8, and λ's update is read
            // back from Float32 values of ~0.1 (rounding ~1e-8 against hypergradients of ~1e-2).
            #expect(Swift.abs(hg[j] - exact[j]) <= 1e-3 * Swift.abs(exact[j]) + 2e-6, "λ[\(j)]: \(hg[j]) vs \(exact[j])")
        }
        // The window closed: the inner weights are leaves again and the trajectory is gone.
        #expect(inner.value.isLeaf)
    }
}

/// Gaussian elimination with partial pivoting.
func solve(_ a: [[Double]], _ b: [Double]) -> [Double] {
    var m = a, v = b
    let n = b.count
    for col in 0..<n {
        let pivot = (col..<n).max { Swift.abs(m[$0][col]) < Swift.abs(m[$1][col]) }!
        m.swapAt(col, pivot); v.swapAt(col, pivot)
        for row in (col + 1)..<n {
            let f = m[row][col] / m[col][col]
            for k in col..<n { m[row][k] -= f * m[col][k] }
            v[row] -= f * v[col]
        }
    }
    var x = [Double](repeating: 0, count: n)
    for row in stride(from: n - 1, through: 0, by: -1) {
        var s = v[row]
        for k in (row + 1)..<n { s -= m[row][k] * x[k] }
        x[row] = s / m[row][row]
    }
    return x
}
