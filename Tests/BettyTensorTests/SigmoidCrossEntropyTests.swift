import Testing
import BettyTensor
import _TestSupport

// The fused logistic loss against its composition softplus(x) - x*y, and its first and second
// derivatives against finite differences, in both arguments, with lengths that exercise the
// eight-lane body and the scalar tail.
@Suite struct SigmoidCrossEntropyTests {
    static func uniform(_ dims: [Int], seed: UInt64, low: Float, high: Float) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor.randomUniform(Shape(dims), low: low, high: high, using: &g)
    }

    @Test(arguments: [1, 7, 8, 13, 500])
    func matchesComposition(n: Int) throws {
        let x = Self.uniform([n], seed: 1, low: -30, high: 30), y = Self.uniform([n], seed: 2, low: 0, high: 1)
        let fused = try sigmoidCrossEntropy(logits: x, targets: y, scale: 0.5).scalar
        let composed = try ((softplus(x) - x * y).sum() * 0.5).scalar
        #expect(abs(fused - composed) <= 1e-5 * max(1, abs(composed)))
    }

    @Test func extremeLogits() throws {
        let x = try Tensor(shape: [4], scalars: [-200, 200, 0, -90]), y = try Tensor(shape: [4], scalars: [1, 0, 1, 0])
        let loss = try sigmoidCrossEntropy(logits: x, targets: y).scalar
        #expect(abs(loss - (200 + 200 + Float(0.6931472))) < 1e-3)
        let xr = x.requiringGrad()
        let g = try grad(of: sigmoidCrossEntropy(logits: xr, targets: y), wrt: xr).scalars
        let expected: [Float] = [-1, 1, -0.5, 0]
        #expect(zip(g, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(g)")
    }

    @Test(arguments: [3, 11])
    func firstOrder(n: Int) throws {
        let x = Self.uniform([n], seed: 3, low: -3, high: 3), y = Self.uniform([n], seed: 4, low: 0, high: 1)
        let report = try GradientCheck.check(at: [x, y]) { v in try sigmoidCrossEntropy(logits: v[0], targets: v[1], scale: 0.3) }
        #expect(report.passed, "\(report)")
    }

    @Test(arguments: [3, 11])
    func secondOrder(n: Int) throws {
        let x = Self.uniform([n], seed: 5, low: -3, high: 3), y = Self.uniform([n], seed: 6, low: 0, high: 1)
        let report = try GradientCheck.checkSecondOrder(at: [x, y]) { v in
            try sigmoidCrossEntropy(logits: v[0], targets: v[1], scale: 1 / Float(n))
        }
        #expect(report.passed, "\(report)")
    }

    /// The backward pass reuses the forward's sigmoid(x); it must give the bits the rule written
    /// out in operations gives, recorded (createGraph) or not, and a recorded result must itself
    /// differentiate like sigmoid(x): the second derivative scale * g * s(1 - s).
    @Test(arguments: [5, 8, 21])
    func backwardMatchesTheRuleWrittenOut(n: Int) throws {
        let x = Self.uniform([n], seed: 7, low: -8, high: 8).requiringGrad()
        let y = Self.uniform([n], seed: 8, low: 0, high: 1)
        let scale: Float = 0.25
        let expected = try ((sigmoid(x.detached()) - y) * scale).scalars
        for createGraph in [false, true] {
            let loss = try sigmoidCrossEntropy(logits: x, targets: y, scale: scale)
            let g = try grad(of: loss, wrt: x, createGraph: createGraph)
            #expect(g.scalars == expected, "createGraph: \(createGraph)")
            #expect(g.requiresGrad == createGraph)
            if createGraph {
                let h = try grad(of: g.sum(), wrt: x).scalars
                let s = sigmoid(x.detached())
                let curvature = try (s * (1 - s) * scale).scalars
                #expect(zip(h, curvature).allSatisfy { abs($0 - $1) <= 1e-6 }, "\(h) vs \(curvature)")
            }
        }
    }

    @Test func shapeMismatchIsAnError() {
        #expect(throws: TensorError.self) {
            try sigmoidCrossEntropy(logits: .zeros([3]), targets: .zeros([4]))
        }
    }
}
