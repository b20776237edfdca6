import BettyNN
import BettyTensor

/// Runs a multilevel program: steps the leaf problems, triggers their uppers by Betty's schedule,
/// and gives each upper the sum of its direct gradient and the hypergradient of every path
/// (docs/BETTY_SEMANTICS.md §2–4). Reports each step to `onEvent`.
public final class Engine: @unchecked Sendable {
    public let problems: [Problem]
    public private(set) var graph: DependencyGraph
    public var config: EngineConfig
    public internal(set) var globalStep = 0
    private var observers: [(EngineEvent) -> Void] = []

    /// Adds a receiver of every event (loggers, the REPL, the dashboard), called on the engine's thread.
    public func subscribe(_ observer: @escaping (EngineEvent) -> Void) { observers.append(observer) }

    private let started = ContinuousClock.now
    private func elapsed() -> Double { (ContinuousClock.now - started) / .seconds(1) }
    func emit(_ event: EngineEvent) {
        // A check's trial windows are not the run: nobody hears of them.
        guard probe == nil else { return }
        // Steps taken again after a failure were reported when first taken (`undoFailedSteps`).
        if replaying {
            failureReplay?(event)
            return
        }
        for observer in observers { observer(event) }
    }
    /// Set while `checkHypergradient` runs a trial window: the problem whose step ends it.
    var probe: Probe?
    /// Returns named validation metrics; called every `config.validStep` global steps.
    public var validation: ((Engine) throws -> [String: Float])?

    private var byName: [String: Problem] = [:]
    /// The run state of each problem (`ProblemRun`), by the problem's identity.
    private var runs: [ObjectIdentifier: ProblemRun] = [:]
    /// Per problem, the problems on its back-propagation paths (below it), from the graph.
    private var levelsBelow: [String: [Problem]] = [:]

    /// Set by whoever may stop a run (the REPL's Ctrl-C). Checked at every global-step boundary and,
    /// inside a step, before each problem's step and at every iteration of the hypergradient loops;
    /// a step cancelled part-way is undone back to the restore point (see `CancellationTiming`).
    public var cancellation: CancellationRequest?
    public var cancellationTiming = CancellationTiming()
    /// What a cancel inside a step rolls back to; only while a run, step or hypergradient that can
    /// be cancelled is under way.
    var restorePoint: RestorePoint?
    /// When a cancel inside a step was first seen, for `CancellationTiming.patience`.
    var cancelSeen: ContinuousClock.Instant?
    /// Problems that have stepped in the current global step: the first has changed nothing yet, so
    /// a cancel before it is one at the step boundary.
    var problemStepsInThisStep = 0
    /// Reverse-mode levels whose window ended in the current cascade (`closeEndedWindows`).
    var windowsEnded: [Problem] = []
    private var outsideState: [() -> () -> Void] = []
    /// Set by `undoFailedSteps(replaying:)`: a step that fails is undone, and this hears the events of
    /// the steps taken again to get back to the end of the last completed one.
    private var failureReplay: ((EngineEvent) -> Void)?
    private var undoesFailedSteps = false
    /// True while those steps are taken again: their events go to `failureReplay` alone.
    private var replaying = false
    /// Restore points are kept while a cancel or a failure may have to go back to one.
    private var keepsRestorePoints: Bool { cancellation != nil || undoesFailedSteps }

    /// Where the latest `run`, `step` or `hypergradient(of:)` that threw (other than by a cancel) left
    /// the state; nil once one completes.
    public private(set) var lastFailure: StepFailure?

    /// From now on a `run` or `step` that fails part-way (a loss or gradient that is not finite, an
    /// error in user code, a hypergradient method that cannot run) is undone: every parameter, buffer,
    /// random stream, optimizer state, learning rate, loader position and counter is as at the end of
    /// the last global step completed before the failure, and `lastFailure` says which; a failed
    /// `hypergradient(of:)` changes nothing. The engine goes back to its restore point (taken at most
    /// `cancellationTiming.restorePointAge` before, so keeping it costs what a cancellable run costs)
    /// and takes the steps from there to the failed one's start again, deterministically: their events
    /// go to `replayed` alone (they were reported when first taken), for state kept from events such
    /// as a loss history, which the restore point puts back to its own time first (`rollsBack(with:)`).
    /// Not possible while no restore point can be taken: a run or step that begins inside an open
    /// reverse-mode window and fails before it closes is left as the failure left it
    /// (`StepFailure.stateAfterStep` nil).
    public func undoFailedSteps(replaying replayed: @escaping (EngineEvent) -> Void = { _ in }) {
        undoesFailedSteps = true
        failureReplay = replayed
    }

    /// Called by `run` at every global-step boundary, before the next step, with the steps of this
    /// run completed so far: a run controller parks the engine's thread here to pause it, or to let
    /// another thread read a state that is exactly the end of a global step. Returns whether another
    /// thread may have changed the program meanwhile (a setting, a value a loss reads): the engine then
    /// takes a new restore point, so a cancel or failure later never undoes steps from before that
    /// change (they would be taken again under the changed program).
    public var stepBoundary: ((_ completed: Int) -> Bool)?

    /// Keeps state outside the engine that steps change (a REPL's loss history, fed by events) in
    /// step with a cancelled step being undone: `capture` runs whenever the engine takes a restore
    /// point and returns what puts that state back.
    public func rollsBack(with capture: @escaping () -> () -> Void) { outsideState.append(capture) }

    public init(problems: [Problem], u2l: [String: [String]], l2u: [String: [String]],
                config: EngineConfig = EngineConfig()) throws(EngineError) {
        self.problems = problems
        self.config = config
        do {
            graph = try DependencyGraph(problems: problems.map(\.name), u2l: u2l, l2u: l2u)
        } catch {
            throw .graph(error)
        }
        for p in problems { try p.config.validate(problem: p.name) }
        // The engines these problems ran under (the REPL builds a new one whenever the program changes).
        var predecessors: [Engine] = []
        for p in problems {
            if let old = p.engine, !predecessors.contains(where: { $0 === old }) { predecessors.append(old) }
        }
        try Self.refuseReplacingUnderOpenWindows(problems, graph: graph)
        // Nothing changes before every check passed. A problem another engine ran continues its run
        // here (its record moves over, as the REPL's rebuilt engines need); a new one starts afresh.
        // The run goes on: the global step of the engine they ran under, and each problem's ready flags
        // for lowers that are the same problems there (a lower just defined or replaced has finished
        // no window for it yet).
        let carried = problems.map { p -> (engine: Engine, ready: [Bool])? in
            guard let old = p.engine, let run = p.run else { return nil }
            return (old, run.ready)
        }
        globalStep = predecessors.map(\.globalStep).max() ?? 0
        for p in problems {
            byName[p.name] = p
            runs[ObjectIdentifier(p)] = runs[ObjectIdentifier(p)] ?? p.run ?? ProblemRun()
        }
        for p in problems { p.engine = self }
        resetReadyFlags()
        for (p, carried) in zip(problems, carried) {
            guard let (old, ready) = carried else { continue }
            let before = old.graph.children(of: p.name)
            for (i, child) in graph.children(of: p.name).enumerated() {
                guard let j = before.firstIndex(of: child), j < ready.count, old.problem(named: child) === byName[child] else { continue }
                state(p).ready[i] = ready[j]
            }
        }
    }

    /// A reverse-mode level's open window recorded its steps with the parameters of the levels it is
    /// connected to; a new engine that replaces one of those (a problem object the window never saw)
    /// would take the upper's hypergradient through steps recorded with parameters it no longer has.
    private static func refuseReplacingUnderOpenWindows(_ problems: [Problem], graph: DependencyGraph) throws(EngineError) {
        for p in problems where p.isIterative {
            guard let old = p.engine, let run = p.run, run.trajectoryStates != nil, let (steps, length) = old.openWindow(of: p.name) else { continue }
            let connected = graph.parents(of: p.name) + graph.children(of: p.name)
            for name in connected {
                guard let now = problems.first(where: { $0.name == name }), old.problem(named: name) !== now else { continue }
                throw .replacedUnderOpenWindow(problem: name, window: p.name, steps: steps, length: length)
            }
        }
    }

    public func problem(named name: String) -> Problem? { byName[name] }

    /// The error for `reader`'s loss reading `read`, or nil when that read is allowed: a reverse-mode
    /// level may only be read across an edge (either way), as BettyScript's `connect` requires.
    func unconnectedRead(by reader: Problem, of read: Problem) -> EngineError? {
        guard read !== reader, read.isIterative else { return nil }
        let edge = { (from: String, to: String) in
            (self.graph.u2l[from] ?? []).contains(to) || (self.graph.l2u[from] ?? []).contains(to)
        }
        let connected = edge(reader.name, read.name) || edge(read.name, reader.name)
        return connected ? nil : .unconnectedRead(reader: reader.name, read: read.name)
    }

    /// Where `name`'s unrolled window is, while it is open (a reverse-mode level between the first
    /// step of a window and the end of the global step that completes it): steps taken and its length.
    public func openWindow(of name: String) -> (steps: Int, length: Int)? {
        guard let p = byName[name], state(p).trajectoryStates != nil else { return nil }
        let length = p.config.unrollSteps * p.config.gradientAccumulation
        let taken = (state(p).localStep - state(p).windowStart) % length
        return (taken == 0 ? length : taken, length)
    }

    /// Whether some reverse-mode level has its window open (its steps recorded).
    var recordingWindowIsOpen: Bool { problems.contains { $0.isIterative && state($0).trajectoryStates != nil } }

    /// Before an in-place write of `p`'s parameters: while a recorded window is open it may have saved
    /// them (a reverse-mode level reading `p`), so `p` gets new tensors and the window keeps the values
    /// it used. Between windows nothing is copied.
    func copyParametersUnderOpenWindows(_ p: Problem) {
        guard recordingWindowIsOpen else { return }
        for parameter in p.trainable { parameter.value = (parameter.value.detached() * 1).requiringGrad() }
    }

    /// Runs `body` with every reverse-mode level whose window is open, `kept` aside, held at detached
    /// values: a best-response product is a partial derivative, and what flows through those windows is
    /// in the recorded term (docs/BETTY_SEMANTICS.md §4.1). Differentiating through them here would
    /// also free them for the backward passes still to come.
    func withOpenWindowsHeld<R>(except kept: Problem, _ body: () throws(EngineError) -> R) throws(EngineError) -> R {
        let open = problems.filter { $0 !== kept && $0.isIterative && state($0).trajectoryStates != nil }
        return try withDetachedParameters(open[...], body)
    }

    /// The run state of `problem`, when it is one of this engine's.
    func run(of problem: Problem) -> ProblemRun? { runs[ObjectIdentifier(problem)] }

    /// The run state of one of this engine's problems.
    func state(_ p: Problem) -> ProblemRun { runs[ObjectIdentifier(p)]! }

    /// Replaces the dependencies between steps; the graph is checked before anything changes.
    public func setDependencies(u2l: [String: [String]], l2u: [String: [String]]) throws(EngineError) {
        do {
            graph = try DependencyGraph(problems: problems.map(\.name), u2l: u2l, l2u: l2u)
        } catch {
            throw .graph(error)
        }
        resetReadyFlags()
    }

    private func resetReadyFlags() {
        levelsBelow = [:]
        for p in problems {
            let names = Set((graph.paths[p.name] ?? []).flatMap { $0.dropFirst().dropLast() })
            levelsBelow[p.name] = problems.filter { names.contains($0.name) }
            state(p).ready = Array(repeating: false, count: graph.children(of: p.name).count)
        }
    }

    /// Runs `iterations` global steps (default: `config.trainIterations`), validating every
    /// `config.validStep`; returns early when early stopping says so, or when `cancellation` is
    /// requested: `interruption` then says where, and the state is at the end of a global step
    /// (`completed` counts the steps that state includes).
    @discardableResult
    public func run(iterations: Int? = nil) throws(EngineError) -> RunSummary {
        var stopper = config.earlyStopping.map { EarlyStopper($0) }
        let count = iterations ?? config.trainIterations
        let start = globalStep
        var lastValidation: [String: Float]?
        var renewed = ContinuousClock.now
        lastFailure = nil
        if keepsRestorePoints { restorePoint = RestorePoint(self, outside: outsideState) }
        defer { endCancellableScope() }
        for completed in 0..<count {
            let changedHere = stepBoundary?(completed) ?? false
            if let cancellation, cancellation.isRequested {
                let interruption = Interruption(globalStep: globalStep, point: .stepBoundary, stateAfterStep: globalStep)
                return RunSummary(globalStep: globalStep, stoppedEarly: false, lastValidation: lastValidation,
                                  interruption: interruption, completed: completed)
            }
            if keepsRestorePoints {
                let now = ContinuousClock.now
                // Without a point (the run began inside an open reverse-mode window) try at every boundary:
                // a long step after the window closes must still be cancellable.
                if changedHere || restorePoint == nil || now - renewed >= cancellationTiming.restorePointAge {
                    if let point = RestorePoint(self, outside: outsideState) {
                        restorePoint = point
                        renewed = now
                    } else if changedHere {
                        // None inside an open window: the old one is from before the change, and going
                        // back there would take its steps again under the changed program.
                        restorePoint = nil
                    }
                }
            }
            do {
                try advance()
                // A validation that fails fails its step: the run's statement did not complete it.
                if config.validStep > 0, globalStep % config.validStep == 0, let validation {
                    let metrics = try validate(validation)
                    lastValidation = metrics
                    if var s = stopper {
                        let stop = try s.shouldStop(metrics)
                        stopper = s
                        if stop {
                            emit(.stopped(globalStep: globalStep, reason: "early stopping on \(s.settings.metric)"))
                            return RunSummary(globalStep: globalStep, stoppedEarly: true, lastValidation: metrics,
                                              completed: completed + 1)
                        }
                    }
                }
            } catch {
                guard case let .cancelled(interruption) = error, let restorePoint else { throw undo(error, lastCompleted: globalStep - 1) }
                restorePoint.restore(into: self)
                return RunSummary(globalStep: globalStep, stoppedEarly: false, lastValidation: lastValidation,
                                  interruption: interruption, completed: globalStep - start)
            }
        }
        return RunSummary(globalStep: globalStep, stoppedEarly: false, lastValidation: lastValidation, completed: count)
    }

    /// After `error` stopped a step part-way, with `undoFailedSteps` on: back to the restore point, then
    /// the steps from there to the end of global step `lastCompleted` again (validating where the run
    /// did), so the state is exactly as that step left it. Returns `error`, for the caller to throw.
    private func undo(_ error: EngineError, lastCompleted: Int) -> EngineError {
        let failed = globalStep
        guard undoesFailedSteps, let point = restorePoint, point.globalStep <= lastCompleted else {
            lastFailure = StepFailure(globalStep: failed, stateAfterStep: nil)
            return error
        }
        point.restore(into: self)
        // No cancel inside these steps: there would be nothing left to go back to.
        restorePoint = nil
        replaying = true
        defer { replaying = false }
        do {
            while globalStep < lastCompleted {
                try advance()
                if config.validStep > 0, globalStep % config.validStep == 0, let validation { _ = try validate(validation) }
            }
        } catch {
            // The same steps from the same state do not fail; should one, the restore point's state stands.
            point.restore(into: self)
        }
        lastFailure = StepFailure(globalStep: failed, stateAfterStep: globalStep)
        return error
    }

    private func validate(_ body: (Engine) throws -> [String: Float]) throws(EngineError) -> [String: Float] {
        let metrics: [String: Float]
        do {
            metrics = try inEvaluationMode(problems.map(\.module)) { try withoutGrad { try body(self) } }
        } catch let error as EngineError {
            throw error
        } catch {
            throw .userCode(problem: "validation", error: error)
        }
        emit(.validation(globalStep: globalStep, metrics: metrics))
        return metrics
    }

    /// One global step: every leaf takes a local step, triggering its uppers when due. With
    /// `cancellation` set, a cancel part-way undoes the step and throws `.cancelled`.
    public func step() throws(EngineError) {
        try cancellable { () throws(EngineError) in try advance() }
    }

    private func advance() throws(EngineError) {
        // A step that failed part-way may have left windows to close: they are closed before this one.
        closeEndedWindows()
        globalStep += 1
        problemStepsInThisStep = 0
        for name in graph.leaves {
            try stepNormal(byName[name]!)
        }
        closeEndedWindows()
    }

    /// Closes the windows that ended in this global step. Not before its end: a level whose window
    /// ended may have triggered only some of its uppers, and a level finishing later in the step (in
    /// the same leaf's cascade or another leaf's) triggers the rest, which differentiate through that
    /// window (a top that reads both a middle of unroll 1 and the bottom under it, or two leaves). Every
    /// level steps at most once per global step, so no window is needed past its end.
    func closeEndedWindows() {
        for p in windowsEnded { closeWindow(p) }
        windowsEnded.removeAll()
    }

    /// Runs `body` so that a cancel inside it puts back everything it changed, then throws
    /// `.cancelled`, and (with `undoFailedSteps`) so that a failure does too; without either, just runs it.
    private func cancellable<R>(_ body: () throws(EngineError) -> R) throws(EngineError) -> R {
        lastFailure = nil
        guard keepsRestorePoints else { return try body() }
        let before = globalStep
        restorePoint = RestorePoint(self, outside: outsideState)
        defer { endCancellableScope() }
        do {
            return try body()
        } catch {
            if case .cancelled = error, let restorePoint {
                restorePoint.restore(into: self)
                throw error
            }
            throw undo(error, lastCompleted: before)
        }
    }

    func endCancellableScope() {
        restorePoint = nil
        cancelSeen = nil
    }

    /// Throws `.cancelled` when a cancel is due inside a step: requested, waited for
    /// `cancellationTiming.patience`, and a restore point to roll back to exists (without one, the
    /// step boundary honours it). `point` is built only then.
    func checkCancellation(_ point: @autoclosure () -> Interruption.Point) throws(EngineError) {
        guard let cancellation, cancellation.isRequested, let restorePoint else { return }
        let now = ContinuousClock.now
        let seen = cancelSeen ?? now
        cancelSeen = seen
        guard now - seen >= cancellationTiming.patience else { return }
        throw .cancelled(Interruption(globalStep: globalStep, point: point(), stateAfterStep: restorePoint.globalStep))
    }

    /// Betty's `step_normal` (§3), without roll-back.
    func stepNormal(_ p: Problem) throws(EngineError) {
        let r = state(p)
        guard r.ready.allSatisfy({ $0 }) else { return }
        if problemStepsInThisStep > 0 { try checkCancellation(.beforeStep(problem: p.name)) }
        problemStepsInThisStep += 1
        if r.innerLoopStart {
            // A hook may write the parameters in place (reset_on_start): not those an open window saved.
            if p.onInnerLoopStart != nil { copyParametersUnderOpenWindows(p) }
            do { try p.onInnerLoopStart?(p) } catch let error as EngineError {
                throw error
            } catch {
                throw .userCode(problem: p.name, error: error)
            }
            r.innerLoopStart = false
            if rollsBack(p) {
                // Copies, not references: the window's in-place updates must not reach the cache.
                r.rollBackCache = (p.parameters.map { $0.detached() * 1 }, p.optimizer.states)
            }
        }
        r.localStep += 1
        try descend(p)
        if probe?.reached == true { return }
        if let schedule = p.schedule {
            p.optimizer.learningRate = schedule.rate(at: r.localStep, base: p.baseLearningRate)
        }
        let window = p.config.unrollSteps * p.config.gradientAccumulation
        let windowEnds = (r.localStep - r.windowStart) % window == 0
        if windowEnds && r.localStep > p.config.warmupSteps {
            for parentName in graph.parents(of: p.name) where probe?.steps(parentName) ?? true {
                let parent = byName[parentName]!
                let index = graph.children(of: parentName).firstIndex(of: p.name)!
                state(parent).ready[index] = true
                try stepNormal(parent)
                if probe?.reached == true { return }
            }
            r.innerLoopStart = true
            if rollsBack(p), let cache = r.rollBackCache {
                // Betty's roll-back: return to the window's start and take one step on the last batch
                // with the uppers just updated, so the window nets one step of progress.
                for (parameter, value) in zip(p.trainable, cache.values) { parameter.assign(value) }
                p.optimizer.states = cache.states
                r.rollBackCache = nil
                r.accumulated = nil
                try descend(p, batch: r.currentBatch)
            }
        }
        if p.isIterative && windowEnds { windowsEnded.append(p) }
        r.ready = Array(repeating: false, count: r.ready.count)
    }

    /// Ends an unroll window of an iterative problem: the trajectory's last point becomes the new
    /// leaves, and the optimizer keeps the (detached) state reached.
    private func closeWindow(_ p: Problem) {
        let r = state(p)
        guard let states = r.trajectoryStates else { return }
        for parameter in p.trainable {
            parameter.value = parameter.value.detached().requiringGrad()
        }
        p.optimizer.states = states.map { state in
            var s = state
            s.tensors = state.tensors.mapValues { $0.detached() }
            return s
        }
        r.trajectoryStates = nil
    }

    /// One differentiable step of an iterative (reverse-mode) problem: the update is recorded, so
    /// the parameters at the end of the window are functions of every upper level's parameters.
    private func unrolledStep(_ p: Problem, batch: Batch) throws(EngineError) {
        if p.config.gradientAccumulation != 1 || p.config.gradientClipping > 0 || p.gradCallback != nil || p.paramCallback != nil {
            throw .notImplemented(problem: p.name, feature: "gradient accumulation, clipping and grad/param callbacks with reverse mode")
        }
        let r = state(p)
        let theta = p.parameters
        let states = r.trajectoryStates ?? p.optimizer.states
        // Recorded: the direct gradient and any paths below (which must be reverse mode as well).
        let (value, g) = try totalGradient(p, batch: batch, createGraph: true)
        r.lastLoss = value
        let (next, nextStates) = try attributed(p) { () throws(TensorError) in
            try p.optimizer.functionalStep(theta, gradients: g, states: states)
        }
        for (parameter, v) in zip(p.trainable, next) { parameter.value = v }
        r.trajectoryStates = nextStates
        emit(.step(StepEvent(globalStep: globalStep, problem: p.name, localStep: r.localStep, loss: value,
                                 hypergradientNorm: r.lastHypergradientNorm, liveBytes: MemoryStats.liveBytes,
                                 peakBytes: MemoryStats.peakBytes, optimizerStepped: true,
                                 metrics: r.lastMetrics, time: elapsed(), logStep: p.config.logStep)))
    }

    /// One local step: loss, direct gradient plus path hypergradients, accumulate, and step the
    /// optimizer every `gradientAccumulation` local steps.
    private func rollsBack(_ p: Problem) -> Bool {
        config.rollBack && !graph.parents(of: p.name).isEmpty
    }

    private func descend(_ p: Problem, batch given: Batch? = nil) throws(EngineError) {
        let r = state(p)
        if let probe, probe.problem === p { return try probe.reach(self) }
        let batch: Batch
        if let given { batch = given } else { batch = try p.nextBatch() }
        r.currentBatch = batch
        if p.isIterative && config.rollBack {
            throw .notImplemented(problem: p.name, feature: "roll-back with reverse mode")
        }
        if p.isIterative { return try unrolledStep(p, batch: batch) }
        let (loss, grads) = try compiledTotalGradient(p, batch: batch)
        r.lastLoss = loss
        if let previous = r.accumulated {
            r.accumulated = try attributed(p) { () throws(TensorError) in
                try zip(previous, grads).map { (a, b) throws(TensorError) in try a + b }
            }
        } else {
            r.accumulated = grads
        }
        var event = StepEvent(globalStep: globalStep, problem: p.name, localStep: r.localStep, loss: loss,
                              hypergradientNorm: r.lastHypergradientNorm,
                              liveBytes: MemoryStats.liveBytes, peakBytes: MemoryStats.peakBytes,
                              optimizerStepped: false, metrics: r.lastMetrics, time: elapsed(),
                              logStep: p.config.logStep)
        if (r.localStep - r.windowStart) % p.config.gradientAccumulation == 0, var g = r.accumulated {
            r.accumulated = nil
            do {
                if let callback = p.gradCallback { g = try callback(g) }
                if p.config.gradientClipping > 0 {
                    g = try clipGradientNorm(g, maxNorm: p.config.gradientClipping).gradients
                }
                copyParametersUnderOpenWindows(p)
                try p.optimizer.step(gradients: g)
                try p.paramCallback?(p)
            } catch let error as TensorError {
                throw .tensor(problem: p.name, error)
            } catch {
                throw .userCode(problem: p.name, error: error)
            }
            event.optimizerStepped = true
        }
        emit(.step(event))
    }

    /// The loss of `p` on `batch` and its total gradient: direct term plus, unless `firstOrder` is
    /// off, every path's hypergradient (§4). With `createGraph` the result stays differentiable (a
    /// reverse-mode problem's own step, inside an upper's unrolled window).
    func totalGradient(_ p: Problem, batch: Batch, createGraph: Bool = false) throws(EngineError) -> (Float, [Tensor]) {
        let r = state(p)
        r.lastMetrics = [:]
        r.isRecordingMetrics = true
        let raw: Tensor
        do {
            defer { r.isRecordingMetrics = false }
            raw = try p.loss(on: batch)
        }
        let value = raw.scalar
        guard value.isFinite else { throw .nonFiniteLoss(problem: p.name, step: r.localStep, value: value) }
        let loss = accumulationShare(raw, p)
        let allPaths = p.config.firstOrder ? graph.paths[p.name] ?? [] : []
        // Reverse-mode levels are transparent: their parameters are recorded functions of every level
        // they read, through every level below them, so differentiating the loss as it is (nothing held
        // fixed) already gives the total derivative through them, exactly. A path runs through a best-
        // response product only where an implicit level (darts, neumann, cg, sama) breaks the record;
        // a path made of reverse-mode levels alone is inside the autograd term, and counting it again
        // was the double count of docs/BETTY_SEMANTICS.md §4.
        let paths = allPaths.filter { path in path.dropFirst().dropLast().contains { !byName[$0]!.isIterative } }
        // Those paths are in the autograd term only while the level they start through has its window
        // open (its parameters recorded); between windows there is nothing to differentiate.
        for path in allPaths where !paths.contains(path) {
            let first = byName[path[1]]!
            if state(first).trajectoryStates == nil || first.parameters.allSatisfy(\.isLeaf) {
                throw .closedWindow(problem: first.name)
            }
        }
        // The backward pass below may run through long recorded windows: a cancel is honoured before it.
        if let through = allPaths.first(where: { !paths.contains($0) }) {
            try checkCancellation(.hypergradient(problem: through[1], method: .reverse, iteration: 1, count: 1))
        }
        // Another level may still need a recorded window this backward pass runs through.
        var total: [Tensor]
        let held = p.config.firstOrder ? [] : (levelsBelow[p.name] ?? []).filter { $0.isIterative && state($0).trajectoryStates != nil }
        if held.isEmpty {
            total = try directGradient(p, of: loss, retainGraph: !paths.isEmpty || createGraph || recordingWindowIsOpen, createGraph: createGraph)
        } else {
            // Hypergradients off: the partial derivative, every lower level held where it is.
            total = try withDetachedParameters(held[...]) { () throws(EngineError) in
                let fixed = accumulationShare(try p.loss(on: batch), p)
                return try directGradient(p, of: fixed, retainGraph: recordingWindowIsOpen, createGraph: createGraph)
            }
        }
        // Each part is checked as it is made, so an error names the part (and the method and setting)
        // that went wrong rather than whichever problem first trips over the result.
        func requireFinite(_ g: [Tensor], _ part: @autoclosure () -> NonFiniteGradient.Part) throws(EngineError) {
            guard !allFinite(g) else { return }
            throw .nonFiniteGradient(NonFiniteGradient(problem: p.name, localStep: r.localStep, part: part(),
                                                       hasNaN: containsNaN(g), loss: value))
        }
        try requireFinite(total, .direct)
        for path in paths {
            let first = byName[path[1]]!
            // Retained: a reverse-mode lower differentiates its trajectory, which this graph reaches.
            var v = try gradients(of: loss, wrt: first.parameters, problem: p.name, retainGraph: true, createGraph: createGraph)
            try requireFinite(v, .lossGradient(lower: first.name))
            for k in 1..<(path.count - 1) {
                let curr = byName[path[k]]!
                v = try BestResponse.product(v, curr: curr, prev: byName[path[k + 1]]!, engine: self, createGraph: createGraph)
                try requireFinite(v, .method(lower: curr.name, method: curr.config.type,
                                             setting: NonFiniteGradient.likelyCause(of: curr.config.type, in: curr)))
            }
            total = try attributed(p) { () throws(TensorError) in
                try zip(total, v).map { (a, b) throws(TensorError) in try a + (createGraph ? b : b.detached()) }
            }
        }
        if !allPaths.isEmpty { try requireFinite(total, .total(paths: allPaths.count)) }
        // Only a norm computed at this step is reported: a stale one would outlive a graph change.
        r.lastHypergradientNorm = allPaths.isEmpty ? nil : try attributed(p) { () throws(TensorError) in try globalNorm(total) }
        // Without createGraph the gradients carry no graph already: kept as they are (no copy).
        r.lastHypergradient = createGraph ? total.map { $0.detached() } : total
        return (value, createGraph ? total : total.map { $0.detached() })
    }

    /// The partial derivative of `p`'s loss with respect to its own parameters (Betty's direct
    /// gradient). With `allowUnused` off, a parameter the loss does not depend on is an error that
    /// names it, as PyTorch's `allow_unused=False` is; on, its gradient is zero.
    private func directGradient(_ p: Problem, of loss: Tensor, retainGraph: Bool, createGraph: Bool) throws(EngineError) -> [Tensor] {
        guard !p.config.allowUnused else {
            return try gradients(of: loss, wrt: p.parameters, problem: p.name, retainGraph: retainGraph, createGraph: createGraph)
        }
        let theta = p.parameters
        let names = p.module.namedParameters.map(\.name)
        guard loss.requiresGrad else { throw .unusedParameters(problem: p.name, names: names) }
        do {
            return try grad(of: loss, wrt: theta, createGraph: createGraph, retainGraph: retainGraph || createGraph, allowUnused: false)
        } catch let failure {
            // Autograd checks for unused inputs before computing or freeing anything, so the graph is
            // intact. A failure that allowUnused does not cure is not about unused parameters.
            do {
                _ = try grad(of: loss, wrt: theta, retainGraph: true, allowUnused: true)
            } catch {
                throw .tensor(problem: p.name, error)
            }
            // The autograd error names an unused input by position; one probe each names them all.
            let unused = zip(names, theta).filter { _, t in
                (try? grad(of: loss, wrt: [t], retainGraph: true, allowUnused: false)) == nil
            }.map(\.0)
            throw unused.isEmpty ? .tensor(problem: p.name, failure) : .unusedParameters(problem: p.name, names: unused)
        }
    }

    /// The loss divided by the number of accumulated steps; without accumulation, the loss itself
    /// (dividing by 1 changes no value, but would record a node and a backward step every step).
    private func accumulationShare(_ loss: Tensor, _ p: Problem) -> Tensor {
        p.config.gradientAccumulation == 1 ? loss : loss / Float(p.config.gradientAccumulation)
    }

    /// Runs `body` with the parameters of `problems` replaced by detached copies of their values.
    func withDetachedParameters<R>(_ problems: ArraySlice<Problem>, _ body: () throws(EngineError) -> R) throws(EngineError) -> R {
        guard let first = problems.first else { return try body() }
        return try withParameters(first, first.parameters.map { $0.detached() }) { () throws(EngineError) in
            try withDetachedParameters(problems.dropFirst(), body)
        }
    }

    /// The total gradient (direct term plus every path's hypergradient, and everything through the
    /// reverse-mode levels it reads) that problem `name` computed at its latest step, or at the latest
    /// `hypergradient(of:)`; nil before that.
    /// Unlike `hypergradient(of:)` it is there also once a reverse-mode window has closed.
    public func lastHypergradient(of name: String) -> [Tensor]? {
        byName[name].map { state($0).lastHypergradient } ?? nil
    }

    /// The total gradient `p` would apply now, on its latest batch (or a fresh one): what the REPL's
    /// `hypergrad NAME` prints. Changes no parameters, buffers (batch norm's running statistics) or
    /// random streams (dropout's): the losses it evaluates run as a step would, then are put back.
    public func hypergradient(of name: String) throws(EngineError) -> [Tensor] {
        guard let p = byName[name] else {
            throw .graph(.unknownProblem(name, suggestion: closestName(to: name, in: graph.problems)))
        }
        let modules = ModuleState(problems.map(\.module))
        defer { modules.restore() }
        return try cancellable { () throws(EngineError) in
            let batch: Batch
            let r = state(p)
            if let current = r.currentBatch { batch = current } else { batch = try p.nextBatch() }
            r.currentBatch = batch
            return try totalGradient(p, batch: batch).1
        }
    }
}

/// A `run`, `step` or `hypergradient(of:)` that failed: the global step under way, and the one whose
/// end the state is at (`Engine.undoFailedSteps`); for a hypergradient both are the step it was taken at.
public struct StepFailure: Sendable, Equatable {
    public var globalStep: Int
    /// Nil when the state could not be put back, and is as the failure left it.
    public var stateAfterStep: Int?

    public init(globalStep: Int, stateAfterStep: Int?) {
        self.globalStep = globalStep
        self.stateAfterStep = stateAfterStep
    }
}

public struct RunSummary: Sendable {
    public var globalStep: Int
    public var stoppedEarly: Bool
    public var lastValidation: [String: Float]?
    /// Set when `Engine.cancellation` stopped the run: where, and which step's end the state is at.
    public var interruption: Interruption?
    /// Steps the state now includes (fewer than asked when interrupted or stopped early; a step
    /// undone by a cancel does not count).
    public var completed = 0

    public var interrupted: Bool { interruption != nil }
}

/// Early stopping with a strict-improvement rule (Betty's intent; its release crashes here).
struct EarlyStopper {
    let settings: EngineConfig.EarlyStopping
    var best: Float?
    var stale = 0

    init(_ settings: EngineConfig.EarlyStopping) { self.settings = settings }

    mutating func shouldStop(_ metrics: [String: Float]) throws(EngineError) -> Bool {
        guard let value = metrics[settings.metric] else {
            throw .earlyStoppingMetricMissing(metric: settings.metric, returned: metrics.keys.sorted())
        }
        if let b = best, !(settings.mode == .min ? value < b : value > b) {
            stale += 1
        } else {
            best = value
            stale = 0
        }
        return stale >= settings.tolerance
    }
}
