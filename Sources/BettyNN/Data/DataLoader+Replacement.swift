import BettyTensor

/// Other data for a loader that is already serving batches: it takes the data up at its next epoch,
/// so the epoch in progress finishes on the data it started with and no batch mixes the two (as a
/// PyTorch loader whose dataset changes is seen to change from the next `for batch in loader`).
extension DataLoader {
    /// When a loader given other data begins to serve it.
    public enum Replacement: Sendable, Equatable {
        /// At once: the loader had served nothing, and starts over as a new loader over the data
        /// (with the same seed) would.
        case now
        /// When the current epoch ends, after `batchesLeft` more batches of the data served now.
        case atNextEpoch(batchesLeft: Int)
    }

    /// The few-shot episodes this loader serves a part of, if any: they take new tasks for both parts.
    public var owningEpisodes: Episodes? { episodes?.owner }

    /// The data waiting to be taken up at the next epoch, if any.
    public var waitingData: Dataset? {
        guard let episodes else { return waiting }
        guard let parts = episodes.owner.waiting else { return nil }
        return episodes.part == .support ? parts.support : parts.query
    }

    /// Batches left in the current epoch (for a part of episodes: tasks not yet drawn in the task
    /// order's epoch, besides a task held between its support and query batches).
    public var batchesLeftInEpoch: Int {
        if let episodes { return episodes.owner.cursor.batchesLeftInEpoch }
        let remaining = order.count - position
        return dropLast ? remaining / batchSize : (remaining + batchSize - 1) / batchSize
    }

    /// Whether this loader has served no batch since it was made.
    var hasServedNothing: Bool { completedEpochs == 0 && position == 0 }

    /// Throws unless this loader can serve `dataset` in place of its data: it has samples, a batch
    /// with `dropLast` fits in it, and its samples have the shapes of those served now (a loader's
    /// batches keep their shape). A part of episodes takes new tasks through its `Episodes`.
    public func checkReplacement(_ dataset: Dataset) throws(DataError) {
        guard episodes == nil else {
            throw .invalidArgument("DataLoader: a part of few-shot episodes takes new tasks through its Episodes (replaceTasks)")
        }
        guard dataset.count > 0 else { throw .invalidArgument("DataLoader: the new data is empty") }
        guard !dropLast || batchSize <= dataset.count else {
            throw .invalidArgument("DataLoader: batch size \(batchSize) with dropLast exceeds the new data's \(dataset.count) samples; no batch would ever be produced")
        }
        try Self.checkSampleShapes(of: dataset, against: own)
    }

    /// Throws unless the samples of `new` have the shapes of those of `old`.
    static func checkSampleShapes(of new: Dataset, against old: Dataset) throws(DataError) {
        let (x, y) = (Array(new.x.shape.dropFirst()), Array(new.y.shape.dropFirst()))
        let (oldX, oldY) = (Array(old.x.shape.dropFirst()), Array(old.y.shape.dropFirst()))
        guard x == oldX, y == oldY else {
            throw .invalidArgument("DataLoader: the new samples have x \(x), y \(y); the loader serves samples of x \(oldX), y \(oldY)")
        }
    }

    /// Serves `dataset` in place of the data it serves now (checked first; on failure nothing
    /// changes). The epoch in progress finishes on the data it started with and the next begins on
    /// `dataset`, with an order drawn for it: no batch mixes the two. A loader that has served
    /// nothing starts over at once. Given other data again before the epoch ends, it takes up the
    /// latest.
    @discardableResult
    public func replaceData(with dataset: Dataset) throws(DataError) -> Replacement {
        try checkReplacement(dataset)
        if hasServedNothing {
            own = dataset
            waiting = nil
            shuffler = RandomGenerator(seed: seed)
            startEpoch()
            return .now
        }
        waiting = dataset
        return .atNextEpoch(batchesLeft: batchesLeftInEpoch)
    }

    /// The data a loader serves and the data waiting for its next epoch: with `state`, everything a
    /// step can change about a loader (a step that begins an epoch takes up the waiting data). A
    /// restore point keeps both, to put a loader back exactly.
    public struct Source: Sendable {
        fileprivate let served: Dataset
        fileprivate let waiting: Dataset?
        fileprivate let tasks: Episodes.Source?
    }

    public var source: Source {
        Source(served: own, waiting: waiting, tasks: episodes?.owner.source)
    }

    /// Puts back the data of `source` (taken from this loader); restore its `state` after this.
    public func restore(_ source: Source) {
        if let episodes, let tasks = source.tasks { return episodes.owner.restore(tasks) }
        own = source.served
        waiting = source.waiting
    }
}

extension Episodes {
    /// Tasks left in the task order's epoch (not counting a task held between its support and query).
    public var tasksLeftInEpoch: Int { cursor.batchesLeftInEpoch }

    /// Whether a task has been served as support and not yet as query.
    public var holdsTask: Bool { held != nil }

    /// Throws unless these episodes can serve `parts` in place of their tasks: there are tasks, and
    /// the support and query points of each have the shapes of those served now.
    public func checkReplacement(_ parts: Parts) throws(DataError) {
        guard parts.support.count > 0 else { throw .invalidArgument("Episodes: the new pool has no tasks") }
        try DataLoader.checkSampleShapes(of: parts.support, against: support)
        try DataLoader.checkSampleShapes(of: parts.query, against: query)
    }

    /// Serves the tasks of `parts` in place of the current ones (checked first; on failure nothing
    /// changes): from the next epoch of the task order, so a task's support and query points always
    /// come from one pool; at once when no task has been drawn yet.
    @discardableResult
    public func replaceTasks(with parts: Parts) throws(DataError) -> DataLoader.Replacement {
        try checkReplacement(parts)
        if cursor.hasServedNothing && held == nil {
            support = parts.support
            query = parts.query
            waiting = nil
            cursor.own = parts.support
            cursor.shuffler = RandomGenerator(seed: cursor.seed)
            cursor.startEpoch()
            return .now
        }
        waiting = parts
        return .atNextEpoch(batchesLeft: cursor.batchesLeftInEpoch)
    }

    /// The tasks served and those waiting (see `DataLoader.Source`).
    public struct Source: Sendable {
        fileprivate let support: Dataset
        fileprivate let query: Dataset
        fileprivate let waiting: Parts?
    }

    var source: Source { Source(support: support, query: query, waiting: waiting) }

    func restore(_ source: Source) {
        support = source.support
        query = source.query
        waiting = source.waiting
        cursor.own = source.support
    }
}
