import Testing
import BettyTensor
import BettyNN
import _TestSupport

@Suite struct ModuleTests {
    @Test func mlpNamesParametersInStableOrder() {
        var gen = RandomGenerator(seed: 0)
        let mlp = MLP([4, 3, 2], using: &gen)
        #expect(mlp.namedParameters.map(\.name) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(mlp.namedParameters.map(\.parameter.shape) == [[3, 4], [3], [2, 3], [2]])
        #expect(mlp.parameterCount == 3 * 4 + 3 + 2 * 3 + 2)
    }

    @Test func linearMatchesItsDefinition() throws {
        var gen = RandomGenerator(seed: 1)
        let layer = Linear(3, 2, using: &gen)
        let x = try Tensor([[1, 2, 3], [-1, 0, 4]])
        let y = try layer(x).scalars
        let w = layer.weight.value.scalars, b = layer.bias!.value.scalars
        for n in 0..<2 {
            for o in 0..<2 {
                let xs = x.scalars[(n * 3)..<(n * 3 + 3)]
                let expected = zip(xs, w[(o * 3)..<(o * 3 + 3)]).reduce(b[o]) { $0 + $1.0 * $1.1 }
                // One dot product of three terms in Float32: a few ulp of values of order 1.
                #expect(Swift.abs(y[n * 2 + o] - expected) < 1e-5)
            }
        }
    }

    @Test func linearRejectsTheWrongFeatureCount() {
        var gen = RandomGenerator(seed: 1)
        let layer = Linear(3, 2, using: &gen)
        #expect {
            _ = try layer(Tensor.zeros([5, 4]))
        } throws: { error in
            "\(error)".contains("expects 3 features") && "\(error)".contains("[5, 4]")
        }
    }

    @Test func functionalCallUsesGivenParametersAndRestoresOwn() throws {
        var gen = RandomGenerator(seed: 2)
        let mlp = MLP([3, 4, 1], activation: .tanh, using: &gen)
        let x = Tensor.randomNormal([5, 3], using: &gen)
        let own = try mlp(x).scalars
        let doubled = mlp.parameterValues.map { ($0.detached() * 2).requiringGrad() }
        let y = try mlp(x, parameters: doubled)
        #expect(y.scalars != own)
        #expect(try mlp(x).scalars == own)
        // The result is differentiable with respect to the given tensors, not the module's own.
        let g = try grad(of: y.sum(), wrt: doubled)
        #expect(g.count == 4)
        let report = try GradientCheck.check(at: mlp.parameterValues.map { $0.detached() }) { ps in
            try mlp(x, parameters: ps)
        }
        #expect(report.passed, "\(report)")
    }
}
