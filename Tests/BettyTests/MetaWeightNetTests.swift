import Testing
import BettyNN
import BettyTensor
import Betty

@Suite struct MetaWeightNetTests {
    @Test func bothLevelsLearnOnLongTailedDigits() throws {
        let digits = try BuiltinDataset.digits.load()
        let parts = try digits.splitPerClass(counts: [100, 10, 40], seed: 0)
        let train = try parts[0].imbalanced(factor: 10, seed: 0)
        let program = try MetaWeightNet(train: train, meta: parts[1], classes: 10, hidden: 32, batchSize: 32)
        let before = program.weightNet.parameterValues.map(\.scalars)
        final class Box: @unchecked Sendable { var losses: [String: [Float]] = [:]; var norms: [Float] = [] }
        let box = Box()
        program.engine.subscribe { event in
            guard case let .step(e) = event else { return }
            box.losses[e.problem, default: []].append(e.loss)
            if let n = e.hypergradientNorm { box.norms.append(n) }
        }
        try program.engine.run(iterations: 150)
        // Unroll 1: the weight net steps once per classifier step, with a finite hypergradient.
        #expect(box.losses["classifier"]?.count == 150 && box.losses["reweight"]?.count == 150)
        #expect(box.norms.count == 150 && box.norms.allSatisfy { $0.isFinite && $0 > 0 })
        // The weight net moved (Adam lr 1e-5 moves each weight by up to ~1e-5 per step).
        #expect(program.weightNet.parameterValues.map(\.scalars) != before)
        // The meta loss fell: mean of the last 20 against the first 20.
        let meta = box.losses["reweight"]!
        let early = meta.prefix(20).reduce(0, +) / 20, late = meta.suffix(20).reduce(0, +) / 20
        #expect(late < early * 0.8, "meta loss \(early) -> \(late)")
    }
}
