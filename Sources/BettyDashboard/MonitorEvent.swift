import Betty

/// Everything the dashboard learns about a session, as a stream: the engine's events, the run's
/// state, the program's shape, memory samples and output lines. The dashboard's model is a fold of
/// this stream, so a recorded stream replays to the same screen (the golden tests do exactly that).
public enum MonitorEvent: Sendable, Equatable {
    /// One local step of one problem (loss, hypergradient norm, tensor memory, time).
    case step(StepEvent)
    case validation(globalStep: Int, metrics: [String: Float])
    /// The engine stopped a run itself (early stopping).
    case stopped(globalStep: Int, reason: String)
    /// Process memory, sampled by whoever publishes (the dashboard samples at its redraw rate).
    case memory(MemorySample)
    /// The run controller's state changed, or its step counter moved.
    case run(RunStatus)
    /// The program's levels (in definition order) and its back-propagation paths, upper level first.
    case program(levels: [String], paths: [[String]])
    /// A line the session printed that the user should see in the dashboard.
    case output(OutputLine)
}

public struct MemorySample: Sendable, Equatable {
    public var globalStep: Int
    /// Seconds on the same clock as `StepEvent.time`.
    public var time: Double
    public var residentBytes: Int
    public var liveBytes: Int
    public var peakBytes: Int
    public init(globalStep: Int, time: Double, residentBytes: Int, liveBytes: Int, peakBytes: Int) {
        self.globalStep = globalStep
        self.time = time
        self.residentBytes = residentBytes
        self.liveBytes = liveBytes
        self.peakBytes = peakBytes
    }
}

/// Where the run controller is. `completed` and `total` count the global steps of the current `run`
/// command (`total` 0 when nothing was started); `globalStep` is the engine's counter.
public struct RunStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case idle
        case running
        case paused
        case done
        case failed(String)
    }
    public var state: State
    public var globalStep: Int
    public var completed: Int
    public var total: Int
    /// Seconds the current run has spent running (pauses excluded).
    public var elapsed: Double
    public init(state: State, globalStep: Int, completed: Int, total: Int, elapsed: Double) {
        self.state = state
        self.globalStep = globalStep
        self.completed = completed
        self.total = total
        self.elapsed = elapsed
    }
}

public struct OutputLine: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case info, warning, error, expectationPassed, expectationFailed }
    public var kind: Kind
    public var text: String
    public init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }
}
