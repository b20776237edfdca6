import Testing
import BettyTensor
import _TestSupport

@Suite struct SmokeTests {
    @Test func addMulGrad() throws {
        let a = Tensor([1, 2, 3]).requiringGrad()
        let b = Tensor([4, 5, 6]).requiringGrad()
        let y = try (a * b + a).sum()
        let g = try grad(of: y, wrt: [a, b])
        #expect(g[0].scalars == [5, 6, 7])
        #expect(g[1].scalars == [1, 2, 3])
    }

    @Test func matmulGradCheck() throws {
        var gen = RandomGenerator(seed: 1)
        let a = Tensor.randomNormal([3, 4], using: &gen), b = Tensor.randomNormal([4, 2], using: &gen)
        let r = try GradientCheck.check(at: [a, b]) { x in try x[0].matmul(x[1]) }
        #expect(r.passed, "\(r)")
        let r2 = try GradientCheck.checkSecondOrder(at: [a, b]) { x in try tanh(x[0].matmul(x[1])) }
        #expect(r2.passed, "\(r2)")
    }
}
