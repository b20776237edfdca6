import Testing
import BettyNN
import BettyTensor

/// A loader given other data takes it up at its next epoch, never inside a batch or an epoch.
@Suite struct DataReplacementTests {
    /// `count` samples whose x and y are `base + i`, so every batch says which set it came from.
    static func data(_ count: Int, base: Float, features: Int = 1) throws -> Dataset {
        let ids = (0..<count).map { base + Float($0) }
        return try Dataset(x: try Tensor(shape: [count, features], scalars: ids.flatMap { [Float](repeating: $0, count: features) }),
                           y: Tensor(ids))
    }

    @Test func theEpochInProgressFinishesOnTheOldDataAndTheNextIsAllNew() throws {
        for (shuffle, dropLast) in [(true, false), (false, false), (true, true)] {
            let loader = try DataLoader(try Self.data(10, base: 0), batchSize: 3, shuffle: shuffle, dropLast: dropLast, seed: 4)
            _ = loader.next()
            let perEpoch = dropLast ? 3 : 4
            let replacement = try loader.replaceData(with: try Self.data(7, base: 1000))
            #expect(replacement == .atNextEpoch(batchesLeft: perEpoch - 1))
            #expect(loader.waitingData?.count == 7 && loader.dataset.count == 10)
            var seen: [Float] = []
            for _ in 0..<(perEpoch - 1) {
                let batch = loader.next()
                #expect(batch.y.scalars.allSatisfy { $0 < 1000 }, "old epoch: \(batch.y.scalars)")
            }
            #expect(loader.epoch == 0)
            // The next epoch: every sample of the new set once, in an order drawn for it.
            let newPerEpoch = dropLast ? 2 : 3
            for _ in 0..<newPerEpoch {
                let batch = loader.next()
                #expect(batch.y.scalars.allSatisfy { $0 >= 1000 }, "new epoch: \(batch.y.scalars)")
                #expect(batch.indices.allSatisfy { $0 < 7 })
                seen += batch.y.scalars
            }
            #expect(loader.epoch == 1 && loader.waitingData == nil && loader.dataset.count == 7)
            #expect(Set(seen).count == seen.count && seen.count == (dropLast ? 6 : 7))
        }
    }

    @Test func aLoaderThatServedNothingStartsOverAsANewOneWould() throws {
        let loader = try DataLoader(try Self.data(10, base: 0), batchSize: 3, seed: 4)
        #expect(try loader.replaceData(with: try Self.data(8, base: 1000)) == .now)
        let fresh = try DataLoader(try Self.data(8, base: 1000), batchSize: 3, seed: 4)
        for _ in 0..<9 {
            let (a, b) = (loader.next(), fresh.next())
            #expect(a.indices == b.indices && a.y.scalars == b.y.scalars)
        }
        #expect(loader.state == fresh.state)
    }

    @Test func theLatestDataGivenIsTheOneTakenUp() throws {
        let loader = try DataLoader(try Self.data(6, base: 0), batchSize: 2, seed: 1)
        _ = loader.next()
        try loader.replaceData(with: try Self.data(6, base: 1000))
        try loader.replaceData(with: try Self.data(6, base: 2000))
        _ = loader.next()
        _ = loader.next()
        #expect(loader.next().y.scalars.allSatisfy { $0 >= 2000 })
    }

    @Test func dataTheLoaderCannotServeIsRefusedAndChangesNothing() throws {
        let loader = try DataLoader(try Self.data(10, base: 0), batchSize: 4, dropLast: true, seed: 2)
        _ = loader.next()
        let before = loader.state
        #expect(throws: DataError.self) { try loader.replaceData(with: try Self.data(3, base: 1000)) }
        #expect(throws: DataError.self) { try loader.replaceData(with: try Self.data(10, base: 1000, features: 2)) }
        #expect(loader.state == before && loader.waitingData == nil && loader.dataset.y.scalars.first == 0)
    }

    @Test func aSourceAndAStatePutALoaderBackAcrossTheSwitch() throws {
        let loader = try DataLoader(try Self.data(5, base: 0), batchSize: 2, seed: 7)
        _ = loader.next()
        try loader.replaceData(with: try Self.data(3, base: 1000))
        let (source, state) = (loader.source, loader.state)
        let ahead = (0..<6).map { _ in loader.next().y.scalars }
        #expect(loader.dataset.count == 3)
        loader.restore(source)
        try loader.restore(state)
        #expect(loader.dataset.count == 5 && loader.waitingData?.count == 3)
        #expect((0..<6).map { _ in loader.next().y.scalars } == ahead)
    }

    // MARK: - Episodes

    @Test func tasksAreReplacedBetweenEpochsOfTheTaskOrderAndBothPartsOfATaskComeFromOnePool() throws {
        let episodes = try Episodes(tasks: try EpisodesTests.tasks(4, points: 3), shots: 1, seed: 5)
        let support = episodes.loader(for: .support), query = episodes.loader(for: .query)
        _ = support.next()
        _ = query.next()
        _ = support.next()
        // A task is held (served as support, not yet as query) and two are left in the epoch.
        #expect(episodes.holdsTask && episodes.tasksLeftInEpoch == 2)
        let newPool = try Episodes.parts(of: try Self.offset(EpisodesTests.tasks(5, points: 3)), shots: 1)
        #expect(try episodes.replaceTasks(with: newPool) == .atNextEpoch(batchesLeft: 2))
        #expect(support.waitingData?.count == 5 && query.waitingData?.count == 5)
        var tasks: [(Float, Float)] = []
        for _ in 0..<8 {
            let s = support.next(), q = query.next()
            tasks.append((s.x.scalars[0], q.x.scalars[0]))
        }
        // The held task and the two left are old; then a whole epoch of the five new ones.
        for (i, (s, q)) in tasks.enumerated() {
            #expect((s >= 10_000) == (i >= 3) && (q >= 10_000) == (i >= 3), "task \(i): support \(s), query \(q)")
            #expect(q == s + 1)
        }
        #expect(Set(tasks[3...].map { $0.0 }).count == 5 && support.dataset.count == 5)
    }

    @Test func episodesThatDrewNoTaskStartOverAtOnce() throws {
        let episodes = try Episodes(tasks: try EpisodesTests.tasks(4, points: 3), shots: 1, seed: 5)
        let pool = try Self.offset(EpisodesTests.tasks(6, points: 3))
        #expect(try episodes.replaceTasks(with: try Episodes.parts(of: pool, shots: 1)) == .now)
        let fresh = try Episodes(tasks: pool, shots: 1, seed: 5)
        let (a, b) = (episodes.loader(for: .support), fresh.loader(for: .support))
        let (qa, qb) = (episodes.loader(for: .query), fresh.loader(for: .query))
        for _ in 0..<8 {
            #expect(a.next().x.scalars == b.next().x.scalars)
            #expect(qa.next().x.scalars == qb.next().x.scalars)
        }
        #expect(throws: DataError.self) {
            try episodes.replaceTasks(with: try Episodes.parts(of: try EpisodesTests.tasks(4, points: 3), shots: 2))
        }
    }

    /// The same tasks with 10,000 added to every point.
    static func offset(_ tasks: Dataset) throws -> Dataset {
        try Dataset(x: tasks.x + 10_000, y: tasks.y - 10_000)
    }
}
