import Testing
import BettyNN
import BettyTensor

@Suite struct EpisodesTests {
    /// Task t's points are 100 t + i, so a batch names its task and part.
    static func tasks(_ count: Int, points: Int) throws -> Dataset {
        let values = (0..<count).flatMap { t in (0..<points).map { Float(100 * t + $0) } }
        return try Dataset(x: try Tensor(shape: [count, points, 1], scalars: values),
                           y: try Tensor(shape: [count, points, 1], scalars: values.map { -$0 }))
    }

    @Test func supportKeepsItsTaskUntilQueryServesIt() throws {
        let episodes = try Episodes(tasks: try Self.tasks(6, points: 5), shots: 2, seed: 3)
        let support = episodes.loader(for: .support), query = episodes.loader(for: .query)
        for _ in 0..<8 {
            let first = support.next(), again = support.next(), scored = query.next()
            let task = first.indices[0]
            #expect(again.indices == [task] && scored.indices == [task])
            #expect(first.x.shape == [2, 1] && scored.x.shape == [3, 1] && scored.y.shape == [3, 1])
            #expect(first.x.scalars == [Float(100 * task), Float(100 * task + 1)])
            #expect(scored.x.scalars == (2..<5).map { Float(100 * task + $0) })
            #expect(scored.y.scalars == scored.x.scalars.map { -$0 })
        }
    }

    @Test func everyTaskComesOncePerEpochInShuffledOrder() throws {
        let episodes = try Episodes(tasks: try Self.tasks(6, points: 3), shots: 1, seed: 9)
        let support = episodes.loader(for: .support), query = episodes.loader(for: .query)
        var seen: [Int] = []
        for _ in 0..<6 {
            seen.append(support.next().indices[0])
            _ = query.next()
        }
        #expect(seen.sorted() == Array(0..<6))
        #expect(seen != Array(0..<6), "seed 9 shuffles the task order")
        // Both parts report the stream's epoch, which the seventh task starts.
        #expect(support.epoch == 0 && query.epoch == 0)
        _ = support.next()
        #expect(support.epoch == 1 && query.epoch == 1)
        #expect(query.generator == support.generator)
    }

    @Test func queryWithNoTaskHeldDrawsTheNextTask() throws {
        let episodes = try Episodes(tasks: try Self.tasks(4, points: 3), shots: 1, shuffle: false)
        let support = episodes.loader(for: .support), query = episodes.loader(for: .query)
        #expect(query.next().indices == [0])
        #expect(query.next().indices == [1])
        #expect(support.next().indices == [2])
        #expect(query.next().indices == [2])
    }

    @Test func stateRestoresAHeldTask() throws {
        let episodes = try Episodes(tasks: try Self.tasks(5, points: 4), shots: 2, seed: 1)
        let support = episodes.loader(for: .support), query = episodes.loader(for: .query)
        _ = support.next(); _ = query.next(); _ = support.next()
        let saved = support.state
        #expect(saved.heldTask != nil && query.state == saved)
        let expected = (0..<6).map { i in i % 2 == 0 ? query.next().indices : support.next().indices }

        let copy = try Episodes(tasks: try Self.tasks(5, points: 4), shots: 2, seed: 1)
        let (s, q) = (copy.loader(for: .support), copy.loader(for: .query))
        try q.restore(saved)
        #expect((0..<6).map { i in i % 2 == 0 ? q.next().indices : s.next().indices } == expected)

        var bad = saved
        bad.heldTask = 7
        #expect(throws: DataError.self) { try s.restore(bad) }
        let plain = try DataLoader(try Self.tasks(5, points: 4), batchSize: 1)
        #expect(throws: DataError.self) { try plain.restore(saved) }
    }

    @Test func refusesTasksWithoutQueryPoints() throws {
        #expect(throws: DataError.self) { try Episodes(tasks: try Self.tasks(3, points: 4), shots: 4) }
        #expect(throws: DataError.self) { try Episodes(tasks: try Self.tasks(3, points: 4), shots: 0) }
        let flat = try Dataset(x: Tensor.zeros([3]), y: Tensor.zeros([3]))
        #expect(throws: DataError.self) { try Episodes(tasks: flat, shots: 1) }
    }

    @Test func sinusoidPoolHoldsEachTaskSupportFirst() throws {
        var drawn = SinusoidTasks(seed: 5), pooled = SinusoidTasks(seed: 5)
        let pool = try pooled.pool(count: 3, support: 4, query: 6)
        #expect(pool.x.shape == [3, 10, 1] && pool.y.shape == [3, 10, 1])
        for t in 0..<3 {
            let task = try drawn.next(support: 4, query: 6)
            let row = Array(pool.y.scalars[(10 * t)..<(10 * t + 10)])
            #expect(row == task.support.y.scalars + task.query.y.scalars)
        }
    }
}
