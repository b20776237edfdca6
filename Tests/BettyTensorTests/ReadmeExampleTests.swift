import Testing
import BettyTensor

/// The README's example, computation for computation, checked against finite differences so the
/// README cannot drift from the library.
@Suite struct ReadmeExampleTests {
    /// The README's outer loss as a function of the decays λ.
    static func outerLoss(_ lambda: Tensor) throws -> Tensor {
        var gen = RandomGenerator(seed: 0)
        let x = Tensor.randomNormal([100, 20], using: &gen)
        let w = Tensor.randomNormal([20], std: 0.3, using: &gen).requiringGrad()

        let inner = try softplus(x.matmul(w)).mean() + (lambda * w * w).sum()
        let g = try grad(of: inner, wrt: w, createGraph: true)
        let w1 = try w - 0.1 * g
        return try (x.matmul(w1) - 1).mean()
    }

    @Test func hypergradientThroughOneStepMatchesFiniteDifferences() throws {
        let lambda = Tensor.full([20], 0.1).requiringGrad()
        let hypergradient = try grad(of: Self.outerLoss(lambda), wrt: lambda).scalars
        // Closed form: d outer/dλ_i = -0.1 * 2 w_i * mean_n(x_ni); non-zero since w starts random.
        var gen = RandomGenerator(seed: 0)
        let x = Tensor.randomNormal([100, 20], using: &gen)
        let w0 = Tensor.randomNormal([20], std: 0.3, using: &gen)
        let closedForm = try (-0.2 * w0 * x.mean(axis: 0)).scalars
        for i in 0..<20 {
            // Same Float32 values summed in a different order: 1e-6 absolute on values of ~1e-2.
            #expect(Swift.abs(hypergradient[i] - closedForm[i]) < 1e-6, "λ[\(i)]: \(hypergradient[i]) vs \(closedForm[i])")
        }
        // Central differences at eps = 1e-2 of an O(1) loss in Float32: 1e-3 absolute is ample, and a
        // wrong rule would be off by the gradient's own size (~1e-2).
        for i in [0, 7, 19] {
            var plus = lambda.scalars, minus = lambda.scalars
            plus[i] += 1e-2
            minus[i] -= 1e-2
            let fp = try Self.outerLoss(Tensor(plus)).scalar
            let fm = try Self.outerLoss(Tensor(minus)).scalar
            let numeric = (fp - fm) / 2e-2
            #expect(Swift.abs(hypergradient[i] - numeric) < 1e-3, "λ[\(i)]: analytic \(hypergradient[i]) numeric \(numeric)")
        }
    }
}
