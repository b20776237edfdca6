import BettyTensor
import Foundation

/// Datasets shipped with the package (see Resources/PROVENANCE.md) and Betty's synthetic generators.
public enum BuiltinDataset: String, Sendable, CaseIterable {
    /// 1797 8x8 digit images in [0, 1], labels 0-9.
    case digits
    /// 5000 MNIST images (500 per class), raw pixels 0-255, labels 0-9.
    case mnist5k

    public func load() throws(DataError) -> Dataset {
        guard let xURL = Bundle.module.url(forResource: rawValue + "_x", withExtension: "npy", subdirectory: "Resources"),
              let yURL = Bundle.module.url(forResource: rawValue + "_y", withExtension: "npy", subdirectory: "Resources") else {
            throw .fileNotFound(path: "\(rawValue)_x.npy / \(rawValue)_y.npy in the BettyNN resource bundle")
        }
        return try Dataset(x: NPYReader.read(path: xURL.path), y: NPYReader.read(path: yURL.path))
    }
}

extension Dataset {
    /// Betty's logistic-regression data: w ~ N(0, I), x ~ N(0, I), y = [x·w + 0.1 ε > 0].
    public static func logistic(samples: Int, features: Int, seed: UInt64) throws(DataError) -> Dataset {
        guard samples > 0, features > 0 else {
            throw .invalidArgument("logistic: samples and features must be positive, got \(samples) and \(features)")
        }
        // x, then x·w and the noise beside it, then y: the peak holds x and three sample vectors.
        let floats = MemoryBudget.sum([MemoryBudget.product([samples, features]), MemoryBudget.product([samples, 3]), features])
        try DataError.checkMemory(floats: floats, for: "logistic data of \(samples) samples x \(features) features")
        guard samples <= DataShape.maxDimension, features <= DataShape.maxDimension else {
            throw .invalidArgument("logistic: samples and features must be at most \(DataShape.maxDimension), got \(samples) and \(features)")
        }
        var generator = RandomGenerator(seed: seed)
        let w = Tensor.randomNormal([features], using: &generator)
        let x = Tensor.randomNormal([samples, features], using: &generator)
        let noise = Tensor.randomNormal([samples], std: 0.1, using: &generator)
        // Cannot fail: the shapes are built to match.
        let y = try! (x.matmul(w) + noise) .> 0
        return try Dataset(x: x, y: y)
    }
}

/// Few-shot sinusoid regression (Finn et al.): each task is y = A sin(x - φ) with A ~ U[0.1, 5],
/// φ ~ U[0, π], x ~ U[-5, 5].
public struct SinusoidTasks: Sendable {
    public var generator: RandomGenerator

    public init(seed: UInt64) { generator = RandomGenerator(seed: seed) }

    public struct Task: Sendable {
        public var amplitude: Float
        public var phase: Float
        public var support: Dataset
        public var query: Dataset
    }

    /// A new task with `support` and `query` samples, x as `[n, 1]` and y as `[n, 1]`.
    public mutating func next(support: Int, query: Int) throws(DataError) -> Task {
        guard support > 0, query > 0 else { throw .invalidArgument("sinusoid: support and query sizes must be positive") }
        let amplitude = 0.1 + 4.9 * generator.nextUniform()
        let phase = Float.pi * generator.nextUniform()
        func sample(_ n: Int) throws(DataError) -> Dataset {
            let x = Tensor.randomUniform([n, 1], low: -5, high: 5, using: &generator)
            let y = amplitude * sin(x - phase)
            return try Dataset(x: x, y: y)
        }
        return Task(amplitude: amplitude, phase: phase, support: try sample(support), query: try sample(query))
    }

    /// A pool of `count` tasks as one dataset, a task per sample: x and y of shape
    /// `[count, support + query, 1]`, each task's support points first (what `Episodes` serves).
    public mutating func pool(count: Int, support: Int, query: Int) throws(DataError) -> Dataset {
        guard count > 0 else { throw .invalidArgument("sinusoid: the number of tasks must be positive") }
        guard support > 0, query > 0 else { throw .invalidArgument("sinusoid: support and query sizes must be positive") }
        let points = MemoryBudget.sum([support, query])
        let pointsInAll = points.flatMap { MemoryBudget.product([count, $0]) }
        // x and y twice over (the tasks one by one, then concatenated into the pool), and two small
        // tensors' bookkeeping per task, about 64 floats' worth.
        let floats = MemoryBudget.sum([pointsInAll.flatMap { MemoryBudget.product([$0, 4]) }, MemoryBudget.product([count, 64])])
        try DataError.checkMemory(floats: floats, for: "a sinusoid pool of \(count) tasks of \(support) + \(query) points")
        guard let pointsInAll, pointsInAll <= DataShape.maxDimension else {
            throw .invalidArgument("sinusoid: \(count) tasks of \(support) + \(query) points are more than the \(DataShape.maxDimension) points a tensor axis holds")
        }
        var xs: [Tensor] = [], ys: [Tensor] = []
        xs.reserveCapacity(count)
        ys.reserveCapacity(count)
        for _ in 0..<count {
            let task = try next(support: support, query: query)
            // Cannot fail: both parts are [n, 1].
            xs.append(try! Tensor.concat([task.support.x, task.query.x], axis: 0))
            ys.append(try! Tensor.concat([task.support.y, task.query.y], axis: 0))
        }
        return try Dataset(x: try! Tensor.concat(xs, axis: 0).reshaped(to: [count, support + query, 1]),
                           y: try! Tensor.concat(ys, axis: 0).reshaped(to: [count, support + query, 1]))
    }
}
