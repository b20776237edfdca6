import Testing
import BettyTensor
import _TestSupport

// `adding(_:scaledBy:)` and `dot` make one pass outside recording; they must give the composed
// operations' bits exactly (lengths exercise the eight-lane body and the tail), and while recording
// they are the compositions, so their derivatives are checked against finite differences.
@Suite struct FusedOpTests {
    static func normal(_ dims: [Int], seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor.randomNormal(Shape(dims), using: &g)
    }

    @Test(arguments: [0, 1, 7, 8, 37, 1000])
    func addingScaledGivesTheCompositionsBits(n: Int) throws {
        let a = Self.normal([n], seed: 1), b = Self.normal([n], seed: 2)
        let fused = try a.adding(b, scaledBy: -0.37)
        let composed = try a + -0.37 * b
        #expect(fused.shape == composed.shape)
        #expect(fused.scalars.map(\.bitPattern) == composed.scalars.map(\.bitPattern))
    }

    @Test(arguments: [1, 7, 8, 37, 1000])
    func dotGivesTheCompositionsBits(n: Int) throws {
        let a = Self.normal([n, 1], seed: 3), b = Self.normal([n, 1], seed: 4)
        #expect(try dot(a, b).scalar.bitPattern == (a * b).sum().scalar.bitPattern)
    }

    @Test func broadcastingAndMismatchedShapesFollowTheComposition() throws {
        let a = Self.normal([3, 4], seed: 5), row = Self.normal([4], seed: 6)
        #expect(try a.adding(row, scaledBy: 2).scalars == (a + 2 * row).scalars)
        #expect(throws: TensorError.self) { try dot(a, Self.normal([5], seed: 7)) }
    }

    @Test func derivativesWhileRecording() throws {
        let a = Self.normal([5], seed: 8), b = Self.normal([5], seed: 9)
        let first = try GradientCheck.check(at: [a, b]) { v in try dot(v[0].adding(v[1], scaledBy: 0.7), v[1]) }
        #expect(first.passed, "\(first)")
        let second = try GradientCheck.checkSecondOrder(at: [a, b]) { v in try dot(v[0].adding(v[1], scaledBy: 0.7), v[1] * v[0]) }
        #expect(second.passed, "\(second)")
    }
}
