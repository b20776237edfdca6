import Betty

/// The dashboard's state: a fold of monitor events. Time comes only from the events, never from a
/// clock, so a recorded stream replays to the same model and therefore the same screen.
public struct MonitorModel: Sendable {
    /// Levels in the program's definition order, then any level first seen in a step event.
    public private(set) var levels: [LevelState] = []
    public private(set) var paths: [[String]] = []
    /// Validation metrics by name, over global steps.
    public private(set) var metrics: [String: Series] = [:]
    public private(set) var lastMetrics: [String: Float] = [:]
    public private(set) var resident = Series()
    public private(set) var live = Series()
    public private(set) var peak = Series()
    public private(set) var lastMemory: MemorySample?
    public private(set) var status: RunStatus?
    public private(set) var output: [OutputLine] = []
    public static let outputCapacity = 50
    /// Events the feed dropped because the dashboard fell behind.
    public private(set) var dropped = 0
    public private(set) var stopReason: String?
    public private(set) var globalStep = 0
    /// The latest event time seen (seconds on the engine's clock).
    public private(set) var time = 0.0
    private var globalRate = RateMeter()
    private var lastRateStep: Int?

    public init() {}

    public mutating func apply(_ events: [MonitorEvent], dropped: Int) {
        self.dropped += dropped
        for event in events { apply(event) }
    }

    public mutating func apply(_ event: MonitorEvent) {
        switch event {
        case .step(let e):
            levels[index(ofLevel: e.problem)].apply(e)
            advance(globalStep: e.globalStep, time: e.time)
            live.append(x: e.globalStep, y: Float(e.liveBytes))
            peak.append(x: e.globalStep, y: Float(e.peakBytes))
        case .validation(let step, let values):
            for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                metrics[name, default: Series()].append(x: step, y: value)
                lastMetrics[name] = value
            }
            globalStep = max(globalStep, step)
        case .stopped(let step, let reason):
            stopReason = reason
            record(OutputLine(.info, "stopped at step \(step): \(reason)"))
        case .memory(let m):
            lastMemory = m
            resident.append(x: m.globalStep, y: Float(m.residentBytes))
            live.append(x: m.globalStep, y: Float(m.liveBytes))
            peak.append(x: m.globalStep, y: Float(m.peakBytes))
            time = max(time, m.time)
        case .run(let s):
            // A rate measured across a pause would count the pause as slowness: start afresh.
            if s.state == .running, let previous = status, previous.state != .running {
                globalRate.restart()
                for i in levels.indices { levels[i].rate.restart() }
            }
            status = s
            globalStep = max(globalStep, s.globalStep)
        case .program(let names, let newPaths):
            paths = newPaths
            // Program order first; levels already seen but no longer declared keep their curves.
            let known = Dictionary(uniqueKeysWithValues: levels.map { ($0.name, $0) })
            let declared = names.map { known[$0] ?? LevelState(name: $0) }
            levels = declared + levels.filter { !names.contains($0.name) }
        case .output(let line):
            record(line)
        }
    }

    public func level(named name: String) -> LevelState? { levels.first { $0.name == name } }

    /// Metric names in a stable order for drawing.
    public var metricNames: [String] { metrics.keys.sorted() }

    /// Global steps per second over the recent step events.
    public var stepsPerSecond: Double? { globalRate.perSecond }

    /// Remaining steps of the current run at the run's average pace so far (pauses excluded).
    public var eta: Double? {
        guard let s = status, s.total > 0, s.completed > 0, s.elapsed > 0 else { return nil }
        switch s.state {
        case .running, .paused: return Double(s.total - s.completed) * s.elapsed / Double(s.completed)
        default: return nil
        }
    }

    /// What the model's stored series cost; stays bounded however long the run.
    public var memoryBytes: Int {
        levels.reduce(0) { $0 + $1.memoryBytes }
            + metrics.values.reduce(0) { $0 + $1.memoryBytes }
            + resident.memoryBytes + live.memoryBytes + peak.memoryBytes
    }

    /// Mutating through the index keeps the level's series uniquely referenced (no copy per step).
    private mutating func index(ofLevel name: String) -> Int {
        if let i = levels.firstIndex(where: { $0.name == name }) { return i }
        levels.append(LevelState(name: name))
        return levels.count - 1
    }

    private mutating func advance(globalStep step: Int, time t: Double) {
        // Several levels report the same global step; the rate counts each global step once.
        if step != lastRateStep {
            globalRate.record(time: t, steps: step)
            lastRateStep = step
        }
        globalStep = max(globalStep, step)
        time = max(time, t)
    }

    private mutating func record(_ line: OutputLine) {
        output.append(line)
        if output.count > Self.outputCapacity { output.removeFirst(output.count - Self.outputCapacity) }
    }
}
