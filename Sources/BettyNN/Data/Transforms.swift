import BettyTensor
import Foundation

extension Dataset {
    /// Meta-Weight-Net's long-tailed version: class c keeps `n_max * factor^(-c / (C - 1))` of its
    /// samples, so class 0 keeps all and the last keeps 1/factor. The samples kept are a seeded
    /// random choice within each class, as in Betty's and MWN's code: datasets stored class by class
    /// often hold similar images next to each other, and keeping the first few of a rare class gave
    /// near-copies (3 points of test accuracy on mnist5k).
    public func imbalanced(factor: Float, seed: UInt64) throws(DataError) -> Dataset {
        guard factor >= 1 else { throw .invalidArgument("imbalance: factor \(factor) must be >= 1") }
        let labels = try labels()
        let classes = (labels.max() ?? -1) + 1
        // Grouped by the classes present: a label of 1e9 must not make a billion empty groups. An
        // absent class keeps nothing and draws nothing from the generator, so skipping it changes nothing.
        let byClass = Dictionary(grouping: labels.indices, by: { labels[$0] })
        let largest = byClass.values.map(\.count).max() ?? 0
        var keep: [Int] = []
        var generator = RandomGenerator(seed: seed)
        for (c, members) in byClass.sorted(by: { $0.key < $1.key }) {
            let share = classes > 1 ? Float(c) / Float(classes - 1) : 0
            let n = Int((Float(largest) * Float(Foundation.pow(Double(1 / factor), Double(share)))).rounded(.down))
            keep += shuffled(members, using: &generator).prefix(Swift.max(n, 1))
        }
        return try subset(keep.sorted())
    }

    /// Label noise as in Meta-Weight-Net: with probability `ratio` a label is replaced by a class
    /// drawn uniformly from all classes (`.uniform`), or by the next class `(c + 1) mod C` (`.flip`).
    public func withLabelNoise(_ kind: LabelNoise, ratio: Float, classes: Int, seed: UInt64) throws(DataError) -> Dataset {
        guard ratio >= 0 && ratio <= 1 else { throw .invalidArgument("label noise: ratio \(ratio) must be in [0, 1]") }
        guard classes > 1 else { throw .invalidArgument("label noise: needs at least 2 classes, got \(classes)") }
        var labels = try labels(classes: classes)
        var generator = RandomGenerator(seed: seed)
        for i in labels.indices where generator.nextUniform() < ratio {
            switch kind {
            case .uniform: labels[i] = Int(generator.next() % UInt64(classes))
            case .flip: labels[i] = (labels[i] + 1) % classes
            }
        }
        var copy = self
        copy.y = Tensor(labels.map(Float.init))
        return copy
    }
}

public enum LabelNoise: String, Sendable, CaseIterable {
    case uniform, flip
}
