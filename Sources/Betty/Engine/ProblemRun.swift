import BettyNN
import BettyTensor

/// The engine's mutable state for one problem: where it is in the schedule, what it has
/// accumulated, the copies it rolls back to, and what its latest step left behind. `Problem` is the
/// user's declaration (module, optimizer, data, loss, settings, callbacks); the engine that runs it
/// owns this record, and everything a step changes apart from the module's parameters, buffers,
/// generators, the optimizer and the data loaders is here.
///
/// A reference type so that an engine built over problems another engine ran continues their runs
/// (the REPL builds a new engine whenever the program changes): `Engine.init` takes over each
/// problem's record from the engine it belonged to.
final class ProblemRun {
    /// Local step count (Betty's `count`).
    var localStep = 0
    /// The local step the current window counts from: 0, unless a check started a trial window
    /// part-way through the schedule.
    var windowStart = 0
    /// One flag per lower problem: set when that lower finished a window since this problem's step.
    var ready: [Bool] = []
    /// Whether the next local step opens an unroll window (runs `onInnerLoopStart`, takes the cache).
    var innerLoopStart = true
    /// The gradients summed over the local steps since the last optimizer step.
    var accumulated: [Tensor]?
    /// Parameters and optimizer state at the start of the window, when the engine rolls back.
    var rollBackCache: (values: [Tensor], states: [ParameterState])?
    /// Optimizer state along an open unroll window of a reverse-mode problem (kept in the graph).
    var trajectoryStates: [ParameterState]?
    /// The batch of the latest local step: hypergradients re-evaluate this problem's loss on it.
    var currentBatch: Batch?
    /// The unscaled loss of the latest local step.
    var lastLoss: Float?
    /// What the training step logged (`Problem.log(_:_:)`) on the latest step's own loss evaluation.
    var lastMetrics: [String: Float] = [:]
    /// On only while the engine evaluates this step's loss, so re-evaluations (finite differences,
    /// hypergradients) do not overwrite the step's metrics with values at perturbed parameters.
    var isRecordingMetrics = false
    /// Set when the loss being evaluated read a reverse-mode level it has no edge with; the engine
    /// refuses that loss before differentiating anything.
    var unconnectedRead: EngineError?
    /// The latest total gradient this problem computed (what its step applied), detached.
    var lastHypergradient: [Tensor]?
    /// The latest total hypergradient norm (direct + paths), when paths exist.
    var lastHypergradientNorm: Float?
    /// The recorded gradient computation, when the engine compiles (`EngineConfig.compile`).
    var compiled = CompiledGradient()

    init() {}
}
