/// Steps per second over the most recent samples, from the events' own clock (never the wall clock),
/// so a replayed stream shows the same rate it showed live.
public struct RateMeter: Sendable, Equatable {
    private var samples: [(time: Double, steps: Int)] = []
    private var next = 0
    public let window: Int

    public init(window: Int = 32) {
        self.window = max(2, window)
    }

    public mutating func record(time: Double, steps: Int) {
        if samples.count < window {
            samples.append((time, steps))
        } else {
            samples[next] = (time, steps)
            next = (next + 1) % window
        }
    }

    /// Forgets every sample (a run resumed after a pause).
    public mutating func restart() {
        samples = []
        next = 0
    }

    /// nil until two samples at different times exist.
    public var perSecond: Double? {
        guard samples.count >= 2 else { return nil }
        let oldest = samples.count < window ? samples[0] : samples[next]
        let newest = samples.count < window ? samples[samples.count - 1] : samples[(next + window - 1) % window]
        let dt = newest.time - oldest.time
        guard dt > 0 else { return nil }
        return Double(newest.steps - oldest.steps) / dt
    }

    public static func == (a: RateMeter, b: RateMeter) -> Bool {
        a.window == b.window && a.next == b.next && a.samples.count == b.samples.count
            && zip(a.samples, b.samples).allSatisfy { $0.time == $1.time && $0.steps == $1.steps }
    }
}
