import Betty
import BettyNN
import BettyTensor

/// A data set given new data (`data NAME = ...` again, `noise`, `imbalance`, `scale`, `normalize`, a
/// part of `split`) while problems draw their batches from it (docs/BETTY_SEMANTICS.md §9). Each such
/// problem's loader takes up the new data at its next epoch: the epoch in progress finishes on the
/// data it began with, no batch mixes the two, and a loader that has drawn nothing takes it up at
/// once. The statement says which problems switch and when, or, when a problem could not draw from
/// the new data, changes nothing and says why. Expressions (`NAME.x` in a loss, a metric, a
/// validation) read the name when they run, so they see the new data from the next step.
extension Session {
    /// New data for one name.
    struct NewData {
        var name: Name
        var dataset: Dataset
        /// Marks a set of few-shot tasks: how many of each task's points are support.
        var shots: Int?
    }

    /// One problem's loader over the data set being given new data.
    private struct Drawer {
        let problem: Problem
        /// `support` or `query` for a part of a task set.
        let part: Episodes.Part?
        let loader: DataLoader
    }

    /// What binding one name to its new data does, checked before anything changes.
    private struct Plan {
        let item: NewData
        /// Loaders over the data set itself.
        let plain: [Drawer]
        /// Streams of episodes over its tasks, each with the problems drawing a part of them.
        let streams: [(episodes: Episodes, drawers: [Drawer])]
        /// The support and query parts of the new tasks, when a stream takes them.
        let parts: Episodes.Parts?
        let warnings: [String]
    }

    /// Binds each name to its new data. Every problem drawing from one of them must be able to draw
    /// from the new data (samples of the same shapes, a batch that fits, a loss that evaluates on
    /// it); otherwise nothing changes and the error says which problem and why. Returns, per name,
    /// the lines to print after its description: when each problem takes the new data up, and
    /// warnings.
    func bind(_ items: [NewData]) throws(ScriptError) -> [[String]] {
        var plans: [Plan] = []
        for item in items { plans.append(try plan(item)) }
        return plans.map(commit)
    }

    // MARK: - Checks

    private func drawers(of name: String) -> [Drawer] {
        program.bindings.problemOrder.flatMap { problemName -> [Drawer] in
            guard let p = program.bindings.refs[problemName]?.problem, let spec = program.specs[problemName] else { return [] }
            return zip(spec.data, p.loaders).compactMap { line, loader in
                guard line.set.text == name else { return nil }
                return Drawer(problem: p, part: line.part.flatMap { Episodes.Part(rawValue: $0.text) }, loader: loader)
            }
        }
    }

    private func plan(_ item: NewData) throws(ScriptError) -> Plan {
        let name = item.name.text, at = item.name.location
        let all = drawers(of: name)
        var warnings: [String] = []
        let plain = all.filter { $0.part == nil }
        for d in plain {
            let p = d.problem.name, loader = d.loader, count = item.dataset.count
            try checkShapes(of: d, served: loader.dataset, new: item.dataset, name: item.name)
            if loader.dropLast && loader.batchSize > count {
                throw ScriptError("problem \(p) draws batches of \(loader.batchSize) with drop_last from '\(name)', and the new '\(name)' has \(count) samples: no batch would ever be produced",
                                  at: at)
            }
            do { try loader.checkReplacement(item.dataset) } catch {
                throw ScriptError("problem \(p) cannot draw from the new '\(name)': \(error)", at: at)
            }
            try checkLoss(of: d.problem, on: loader, sample: try sample(of: item.dataset, batch: loader.batchSize, at: at), name: item.name)
            if loader.batchSize > count {
                warnings.append("warning: problem \(p): batch=\(loader.batchSize) is larger than the new '\(name)' (\(count) samples); every batch is the whole set")
            }
        }
        var streams: [(episodes: Episodes, drawers: [Drawer])] = []
        for d in all where d.part != nil {
            guard let episodes = d.loader.owningEpisodes else { continue }
            if let i = streams.firstIndex(where: { $0.episodes === episodes }) {
                streams[i].drawers.append(d)
            } else {
                streams.append((episodes, [d]))
            }
        }
        var parts: Episodes.Parts?
        if let first = streams.first?.drawers.first {
            guard let shots = item.shots else {
                throw ScriptError("problem \(first.problem.name) draws the \(first.part!.rawValue) part of each task from '\(name)', and the new '\(name)' is not a set of few-shot tasks: to train \(first.problem.name) on this data, give the data another name and define \(first.problem.name) again with that name",
                                  at: at)
            }
            // The support and query parts are copies of the task set.
            try requireMemory(floats: item.dataset.x.count + item.dataset.y.count, for: "the support and query parts of the new '\(name)'", at: at)
            let split: Episodes.Parts
            do { split = try Episodes.parts(of: item.dataset, shots: shots) } catch { throw ScriptError("\(error)", at: at) }
            for (episodes, drawers) in streams {
                for d in drawers {
                    let part = d.part!
                    try checkShapes(of: d, served: d.loader.dataset, new: part == .support ? split.support : split.query, name: item.name)
                }
                do { try episodes.checkReplacement(split) } catch {
                    throw ScriptError("problem \(drawers[0].problem.name) cannot draw from the new '\(name)': \(error)", at: at)
                }
                for d in drawers { try checkLoss(of: d.problem, on: d.loader, sample: split.sampleBatch(d.part!), name: item.name) }
            }
            parts = split
        }
        return Plan(item: item, plain: plain, streams: streams, parts: parts, warnings: warnings)
    }

    /// A problem's module and loss were built and checked for the shape of its samples (of one task's
    /// part, for a part of a task set): the new data must have the same.
    private func checkShapes(of d: Drawer, served: Dataset, new: Dataset, name: Name) throws(ScriptError) {
        let shapes = { (data: Dataset) in "x \(Array(data.x.shape.dropFirst())), y \(Array(data.y.shape.dropFirst()))" }
        let (old, now) = (shapes(served), shapes(new))
        guard old != now else { return }
        let p = d.problem.name
        let what = d.part.map { "\($0.rawValue) points of \(old) per task from \(name.text).\($0.rawValue)" } ?? "samples of \(old) from '\(name.text)'"
        let given = d.part.map { "the new '\(name.text)' gives \($0.rawValue) points of \(now)" } ?? "the new '\(name.text)' has samples of \(now)"
        throw ScriptError("problem \(p) draws \(what), and \(given): a problem's data keeps the shape it was defined with; to train \(p) on the new data, give it another name and define \(p) again with that name",
                          at: name.location)
    }

    /// The first batch a loader like `loader` would draw from `dataset`.
    private func sample(of dataset: Dataset, batch: Int, at location: SourceLocation) throws(ScriptError) -> Batch {
        let n = min(batch, dataset.count)
        do {
            let part = try dataset.subset(Array(0..<n))
            return Batch(x: part.x, y: part.y, indices: Array(0..<n))
        } catch {
            throw ScriptError("\(error)", at: location)
        }
    }

    /// The problem's loss on a batch of the new data, evaluated read-only as its definition checked it
    /// on the old: a label outside its classes or a shape its module cannot take is refused here, not
    /// at the epoch boundary in the middle of a run. A loss that names problems not defined yet is
    /// checked when they are (as the old data's was).
    private func checkLoss(of p: Problem, on loader: DataLoader, sample: Batch, name: Name) throws(ScriptError) {
        guard program.pendingChecks[p.name] == nil else { return }
        do {
            try program.readOnly { () throws(ScriptError) in
                do {
                    _ = try p.trainingStep(p, sample)
                } catch let error as ScriptError {
                    throw error
                } catch {
                    throw ScriptError("\(error)")
                }
            }
        } catch {
            var message = error.message
            let prefix = "problem '\(p.name)': "
            if message.hasPrefix(prefix) { message.removeFirst(prefix.count) }
            throw ScriptError("the new '\(name.text)' does not fit problem \(p.name)'s loss: \(message)\(error.location.map { " (\($0))" } ?? "")",
                              at: name.location)
        }
    }

    // MARK: - Commit

    /// Binds the name and gives each loader the new data; checked by `plan`, so nothing here fails.
    private func commit(_ plan: Plan) -> [String] {
        let item = plan.item, name = item.name.text
        // Problems defined from now on join the stream the problems drawing from the name share, so
        // a new problem on one part is paired with those on the other; with none, a fresh stream.
        program.store(item.dataset, as: name, shots: item.shots, stream: plan.streams.first?.episodes)
        var notes = plan.warnings
        for d in plan.plain {
            let when: DataLoader.Replacement
            do { when = try d.loader.replaceData(with: item.dataset) } catch { preconditionFailure("checked before: \(error)") }
            notes.append(Self.note([d.problem], takeUp: name, when, tasks: false, held: false))
        }
        for (episodes, drawers) in plan.streams {
            let held = episodes.holdsTask
            let when: DataLoader.Replacement
            do { when = try episodes.replaceTasks(with: plan.parts!) } catch { preconditionFailure("checked before: \(error)") }
            var problems: [Problem] = []
            for d in drawers where !problems.contains(where: { $0 === d.problem }) { problems.append(d.problem) }
            notes.append(Self.note(problems, takeUp: name, when, tasks: true, held: held))
        }
        return notes
    }

    /// When `problems` (one loader, or one stream of tasks) take up the new `name`.
    private static func note(_ problems: [Problem], takeUp name: String, _ when: DataLoader.Replacement, tasks: Bool, held: Bool) -> String {
        let names = problems.map(\.name)
        let who = names.count == 1 ? "problem \(names[0])" : "problems \(names.dropLast().joined(separator: ", ")) and \(names.last!)"
        let its = names.count == 1 ? "its" : "their"
        let unit = tasks ? "task" : "batch"
        switch when {
        case .now:
            return "note: \(who) take\(names.count == 1 ? "s" : "") up the new '\(name)' from \(its) first \(unit) (\(tasks ? "no task has been drawn" : "it has drawn none") yet)"
        case let .atNextEpoch(left):
            let start = "note: \(who) take\(names.count == 1 ? "s" : "") up the new '\(name)' at \(tasks ? "the next epoch of \(its) task order" : "\(its) next epoch")"
            // Every local step draws one batch, so the step the new data begins at is known.
            let step = tasks ? "" : ", from local step \(problems[0].localStep + left + 1)"
            let rest = left == 0 ? nil : "\(left) \(unit)\(left == 1 ? "" : tasks ? "s" : "es")"
            let remaining: String = switch (held, rest) {
            case (true, let rest?): "; the task in progress and the \(rest) left of the epoch come from the old data"
            case (true, nil): "; the task in progress, the last of the epoch, comes from the old data"
            case (false, let rest?): "; the \(rest) left of the epoch in progress come\(left == 1 ? "s" : "") from the old data"
            case (false, nil): " (the epoch in progress has no \(unit) left)"
            }
            return start + step + remaining
        }
    }
}
