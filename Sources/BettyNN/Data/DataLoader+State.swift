import BettyTensor

extension DataLoader {
    /// Where an endless loader stands in its stream of batches: restored into a loader over the same
    /// dataset, the loader continues with exactly the batches the original would have drawn next
    /// (what a checkpoint needs to resume a run).
    public struct State: Sendable, Equatable {
        /// Completed passes over the dataset.
        public var epoch: Int
        /// Samples of this epoch's order already handed out.
        public var position: Int
        /// This epoch's sample order (the identity when the loader does not shuffle).
        public var order: [Int]
        /// The generator that will shuffle the next epoch.
        public var generator: RandomGenerator
        /// For a part of `Episodes`: the task served as support and not yet as query.
        public var heldTask: Int?

        public init(epoch: Int, position: Int, order: [Int], generator: RandomGenerator, heldTask: Int? = nil) {
            self.epoch = epoch
            self.position = position
            self.order = order
            self.generator = generator
            self.heldTask = heldTask
        }
    }

    public var state: State {
        if let episodes { return episodes.owner.state }
        return State(epoch: epoch, position: position, order: order, generator: generator)
    }

    /// Throws unless `state` could have been reached by a loader over this dataset: the order must be a
    /// permutation of the sample indices, or the next batch would index outside the dataset.
    public func check(_ state: State) throws(DataError) {
        if let episodes { return try episodes.owner.check(state) }
        guard state.heldTask == nil else {
            throw .invalidArgument("DataLoader state: it holds a few-shot task, but this loader does not serve episodes")
        }
        let count = dataset.count
        guard state.order.count == count else {
            throw .invalidArgument("DataLoader state: its order lists \(state.order.count) samples but the dataset has \(count)")
        }
        var seen = [Bool](repeating: false, count: count)
        for index in state.order {
            guard index >= 0, index < count, !seen[index] else {
                throw .invalidArgument("DataLoader state: its order is not a permutation of 0..<\(count) (index \(index) is out of range or repeated)")
            }
            seen[index] = true
        }
        guard (0...count).contains(state.position) else {
            throw .invalidArgument("DataLoader state: position \(state.position) is outside 0...\(count)")
        }
        guard state.epoch >= 0 else {
            throw .invalidArgument("DataLoader state: epoch \(state.epoch) is negative")
        }
    }

    /// Continues from `state` (checked first; on failure the loader is unchanged).
    public func restore(_ state: State) throws(DataError) {
        if let episodes { return try episodes.owner.restore(state) }
        try check(state)
        completedEpochs = state.epoch
        position = state.position
        order = state.order
        shuffler = state.generator
    }
}
