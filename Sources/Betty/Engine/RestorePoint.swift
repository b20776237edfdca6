import BettyNN
import BettyTensor

/// Everything a global step changes, as it was at a step boundary, so a step cancelled part-way can
/// be undone and the run continued bit for bit as if it had never started.
///
/// Taking one copies nothing: tensors are copy-on-write, so holding the values makes the next
/// in-place update of each (an optimizer step) copy it once. Only taken while no reverse-mode window
/// is open: an open window's recorded graph holds the upper levels' parameters at the version they
/// had, and an in-place update after the restore point would leave that graph unusable.
struct RestorePoint {
    let globalStep: Int
    private let problems: [(Problem, ProblemState)]
    /// Puts back state kept outside the engine (see `Engine.rollsBack(with:)`).
    private let outside: [() -> Void]

    /// Nil while a reverse-mode window is open.
    init?(_ engine: Engine, outside captures: [() -> () -> Void]) {
        guard !engine.recordingWindowIsOpen else { return nil }
        globalStep = engine.globalStep
        problems = engine.problems.map { ($0, ProblemState($0, engine.state($0))) }
        outside = captures.map { $0() }
    }

    func restore(into engine: Engine) {
        for (problem, state) in problems { state.restore(into: problem, engine.state(problem)) }
        engine.windowsEnded.removeAll()
        for putBack in outside { putBack() }
        engine.globalStep = globalStep
    }
}

/// One problem's share of a restore point.
private struct ProblemState {
    let parameters: [Tensor]
    let module: ModuleState
    let optimizerStates: [ParameterState]
    let learningRate: Float
    let loaders: [DataLoader.State]
    /// The data each loader serves and any waiting for its next epoch, which a step can take up.
    let loaderSources: [DataLoader.Source]
    let localStep: Int
    let windowStart: Int
    let ready: [Bool]
    let innerLoopStart: Bool
    let accumulated: [Tensor]?
    let rollBackCache: (values: [Tensor], states: [ParameterState])?
    let currentBatch: Batch?
    let lastLoss: Float?
    let lastMetrics: [String: Float]
    let lastHypergradientNorm: Float?
    let lastHypergradient: [Tensor]?

    init(_ p: Problem, _ r: ProblemRun) {
        parameters = p.trainable.map(\.value)
        module = ModuleState([p.module])
        optimizerStates = p.optimizer.states
        learningRate = p.optimizer.learningRate
        loaders = p.loaders.map(\.state)
        loaderSources = p.loaders.map(\.source)
        localStep = r.localStep
        windowStart = r.windowStart
        ready = r.ready
        innerLoopStart = r.innerLoopStart
        accumulated = r.accumulated
        rollBackCache = r.rollBackCache
        currentBatch = r.currentBatch
        lastLoss = r.lastLoss
        lastMetrics = r.lastMetrics
        lastHypergradientNorm = r.lastHypergradientNorm
        lastHypergradient = r.lastHypergradient
    }

    func restore(into p: Problem, _ r: ProblemRun) {
        // Fresh leaves, as a checkpoint load makes: the old leaf's version counter has moved on with
        // the updates being undone, so a graph built from it would refuse to differentiate.
        for (parameter, value) in zip(p.trainable, parameters) { parameter.value = value.detached().requiringGrad() }
        module.restore()
        p.optimizer.states = optimizerStates
        p.optimizer.learningRate = learningRate
        // The data first: a state is checked against the data it indexes.
        for (loader, source) in zip(p.loaders, loaderSources) { loader.restore(source) }
        for (loader, state) in zip(p.loaders, loaders) {
            do {
                try loader.restore(state)
            } catch {
                preconditionFailure("restore point: a loader refused a state it reported itself: \(error)")
            }
        }
        r.localStep = localStep
        r.windowStart = windowStart
        r.ready = ready
        r.innerLoopStart = innerLoopStart
        r.accumulated = accumulated
        r.rollBackCache = rollBackCache
        r.trajectoryStates = nil
        r.currentBatch = currentBatch
        r.lastLoss = lastLoss
        r.lastMetrics = lastMetrics
        r.lastHypergradientNorm = lastHypergradientNorm
        r.lastHypergradient = lastHypergradient
        r.isRecordingMetrics = false
    }
}
