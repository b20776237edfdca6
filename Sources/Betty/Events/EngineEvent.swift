/// What the engine reports while it runs; loggers, the REPL and the dashboard consume these.
public enum EngineEvent: Sendable {
    case step(StepEvent)
    case validation(globalStep: Int, metrics: [String: Float])
    case stopped(globalStep: Int, reason: String)
    /// Something the user should know that is not an error, e.g. why a problem's step runs on the
    /// dynamic tape although `EngineConfig.compile` is on.
    case notice(globalStep: Int, problem: String, message: String)
}

/// One local step of one problem.
public struct StepEvent: Sendable, Equatable {
    public var globalStep: Int
    public var problem: String
    public var localStep: Int
    public var loss: Float
    /// Norm of the total gradient (direct + hypergradients) when the problem has paths.
    public var hypergradientNorm: Float?
    public var liveBytes: Int
    public var peakBytes: Int
    public var optimizerStepped: Bool
    /// What the training step logged with `Problem.log(_:_:)` on this step's batch.
    public var metrics: [String: Float]
    /// Seconds since the engine was created (monotonic clock).
    public var time: Double
    /// The problem's `ProblemConfig.logStep`: a reporter shows this step when it divides the local
    /// step; 0 leaves the choice to the reporter.
    public var logStep: Int

    public init(globalStep: Int, problem: String, localStep: Int, loss: Float, hypergradientNorm: Float?,
                liveBytes: Int, peakBytes: Int, optimizerStepped: Bool, metrics: [String: Float] = [:],
                time: Double = 0, logStep: Int = 0) {
        self.globalStep = globalStep
        self.problem = problem
        self.localStep = localStep
        self.loss = loss
        self.hypergradientNorm = hypergradientNorm
        self.liveBytes = liveBytes
        self.peakBytes = peakBytes
        self.optimizerStepped = optimizerStepped
        self.metrics = metrics
        self.time = time
        self.logStep = logStep
    }
}
