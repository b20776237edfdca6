import Testing
import BettyNN
import BettyTensor
import Betty

/// `Engine.checkHypergradient` on the ridge regression whose hypergradient has a closed form
/// (RidgeHypergradientTests), and the promise that a check changes nothing.
@Suite struct HypergradientCheckTests {
    typealias Fixture = RidgeHypergradientTests.Fixture
    static let lambda = RidgeHypergradientTests.lambda

    /// The inner level at w*(λ), cg with d iterations, 200 Neumann terms at alpha 1 (too large for
    /// this Hessian, whose eigenvalues reach about 5).
    func engine(_ f: Fixture, method: ProblemConfig.Method = .cg) throws -> Engine {
        try f.engine(lambda: Self.lambda, method: method) {
            $0.cgIterations = 5
            $0.neumannIterations = 200
            $0.neumannAlpha = 1
        }
    }

    func computed(_ row: HypergradientCheck.Row?) -> (gradient: [Float], relativeError: Double)? {
        guard let row, case let .computed(gradient, _, _, relativeError) = row.outcome else { return nil }
        return (gradient, relativeError)
    }

    @Test func theReferenceIsTheClosedFormAndCGAndReverseModeMatchIt() throws {
        let f = Fixture()
        let engine = try engine(f)
        // 300 steps of lr 0.1 from w*: the unrolled derivative has converged (contraction 0.9^300).
        let check = try engine.checkHypergradient(of: "outer", settings: .init(reference: .reverse, steps: 300, referenceSteps: 300))
        let exact = f.exactHypergradient(lambda: Self.lambda.map(Double.init))
        let exactNorm = exact.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let referenceError = zip(check.referenceGradient, exact).reduce(0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }.squareRoot()
        #expect(referenceError <= 1e-3 * exactNorm, "reference \(check.referenceGradient) vs \(exact)")
        #expect(check.reference == .reverse)
        for method in ["cg", "reverse"] {
            let row = try #require(computed(check.row(method)), "\(method): \(String(describing: check.row(method)))")
            #expect(row.relativeError <= 1e-3, "\(method): relative error \(row.relativeError)")
        }
        // cg is what the program is configured with.
        #expect(check.rows.filter(\.isConfigured).map(\.method) == ["cg"])
        // darts takes H as the identity: far off here, and the check shows it.
        let darts = try #require(computed(check.row("darts")))
        #expect(darts.relativeError > 0.1)
    }

    @Test func neumannWithAlphaOneIsFlaggedAsDivergent() throws {
        let f = Fixture()
        let check = try engine(f, method: .neumann).checkHypergradient(of: "outer", settings: .init(referenceSteps: 300))
        #expect(check.warnings.count == 1)
        let warning = try #require(check.warnings.first)
        #expect(warning.hasPrefix("neumann on 'inner': alpha 1 × largest curvature"), "\(warning)")
        #expect(warning.contains("diverges"))
        // The curvature estimate is H's largest eigenvalue, 2·λmax(XᵀX/n + diag λ), in Double.
        let (h, _, _) = f.closedForm(lambda: Self.lambda.map(Double.init))
        let largest = powerIteration(h)
        let row = try #require(check.row("neumann"))
        let estimate = try #require(row.detail.split(separator: "alpha·λmax ").last.flatMap { Double($0) })
        #expect(Swift.abs(estimate - largest) <= 1e-2 * largest, "estimate \(estimate) vs \(largest)")
        // With alpha below 2/λmax the same series converges and the warning is gone.
        let calm = try f.engine(lambda: Self.lambda, method: .neumann) {
            $0.neumannIterations = 200
            $0.neumannAlpha = 0.3
        }.checkHypergradient(of: "outer", settings: .init(referenceSteps: 300))
        #expect(calm.warnings.isEmpty)
        let converged = try #require(computed(calm.row("neumann")))
        #expect(converged.relativeError <= 1e-3)
    }

    @Test func centralDifferencesAgreeWithReverseMode() throws {
        let f = Fixture()
        let engine = try engine(f)
        let fd = try engine.checkHypergradient(of: "outer", settings: .init(reference: .fd, referenceSteps: 300))
        let reverse = try engine.checkHypergradient(of: "outer", settings: .init(reference: .reverse, referenceSteps: 300))
        let error = zip(fd.referenceGradient, reverse.referenceGradient).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        #expect(error <= 1e-3 * reverse.referenceNorm, "fd \(fd.referenceGradient) vs reverse \(reverse.referenceGradient)")
        let ownError = try #require(fd.referenceError)
        #expect(ownError > 0 && ownError < 1e-2)
    }

    @Test func aCheckChangesNothing() throws {
        // Two identical programs: one checked part-way, one not; the next steps agree bit for bit.
        let f = Fixture()
        let checked = try engine(f), plain = try engine(f)
        try checked.run(iterations: 3)
        try plain.run(iterations: 3)
        let before = checked.problems.map { $0.parameters.map(\.scalars) }
        _ = try checked.checkHypergradient(of: "outer", settings: .init(reference: .fd, steps: 7, referenceSteps: 20))
        #expect(checked.problems.map { $0.parameters.map(\.scalars) } == before)
        #expect(checked.globalStep == plain.globalStep)
        try checked.run(iterations: 4)
        try plain.run(iterations: 4)
        #expect(checked.problems.map { $0.parameters.map(\.scalars) } == plain.problems.map { $0.parameters.map(\.scalars) })
        #expect(checked.lastHypergradient(of: "outer")?.map(\.scalars) == plain.lastHypergradient(of: "outer")?.map(\.scalars))
    }

    @Test func whatCannotBeCheckedSaysWhy() throws {
        let f = Fixture()
        let engine = try engine(f)
        #expect { try engine.checkHypergradient(of: "inner") } throws: { "\($0)".contains("no lower level is connected to it") }
        #expect { try engine.checkHypergradient(of: "outre") } throws: { "\($0)".contains("outer") }
        #expect { try engine.checkHypergradient(of: "outer", settings: .init(steps: 0)) } throws: { "\($0)".contains("steps must be at least 1") }
        var settings = HypergradientCheck.Settings(reference: .fd)
        settings.finiteDifferenceLimit = 3
        #expect { try engine.checkHypergradient(of: "outer", settings: settings) } throws: { "\($0)".contains("use against=reverse") }
        // sama needs Adam: a row that does not apply says why, and the rest still run.
        let check = try engine.checkHypergradient(of: "outer", settings: .init(referenceSteps: 50))
        guard case let .notApplicable(why)? = check.row("sama")?.outcome else { Issue.record("sama should not apply"); return }
        #expect(why.contains("Adam"))
    }
}

/// The largest eigenvalue of a symmetric positive definite matrix.
private func powerIteration(_ a: [[Double]]) -> Double {
    var v = [Double](repeating: 1, count: a.count), estimate = 0.0
    for _ in 0..<500 {
        let w = a.map { row in zip(row, v).reduce(0) { $0 + $1.0 * $1.1 } }
        let length = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        estimate = zip(w, v).reduce(0) { $0 + $1.0 * $1.1 } / v.reduce(0) { $0 + $1 * $1 }
        v = w.map { $0 / length }
    }
    return estimate
}
