import BettyTensor

/// One minibatch.
public struct Batch: Sendable {
    public var x: Tensor
    public var y: Tensor
    /// Indices of the samples in the dataset, in batch order.
    public var indices: [Int]

    public init(x: Tensor, y: Tensor, indices: [Int] = []) {
        self.x = x
        self.y = y
        self.indices = indices
    }
}

/// Endless minibatches over a dataset: seeded shuffling each epoch, a fixed batch size, optionally
/// dropping the last short batch. `epoch` counts completed passes. `replaceData(with:)` gives it other
/// data, which it takes up at its next epoch (DataLoader+Replacement.swift).
public final class DataLoader: @unchecked Sendable {
    /// The data this loader serves (for a part of episodes, that part of the current tasks).
    public var dataset: Dataset {
        if let episodes { return episodes.part == .support ? episodes.owner.support : episodes.owner.query }
        return own
    }
    /// The data of a plain loader (a part of episodes reads its owner's instead).
    var own: Dataset
    /// Data waiting to replace `own` when the current epoch ends.
    var waiting: Dataset?
    /// The seed the first epoch was shuffled with: a loader that has served nothing and is given
    /// other data starts over from it, as a new loader over that data would.
    let seed: UInt64
    public let batchSize: Int
    public let shuffle: Bool
    public let dropLast: Bool
    var completedEpochs = 0
    var shuffler: RandomGenerator
    var order: [Int] = []
    var position = 0
    /// Set when this loader is one part of a stream of few-shot episodes, which then owns its state
    /// (the four stored fields above stay unused).
    let episodes: (owner: Episodes, part: Episodes.Part)?

    /// Completed passes over the dataset (for a part of episodes, over its tasks).
    public var epoch: Int { episodes?.owner.cursor.completedEpochs ?? completedEpochs }
    /// The generator that will shuffle the next epoch.
    public var generator: RandomGenerator { episodes?.owner.cursor.shuffler ?? shuffler }

    public init(_ dataset: Dataset, batchSize: Int, shuffle: Bool = true, dropLast: Bool = false,
                seed: UInt64 = 0) throws(DataError) {
        guard batchSize > 0 else { throw .invalidArgument("DataLoader: batch size must be positive, got \(batchSize)") }
        guard dataset.count > 0 else { throw .invalidArgument("DataLoader: the dataset is empty") }
        guard !dropLast || batchSize <= dataset.count else {
            throw .invalidArgument("DataLoader: batch size \(batchSize) with dropLast exceeds the \(dataset.count) samples; no batch would ever be produced")
        }
        own = dataset
        self.seed = seed
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        shuffler = RandomGenerator(seed: seed)
        episodes = nil
        startEpoch()
    }

    init(episodes owner: Episodes, part: Episodes.Part) {
        // Unused: the owner's parts are read, and change when the owner takes up new tasks.
        own = Self.noData
        seed = owner.cursor.seed
        batchSize = 1
        shuffle = owner.cursor.shuffle
        dropLast = false
        shuffler = owner.cursor.shuffler
        episodes = (owner, part)
    }

    private static let noData = try! Dataset(x: Tensor([Float]()), y: Tensor([Float]()))

    /// The first batch this loader could serve, without moving it: for checking shapes up front.
    public func sampleBatch() -> Batch {
        if let episodes { return episodes.owner.batch(episodes.part, task: 0) }
        let n = Swift.min(batchSize, dataset.count)
        // Cannot fail: the indices are the dataset's own.
        let part = try! dataset.subset(Array(0..<n))
        return Batch(x: part.x, y: part.y, indices: Array(0..<n))
    }

    /// Whether the current epoch has no batch left to serve (the next draw starts a new one).
    var epochIsOver: Bool {
        let remaining = order.count - position
        return remaining == 0 || (dropLast && remaining < batchSize)
    }

    /// Batches per epoch.
    public var batchesPerEpoch: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    func startEpoch() {
        // Unshuffled, every epoch has the same (identity) order: built once, not once per epoch (a
        // full-batch loader starts an epoch at every step).
        if shuffle {
            order = shuffled(Array(0..<own.count), using: &shuffler)
        } else if order.count != own.count {
            order = Array(0..<own.count)
        }
        position = 0
    }

    /// The next batch, starting a new epoch when this one is exhausted.
    public func next() -> Batch {
        if let episodes { return episodes.owner.next(episodes.part) }
        if epochIsOver {
            completedEpochs += 1
            // Data given since the epoch began is taken up here, before the next order is drawn:
            // every epoch, and so every batch, is over one data set.
            if let waiting {
                own = waiting
                self.waiting = nil
            }
            startEpoch()
        }
        let end = Swift.min(position + batchSize, order.count)
        // A whole epoch shares the order's storage instead of copying it.
        let indices = position == 0 && end == order.count ? order : Array(order[position..<end])
        position = end
        // A whole, unshuffled epoch is the dataset itself: share its storage instead of copying.
        if indices.count == own.count && !shuffle {
            return Batch(x: own.x, y: own.y, indices: indices)
        }
        // Cannot fail: indices come from the dataset's own range.
        let part = try! own.subset(indices)
        return Batch(x: part.x, y: part.y, indices: indices)
    }
}
