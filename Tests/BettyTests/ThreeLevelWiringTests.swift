import Testing
import BettyNN
import BettyTensor
import Betty

/// The three-level program of issue 17, every lower level in reverse mode, on each wiring a user may
/// declare, against central differences of the nested unrolled objective computed in Double:
///   bottom: w ∈ R³, L_B = ½ wᵀPw − wᵀMμ + 0.1 μ₀² |w|²,        6 SGD steps (lr 0.2) from w = 0 per window
///   middle: μ ∈ R², L_M = ½ |Dw − t|² + ½ Σ τᵢ μᵢ² + 0.1 μ₀μ₁ [+ ½ (μ₀ − w₀)²],   4 SGD steps (lr 0.3)
///   top:    τ ∈ R², L_T = ½ |μ − c|² [+ ½ (eᵀw − s)²]
/// The top reads both lower levels (or only the middle: a chain); the bracketed middle term mixes the
/// middle's parameters with the bottom's. Top's total gradient over its first window is caught in its
/// gradient callback and compared with dF/dτ by central differences of F(τ) in Double.
@Suite struct ThreeLevelWiringTests {
    static let P: [[Double]] = [[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.2]]
    static let M: [[Double]] = [[1.0, 0.5], [-0.3, 0.8], [0.4, -0.6]]
    static let D: [[Double]] = [[0.7, -0.2, 0.5], [0.1, 0.9, -0.4]]
    static let t: [Double] = [0.5, -0.3], c: [Double] = [0.2, 0.4], e: [Double] = [1.0, -0.5, 0.3], s = 0.25
    static let mu0: [Double] = [0.6, -0.4], tau0: [Double] = [0.8, 1.3]

    struct Variant: CustomTestStringConvertible, Sendable {
        var topReadsBottom: Bool
        var middleMixes: Bool
        var u2l: [String: [String]]
        var l2u: [String: [String]]
        var name: String
        var testDescription: String { name }
    }

    static let variants: [Variant] = [
        Variant(topReadsBottom: true, middleMixes: false, u2l: ["top": ["middle", "bottom"], "middle": ["bottom"]],
                l2u: ["bottom": ["middle", "top"], "middle": ["top"]], name: "top reads both, wired as three_levels.betty"),
        Variant(topReadsBottom: true, middleMixes: false, u2l: ["top": ["middle"], "middle": ["bottom"]],
                l2u: ["bottom": ["middle", "top"], "middle": ["top"]], name: "top reads both, u2l top: [middle] only"),
        Variant(topReadsBottom: false, middleMixes: false, u2l: ["top": ["middle"], "middle": ["bottom"]],
                l2u: ["bottom": ["middle"], "middle": ["top"]], name: "a chain"),
        Variant(topReadsBottom: false, middleMixes: true, u2l: ["top": ["middle"], "middle": ["bottom"]],
                l2u: ["bottom": ["middle"], "middle": ["top"]], name: "a chain whose middle mixes its parameters with the bottom's"),
        Variant(topReadsBottom: true, middleMixes: true, u2l: ["top": ["middle", "bottom"], "middle": ["bottom"]],
                l2u: ["bottom": ["middle", "top"], "middle": ["top"]], name: "top reads both, the middle mixes"),
    ]

    // MARK: - The nested objective in Double

    static func matvec(_ a: [[Double]], _ x: [Double]) -> [Double] { a.map { row in zip(row, x).map(*).reduce(0, +) } }

    /// The bottom's window from w = 0 with μ fixed: w after 6 steps and J = dw/dμ (3x2).
    static func bottomWindow(_ mu: [Double]) -> (w: [Double], J: [[Double]]) {
        var w = [0.0, 0.0, 0.0]
        var J = Array(repeating: [0.0, 0.0], count: 3)
        for _ in 0..<6 {
            let pw = matvec(P, w), mmu = matvec(M, mu)
            let g = (0..<3).map { pw[$0] - mmu[$0] + 0.2 * mu[0] * mu[0] * w[$0] }
            // dg/dμ = P J − M + 0.2 μ₀² J + 0.4 μ₀ w e₀ᵀ
            var dg = Array(repeating: [0.0, 0.0], count: 3)
            for i in 0..<3 {
                for j in 0..<2 {
                    var pj = 0.0
                    for k in 0..<3 { pj += P[i][k] * J[k][j] }
                    dg[i][j] = pj - M[i][j] + 0.2 * mu[0] * mu[0] * J[i][j] + (j == 0 ? 0.4 * mu[0] * w[i] : 0)
                }
            }
            for i in 0..<3 {
                w[i] -= 0.2 * g[i]
                for j in 0..<2 { J[i][j] -= 0.2 * dg[i][j] }
            }
        }
        return (w, J)
    }

    /// F(τ): four middle steps, each on the total gradient through the bottom's window, then the top's loss.
    static func nested(_ tau: [Double], _ v: Variant) -> Double {
        var mu = mu0
        var lastW = [0.0, 0.0, 0.0]
        for _ in 0..<4 {
            let (w, J) = bottomWindow(mu)
            lastW = w
            let dw = matvec(D, w)
            let r = (0..<2).map { dw[$0] - t[$0] }
            // ∂L_M/∂w = Dᵀ r (+ the mixed term's −(μ₀ − w₀) e₀); ∂L_M/∂μ = τ⊙μ + 0.1 (μ₁, μ₀) (+ (μ₀ − w₀) e₀)
            var dLdw = (0..<3).map { k in (0..<2).map { D[$0][k] * r[$0] }.reduce(0, +) }
            var partial = [tau[0] * mu[0] + 0.1 * mu[1], tau[1] * mu[1] + 0.1 * mu[0]]
            if v.middleMixes {
                dLdw[0] -= mu[0] - w[0]
                partial[0] += mu[0] - w[0]
            }
            let g = (0..<2).map { j in partial[j] + (0..<3).map { J[$0][j] * dLdw[$0] }.reduce(0, +) }
            mu = (0..<2).map { mu[$0] - 0.3 * g[$0] }
        }
        var f = 0.5 * zip(mu, c).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        if v.topReadsBottom {
            let ew = zip(e, lastW).map(*).reduce(0, +)
            f += 0.5 * (ew - s) * (ew - s)
        }
        return f
    }

    static func reference(_ v: Variant) -> [Double] {
        let h = 1e-5
        return (0..<2).map { j in
            var plus = tau0, minus = tau0
            plus[j] += h
            minus[j] -= h
            return (nested(plus, v) - nested(minus, v)) / (2 * h)
        }
    }

    // MARK: - The program

    static func tensor(_ rows: [[Double]]) throws -> Tensor {
        try Tensor(rows.flatMap { $0.map(Float.init) }).reshaped(to: [rows.count, rows[0].count])
    }

    /// Top's total gradient over its first window, as the engine applies it.
    static func engineGradient(_ v: Variant, requireTopStep: Bool = true) throws -> [Double] {
        let data = try Dataset(x: Tensor.ones([1, 1]), y: Tensor.zeros([1]))
        let w = ParameterTensor(Tensor.zeros([3])), mu = ParameterTensor(Tensor(mu0.map(Float.init)))
        let tau = ParameterTensor(Tensor(tau0.map(Float.init)))
        let (p, m, d) = (try tensor(P), try tensor(M), try tensor(D))
        let (target, center, ee) = (Tensor(t.map(Float.init)), Tensor(c.map(Float.init)), Tensor(e.map(Float.init)))
        let first = Tensor([1, 0]), second = Tensor([0, 1])
        var reverse = ProblemConfig()
        reverse.type = .reverse
        var bottomConfig = reverse, middleConfig = reverse
        bottomConfig.unrollSteps = 6
        middleConfig.unrollSteps = 4
        let bottom = Problem(name: "bottom", module: w, optimizer: SGD(w.parameters, learningRate: 0.2),
                             data: [try DataLoader(data, batchSize: 1)], config: bottomConfig) { problem, _ in
            let w = problem.parameters[0], mu = problem["middle"].parameters[0]
            let mu0 = try (mu * first).sum()
            return try 0.5 * (w * p.matmul(w)).sum() - (w * m.matmul(mu)).sum() + 0.1 * mu0 * mu0 * (w * w).sum()
        }
        bottom.onInnerLoopStart = { problem in problem.module.parameters[0].assign(Tensor.zeros([3])) }
        let middle = Problem(name: "middle", module: mu, optimizer: SGD(mu.parameters, learningRate: 0.3),
                             data: [try DataLoader(data, batchSize: 1)], config: middleConfig) { problem, _ in
            let w = problem["bottom"].parameters[0], mu = problem.parameters[0], tau = problem["top"].parameters[0]
            let r = try d.matmul(w) - target
            var loss = try 0.5 * (r * r).sum() + 0.5 * (tau * mu * mu).sum() + 0.1 * (mu * first).sum() * (mu * second).sum()
            if v.middleMixes {
                let gap = try (mu * first).sum() - (w * Tensor([1, 0, 0])).sum()
                loss = try loss + 0.5 * gap * gap
            }
            return loss
        }
        final class Caught: @unchecked Sendable { var gradient: [Float]?; var latest: [Float]? }
        let caught = Caught()
        let top = Problem(name: "top", module: tau, optimizer: SGD(tau.parameters, learningRate: 0),
                          data: [try DataLoader(data, batchSize: 1)]) { problem, _ in
            let mu = problem["middle"].parameters[0]
            var loss = try 0.5 * ((mu - center) * (mu - center)).sum()
            if v.topReadsBottom {
                let gap = try (problem["bottom"].parameters[0] * ee).sum() - Float(s)
                loss = try loss + 0.5 * gap * gap
            }
            return loss
        }
        top.gradCallback = { g in
            if caught.gradient == nil { caught.gradient = g[0].scalars }
            caught.latest = g[0].scalars
            return g
        }
        let engine = try Engine(problems: [top, middle, bottom], u2l: v.u2l, l2u: v.l2u)
        try engine.run(iterations: 24)
        guard let gradient = caught.gradient else {
            if requireTopStep { Issue.record("the top did not step in 24 global steps") }
            return []
        }
        // What the engine keeps for the user is what it applied, also after every window closed.
        #expect(engine.lastHypergradient(of: "top")?.first?.scalars == caught.latest)
        return gradient.map(Double.init)
    }

    @Test(arguments: variants)
    func topGradientIsTheDerivativeOfTheNestedObjective(_ v: Variant) throws {
        let expected = Self.reference(v)
        let got = try Self.engineGradient(v)
        let difference = zip(got, expected).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        let norm = expected.map { $0 * $0 }.reduce(0, +).squareRoot()
        #expect(norm > 1e-3, "a vanishing gradient would test nothing")
        // Float32 through 24 unrolled steps of O(1) values against Double central differences (~1e-9).
        #expect(difference <= 1e-4 * norm, "\(v.name): engine \(got), nested finite differences \(expected), relative error \(difference / norm)")
    }
}
