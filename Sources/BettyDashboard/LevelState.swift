import Betty

/// What the dashboard knows of one level (problem): its curves and where it is.
public struct LevelState: Sendable {
    /// A NaN or infinite loss, kept so the panel can say where the run went wrong.
    public struct NonFinite: Sendable, Equatable {
        public var globalStep: Int
        public var localStep: Int
        public var value: Float
    }

    public let name: String
    public var loss = Series()
    /// Only levels with back-propagation paths report a hypergradient norm.
    public var hypergradientNorm: Series?
    public var localStep = 0
    public var globalStep = 0
    public var lastLoss: Float?
    public var lastHypergradientNorm: Float?
    public var firstNonFinite: NonFinite?
    public var rate = RateMeter()

    public init(name: String) {
        self.name = name
    }

    public var stepsPerSecond: Double? { rate.perSecond }

    mutating func apply(_ e: StepEvent) {
        localStep = e.localStep
        globalStep = e.globalStep
        lastLoss = e.loss
        loss.append(x: e.globalStep, y: e.loss)
        if !e.loss.isFinite, firstNonFinite == nil {
            firstNonFinite = NonFinite(globalStep: e.globalStep, localStep: e.localStep, value: e.loss)
        }
        if let norm = e.hypergradientNorm {
            lastHypergradientNorm = norm
            if hypergradientNorm == nil { hypergradientNorm = Series() }
            hypergradientNorm?.append(x: e.globalStep, y: norm)
        }
        rate.record(time: e.time, steps: e.localStep)
    }

    var memoryBytes: Int {
        MemoryLayout<LevelState>.stride + loss.memoryBytes + (hypergradientNorm?.memoryBytes ?? 0)
    }
}
