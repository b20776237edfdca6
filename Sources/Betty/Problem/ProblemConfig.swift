/// How a problem is optimized and how hypergradients pass through it (Betty's `Config`, with its
/// defaults; see docs/BETTY_SEMANTICS.md §1).
public struct ProblemConfig: Sendable, Equatable {
    /// The best-response Jacobian method used when this problem is an intermediate node of a
    /// back-propagation path (that is, when it is the lower level an upper differentiates through).
    public enum Method: String, Sendable, CaseIterable {
        case darts, neumann, cg, sama, reverse
    }

    public enum Precision: String, Sendable, CaseIterable {
        case fp32, fp16, bf16
    }

    public var type: Method = .darts
    /// Local steps per trigger of the parents.
    public var unrollSteps = 1
    /// When false, the hypergradient paths of this problem are skipped (Betty's meaning (a)).
    public var firstOrder = true
    /// When false, a parameter the loss does not depend on is an error naming it (Betty's
    /// `allow_unused` of the direct gradient); when true its gradient is taken as zero.
    /// Betty's `retain_graph` has no counterpart: the engine keeps a graph exactly as long as a
    /// hypergradient needs it, where Betty needs `retain_graph=True` on every problem with paths.
    public var allowUnused = true
    /// Local steps whose gradients are summed (loss divided by this) before one optimizer step.
    public var gradientAccumulation = 1
    /// Global-norm clipping before each optimizer step; 0 turns it off.
    public var gradientClipping: Float = 0
    public var precision: Precision = .fp32
    /// Parents are triggered only once the local step count exceeds this.
    public var warmupSteps = 0
    /// Show this problem's step every this many local steps: carried by each `StepEvent` to the
    /// reporters (`TextLogger`, the REPL's progress lines), where it overrides their own frequency;
    /// 0 leaves the choice to them. Every step is an event either way.
    public var logStep = 0
    /// darts: ε = dartsAlpha / ‖v‖.
    public var dartsAlpha: Float = 0.01
    public var neumannIterations = 1
    public var neumannAlpha: Float = 1
    /// Iterations of textbook conjugate gradient. Betty's `cg_alpha` has no counterpart: it scales
    /// the Hessian in Betty's own update, and textbook CG gives the same iterates at any scale.
    public var cgIterations = 1
    /// sama: ε = samaAlpha / ‖v‖ along the Adam-preconditioned v.
    public var samaAlpha: Float = 1

    public init() {}

    /// Checks the values a user can get wrong, with the field named in the message.
    public func validate(problem: String) throws(EngineError) {
        func bad(_ field: String, _ why: String) -> EngineError { .invalidConfig(problem: problem, field: field, reason: why) }
        if unrollSteps < 1 { throw bad("unrollSteps", "must be at least 1, got \(unrollSteps)") }
        if gradientAccumulation < 1 { throw bad("gradientAccumulation", "must be at least 1, got \(gradientAccumulation)") }
        if gradientClipping < 0 { throw bad("gradientClipping", "must be >= 0, got \(gradientClipping)") }
        if warmupSteps < 0 { throw bad("warmupSteps", "must be >= 0, got \(warmupSteps)") }
        if precision != .fp32 { throw bad("precision", "\(precision.rawValue) is not supported yet; use fp32") }
        // NaN passes every comparison, so finiteness is checked on its own.
        for (field, value) in [("gradientClipping", gradientClipping), ("dartsAlpha", dartsAlpha),
                               ("neumannAlpha", neumannAlpha), ("samaAlpha", samaAlpha)] where !value.isFinite {
            throw bad(field, "must be a finite number, got \(value)")
        }
        if dartsAlpha <= 0 { throw bad("dartsAlpha", "must be positive, got \(dartsAlpha)") }
        if samaAlpha <= 0 { throw bad("samaAlpha", "must be positive, got \(samaAlpha)") }
        // Zero would make every Neumann hypergradient zero without a word.
        if neumannAlpha <= 0 { throw bad("neumannAlpha", "must be positive, got \(neumannAlpha)") }
        if neumannIterations < 0 || cgIterations < 0 { throw bad("iterations", "must be >= 0") }
    }
}

/// The engine's own settings (Betty's `EngineConfig`).
public struct EngineConfig: Sendable, Equatable {
    public var trainIterations = 50_000
    /// Run the validation closure every this many global steps; 0 turns validation off.
    public var validStep = 500
    public var rollBack = false
    public var earlyStopping: EarlyStopping? = nil
    /// Record each problem's gradient computation (its loss, direct gradient and hypergradients) at
    /// its first step as a `StepPlan` and replay it at later steps: the same numbers bit for bit,
    /// without building a graph. A step that does something else than it recorded (another batch
    /// shape, a branch on data) is undone and recorded again; a problem whose step changes every time,
    /// or that a plan cannot record, runs on the dynamic tape, and a `.notice` event says why.
    public var compile = false

    public struct EarlyStopping: Sendable, Equatable {
        public enum Mode: String, Sendable { case min, max }
        public var metric: String
        public var mode: Mode
        /// Validations without a strict improvement before stopping.
        public var tolerance: Int

        public init(metric: String = "loss", mode: Mode = .min, tolerance: Int = 5) {
            self.metric = metric
            self.mode = mode
            self.tolerance = tolerance
        }
    }

    public init() {}
}
