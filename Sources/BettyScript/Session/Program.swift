import Betty
import BettyNN
import BettyTensor

/// The program the statements build: the data sets and values (`bindings`), the problems and their
/// definitions, the connections between them, and the engine over them with its settings, validation
/// and logging. The session (the interpreter) reads lines and changes the program, always under the
/// run controller's gate, so a run on the background thread only ever sees it at a step boundary; the
/// state of the run itself is the run controller's. What is here needs no output: the session reports.
final class Program {
    let bindings = Bindings()
    var seed: UInt64 = 0
    var specs: [String: ProblemSpec] = [:]
    /// Each problem's module, optimizer, schedule, data and hook lines as they took effect.
    var settings: [String: [String]] = [:]
    /// How each data set was made, every option with its value: its source, then each transform.
    var dataSettings: [String: [String]] = [:]
    /// The other problems each problem's expressions call or read (checked against the connections).
    var problemReads: [String: [Name]] = [:]
    /// Connections as `upper -> lower` pairs, in the order made.
    var connections: [(upper: String, lower: String)] = []
    var engine: Engine?
    var engineConfig = Program.defaultEngineConfig

    /// A session compiles its steps: every loss is a straight-line expression, so a step does the
    /// same operations each time (a Swift program opts in with `EngineConfig.compile`).
    static let defaultEngineConfig: EngineConfig = {
        var c = EngineConfig()
        c.compile = true
        return c
    }()
    /// Print a progress line every this many local steps (0: about ten per `run`).
    var logEvery = 0
    /// `engine csv="file"`: every event is also written there.
    var csvLogger: CSVLogger?
    /// `engine tensorboard="dir"`: every event also goes to an event file there.
    var tensorBoardLogger: TensorBoardLogger?
    var validationMetrics: [(name: String, compiled: Compiled)] = []
    /// Every value the engine reported, for `export history` and `plot`.
    var history = RunHistory()
    /// Problems whose loss has not been checked on a batch yet, because it names problems that were
    /// not defined: the names it waits for and the check to run once they are.
    var pendingChecks: [String: (waitsFor: [Name], check: () throws(ScriptError) -> Void)] = [:]

    /// Writes what the event writer holds (the CSV file is written row by row): at the end of every
    /// run and step, so a session that ends, or a TensorBoard that reads now, finds every step.
    func flushLogs() {
        tensorBoardLogger?.flush()
    }

    // MARK: - Names

    func problem(_ name: Name) throws(ScriptError) -> Problem {
        guard let p = bindings.refs[name.text]?.problem else {
            throw ScriptError("unknown problem '\(name.text)'\(didYouMean(name.text, in: bindings.problemOrder))", at: name.location)
        }
        return p
    }

    func dataset(_ name: Name) throws(ScriptError) -> Dataset {
        guard let slot = bindings.datasets[name.text] else {
            throw ScriptError("unknown data set '\(name.text)'\(didYouMean(name.text, in: bindings.datasetOrder))", at: name.location)
        }
        return slot.value
    }

    enum NameKind { case data, problem, value }

    /// Checks that `name` may name a new `kind` of thing: not a reserved word and not already one
    /// of the other kinds (redefining the same kind is allowed).
    func claim(_ name: Name, as kind: NameKind) throws(ScriptError) {
        let n = name.text
        if Parser.commands.contains(n) || Functions.names.contains(n) || ["x", "y", "params", "validation", "check", "pi"].contains(n) {
            throw ScriptError("'\(n)' is a reserved word; choose another name", at: name.location)
        }
        let taken: String? = switch kind {
        case .data: bindings.isProblem(n) ? "a problem" : bindings.values[n] != nil ? "a value" : nil
        case .problem: bindings.datasets[n] != nil ? "a data set" : bindings.values[n] != nil ? "a value" : nil
        case .value: bindings.isProblem(n) ? "a problem" : bindings.datasets[n] != nil ? "a data set" : nil
        }
        if let taken { throw ScriptError("'\(n)' already names \(taken)", at: name.location) }
    }

    // MARK: - Data

    /// Binds `name` to `dataset`; `shots` marks a set of few-shot tasks (and how many of each task's
    /// points are support). `stream` is the stream of episodes problems defined from now on share for
    /// the name's parts (nil: a fresh one). What problems already drawing from the name do is
    /// `Session.bind(_:)`'s (DataBinding.swift).
    func store(_ dataset: Dataset, as name: String, shots: Int?, stream: Episodes?) {
        bindings.taskShots[name] = shots
        bindings.episodes[name] = stream
        if let slot = bindings.datasets[name] {
            slot.value = dataset
        } else {
            bindings.datasets[name] = Slot(dataset)
            bindings.datasetOrder.append(name)
        }
    }

    // MARK: - Checks

    /// Runs a deferred check once every problem it names exists; throws naming one that does not
    /// when `requireAll` (before a run), else leaves the check pending.
    func runPendingCheck(_ name: String, requireAll: Bool = false) throws(ScriptError) {
        guard let pending = pendingChecks[name] else { return }
        if let missing = pending.waitsFor.first(where: { bindings.refs[$0.text]?.problem == nil }) {
            guard requireAll else { return }
            throw ScriptError("problem '\(name)' refers to '\(missing.text)', which is not defined\(didYouMean(missing.text, in: bindings.problemOrder))", at: missing.location)
        }
        try pending.check()
        pendingChecks[name] = nil
    }

    /// Checks every problem whose loss could not be checked when it was defined.
    func checkPending() throws(ScriptError) {
        for name in bindings.problemOrder { try runPendingCheck(name, requireAll: true) }
    }

    /// A reverse-mode level's parameters are nodes of its recorded window: a problem that reads them
    /// unconnected would back-propagate into (and free) that window behind the engine's back, so
    /// its loss must be tied to the level by an edge, either way.
    func checkReadsOfReverseModeLevels() throws(ScriptError) {
        for name in bindings.problemOrder {
            for read in problemReads[name] ?? [] {
                guard let other = bindings.refs[read.text]?.problem, other.isIterative else { continue }
                let connected = connections.contains { ($0.upper == name && $0.lower == read.text) || ($0.upper == read.text && $0.lower == name) }
                guard !connected else { continue }
                throw ScriptError("problem '\(name)' reads '\(read.text)', a reverse-mode level whose parameters are recorded through its unrolled steps, but the two are not connected: add connect \(name) -> \(read.text) (or connect \(read.text) -> \(name) if '\(read.text)' is the upper level)",
                                  at: read.location)
            }
        }
    }

    // MARK: - Graph

    func dependencies(_ pairs: [(upper: String, lower: String)]) -> ([String: [String]], [String: [String]]) {
        var u2l: [String: [String]] = [:], l2u: [String: [String]] = [:]
        for (upper, lower) in pairs {
            u2l[upper, default: []].append(lower)
            l2u[lower, default: []].append(upper)
        }
        return (u2l, l2u)
    }

    func describe(_ graph: DependencyGraph) -> String {
        var lines = ["leaves: \(graph.leaves.joined(separator: ", "))"]
        for name in bindings.problemOrder {
            for path in graph.paths[name] ?? [] { lines.append("path: \(path.joined(separator: " -> "))") }
        }
        return lines.joined(separator: "\n")
    }

    // MARK: - Summaries

    func summary(of p: Problem) -> String {
        var parts = ["\(p.module.parameterCount) parameters"]
        parts.append("\(type(of: p.optimizer)) lr \(p.optimizer.learningRate)".lowercased())
        if let loader = p.loaders.first {
            parts.append("batch \(loader.batchSize) of \(loader.dataset.count)" + (loader.waitingData.map { ", then of \($0.count) from its next epoch" } ?? ""))
        }
        parts.append("\(p.config.type.rawValue) unroll \(p.config.unrollSteps)")
        return parts.joined(separator: ", ")
    }

    func describe(_ dataset: Dataset, named name: String) -> String {
        if let shots = bindings.taskShots[name], dataset.x.rank >= 2 {
            return "\(dataset.count) tasks of \(shots) support + \(dataset.x.shape[1] - shots) query points, x \(dataset.x.shape), y \(dataset.y.shape)"
        }
        var text = "\(dataset.count) samples, x \(dataset.x.shape), y \(dataset.y.shape)"
        if let labels = try? dataset.labels(), dataset.y.rank == 1, labels.count <= 100_000 {
            var counts: [Int: Int] = [:]
            for l in labels { counts[l, default: 0] += 1 }
            if counts.count <= 20 {
                text += ", \(counts.count) classes (\(counts.values.min() ?? 0)-\(counts.values.max() ?? 0) per class)"
            }
        }
        return text
    }

    // MARK: - What the engine is given

    /// What the engine's events feed in the program (recent losses, the latest validation), to put
    /// back when the engine undoes a cancelled step: `continue` must see what an uninterrupted run would.
    func captureEventState() -> () -> Void {
        let refs = bindings.problemOrder.compactMap { bindings.refs[$0] }
        let rings = refs.map(\.recentLossState)
        let validation = bindings.lastValidation
        let mark = history.mark
        return { [weak self] in
            for (ref, ring) in zip(refs, rings) { ref.recentLossState = ring }
            self?.bindings.lastValidation = validation
            self?.history.restore(mark)
        }
    }

    /// What the program keeps from an event the engine reports only to it: a step taken again after a
    /// failed step was undone (`Engine.undoFailedSteps`), printed and logged when first taken.
    func keep(_ event: EngineEvent) {
        history.record(event)
        switch event {
        case let .step(e): bindings.refs[e.problem]?.record(loss: e.loss)
        case let .validation(_, metrics): bindings.lastValidation = metrics
        case .stopped, .notice: break
        }
    }

    func installValidation(on engine: Engine) {
        guard !validationMetrics.isEmpty else { engine.validation = nil; return }
        let metrics = validationMetrics
        engine.validation = { _ in try Self.evaluate(metrics) }
    }

    /// Runs `body` as a read-only evaluation: no recording, every problem's module in evaluation mode.
    func readOnly<R>(_ body: () throws(ScriptError) -> R) throws(ScriptError) -> R {
        try inEvaluationMode(bindings.problems.map(\.module)) { () throws(ScriptError) in try withoutGrad(body) }
    }

    static func evaluate(_ metrics: [(name: String, compiled: Compiled)]) throws(ScriptError) -> [String: Float] {
        var result: [String: Float] = [:]
        for (name, compiled) in metrics {
            var env = Env.topLevel
            let value = try compiled(&env)
            guard let x = value.scalar else { throw ScriptError("validation metric '\(name)' must be one number, got \(value.summary)") }
            result[name] = x
        }
        return result
    }
}
