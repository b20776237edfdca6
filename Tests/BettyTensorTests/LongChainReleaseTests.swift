import BettyTensor
import Foundation
import Testing

// Freeing a graph used to recurse once per node: a chain as long as an unrolled window of a few
// thousand steps overflowed the stack when it was dropped. Nodes now free their inputs from a work list.
@Suite struct LongChainReleaseTests {
    /// Dropped without a backward pass (which would release the nodes' inputs on its own): as a window
    /// is dropped by a cancel, `reset` or `load`.
    @Test func aChainOfTwoHundredThousandNodesIsFreedWithoutOverflowingTheStack() throws {
        let before = MemoryStats.liveBytes
        do {
            let x = Tensor([1, 2, 3]).requiringGrad()
            var y = x
            for _ in 0..<200_000 { y = y * 1.0000001 }
            #expect(y.requiresGrad)
        }
        #expect(MemoryStats.liveBytes == before, "every node's storage was freed")
    }

    @Test func aLongChainStillDifferentiates() throws {
        let x = Tensor([1, 2, 3]).requiringGrad()
        var y = x
        for _ in 0..<200_000 { y = y * 1.0000001 }
        let g = try grad(of: y.sum(), wrt: x, retainGraph: true)
        // d/dx of x * c^n is c^n; Float rounding over 200,000 products stays far below 1e-3.
        let exact = Float(pow(Double(Float(1.0000001)), 200_000))
        #expect(abs(g.scalars[0] / exact - 1) < 1e-3, "\(g.scalars[0]) vs \(exact)")
    }

    @Test func sharedInputsSurviveTheirUsers() throws {
        let x = Tensor([1, 2]).requiringGrad()
        let shared = x * 2
        do { _ = try (shared + 1) * (shared - 1) }
        let g = try grad(of: (shared * shared).sum(), wrt: x)
        #expect(g.scalars == [8, 16])
    }
}
