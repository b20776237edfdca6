import BettyTensor

/// Few-shot episodes over a pool of tasks: a dataset whose every sample is one task's points,
/// `[tasks, points, features...]`, the first `shots` points of each task being its support set and
/// the rest its query set.
///
/// `loader(for: .support)` serves one task's support set and keeps serving that same task until
/// `loader(for: .query)` has served the task's query set; the next support draw moves on to the
/// next task. So an inner level that takes several steps on the support set and an outer level that
/// scores the adapted model on the query set of the same task (MAML) stay paired by construction,
/// whatever the inner level's unroll length; a query draw with no task held draws one.
public final class Episodes: @unchecked Sendable {
    public enum Part: String, Sendable, CaseIterable { case support, query }

    public let shots: Int
    public internal(set) var support: Dataset
    public internal(set) var query: Dataset
    /// Tasks waiting to replace these when the task order's epoch ends (`replaceTasks(with:)`).
    var waiting: Parts?
    /// One task index per batch, in the (seeded, per-epoch shuffled) task order.
    let cursor: DataLoader
    /// The task the support loader is serving and the query loader has not served yet.
    var held: Int?

    public init(tasks: Dataset, shots: Int, shuffle: Bool = true, seed: UInt64 = 0) throws(DataError) {
        let parts = try Self.parts(of: tasks, shots: shots)
        self.shots = shots
        support = parts.support
        query = parts.query
        cursor = try DataLoader(support, batchSize: 1, shuffle: shuffle, seed: seed)
    }

    /// The support and query points of every task of a pool.
    public struct Parts: Sendable {
        public let support: Dataset
        public let query: Dataset

        /// `part` of the first task, as a loader of it would serve it: for checking shapes up front.
        public func sampleBatch(_ part: Part) -> Batch { batch(part, task: 0) }

        /// `part` of task `task`, without the task axis.
        func batch(_ part: Part, task: Int) -> Batch {
            let set = part == .support ? support : query
            // Cannot fail: the index is in range and the shapes drop only the leading 1.
            let one = try! set.subset([task])
            return Batch(x: try! one.x.reshaped(to: Array(one.x.shape.dropFirst())),
                         y: try! one.y.reshaped(to: Array(one.y.shape.dropFirst())), indices: [task])
        }
    }

    /// Splits a pool of tasks `[tasks, points, ...]` into its support (the first `shots` points of
    /// each task) and query parts.
    public static func parts(of tasks: Dataset, shots: Int) throws(DataError) -> Parts {
        guard tasks.x.rank >= 2, tasks.y.rank >= 2, tasks.x.shape[1] == tasks.y.shape[1] else {
            throw .invalidArgument("Episodes: x \(tasks.x.shape) and y \(tasks.y.shape) must be [tasks, points, ...] with the same number of points")
        }
        let points = tasks.x.shape[1]
        guard shots > 0, shots < points else {
            throw .invalidArgument("Episodes: \(shots) support shots leave no query points of the \(points) each task has")
        }
        func part(_ range: Range<Int>) throws(DataError) -> Dataset {
            do {
                return try Dataset(x: try tasks.x.detached().indexSelect(axis: 1, indices: Array(range)),
                                   y: try tasks.y.detached().indexSelect(axis: 1, indices: Array(range)))
            } catch let error as DataError { throw error } catch { throw .invalidArgument("Episodes: \(error)") }
        }
        return Parts(support: try part(0..<shots), query: try part(shots..<points))
    }

    public var taskCount: Int { support.count }
    public var shuffle: Bool { cursor.shuffle }

    /// A loader serving `part` of one task per batch (x as `[points, features...]`).
    public func loader(for part: Part) -> DataLoader {
        DataLoader(episodes: self, part: part)
    }

    func next(_ part: Part) -> Batch {
        let task: Int
        switch (part, held) {
        case (.support, let current?):
            task = current
        case (.query, let current?):
            task = current
            held = nil
        case (.support, nil):
            task = drawTask()
            held = task
        case (.query, nil):
            task = drawTask()
        }
        return batch(part, task: task)
    }

    /// The next task of the order. Tasks given since the epoch began are taken up when it ends, before
    /// the next order is drawn, and never while a task is held: both parts of a task come from one pool.
    private func drawTask() -> Int {
        if let waiting, cursor.epochIsOver {
            support = waiting.support
            query = waiting.query
            cursor.own = waiting.support
            self.waiting = nil
        }
        return cursor.next().indices[0]
    }

    /// `part` of task `task`, without the task axis.
    func batch(_ part: Part, task: Int) -> Batch {
        Parts(support: support, query: query).batch(part, task: task)
    }

    var state: DataLoader.State {
        var state = cursor.state
        state.heldTask = held
        return state
    }

    func check(_ state: DataLoader.State) throws(DataError) {
        try cursor.check(Self.cursorState(state))
        if let task = state.heldTask, !(0..<taskCount).contains(task) {
            throw .invalidArgument("Episodes state: held task \(task) is outside 0..<\(taskCount)")
        }
    }

    func restore(_ state: DataLoader.State) throws(DataError) {
        try check(state)
        try cursor.restore(Self.cursorState(state))
        held = state.heldTask
    }

    private static func cursorState(_ state: DataLoader.State) -> DataLoader.State {
        var plain = state
        plain.heldTask = nil
        return plain
    }
}
