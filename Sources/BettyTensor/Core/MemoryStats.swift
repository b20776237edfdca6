import Synchronization

/// Bytes of tensor storage alive now and at peak, across all threads.
///
/// The dashboard samples these while the engine steps on another thread, so they are atomics.
public enum MemoryStats {
    private static let live = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)

    /// Bytes of tensor storage currently allocated.
    public static var liveBytes: Int { live.load(ordering: .relaxed) }

    /// Highest `liveBytes` seen since start or since the last `resetPeak()`.
    public static var peakBytes: Int { peak.load(ordering: .relaxed) }

    /// Sets the peak to the current live bytes, to measure the peak of a region of code.
    public static func resetPeak() {
        peak.store(live.load(ordering: .relaxed), ordering: .relaxed)
    }

    @usableFromInline
    static func allocated(_ bytes: Int) {
        let now = live.wrappingAdd(bytes, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(
                expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    @usableFromInline
    static func freed(_ bytes: Int) {
        live.wrappingSubtract(bytes, ordering: .relaxed)
    }
}
