
/// The bounded buffer between the engine's thread and the dashboard. `publish` takes a mutex for a
/// few nanoseconds and never waits on drawing: when the reader falls behind by `capacity` events, the
/// oldest are dropped and counted (the dashboard shows the count), rather than the engine slowing down.
public final class MonitorFeed: Sendable {
    private struct Buffer {
        var events: [MonitorEvent] = []
        var dropped = 0
    }
    private let buffer = Locked(Buffer())
    public let capacity: Int

    public init(capacity: Int = 1 << 16) {
        precondition(capacity > 0, "a feed needs room for at least one event")
        self.capacity = capacity
    }

    public func publish(_ event: MonitorEvent) {
        buffer.withLock { b in
            if b.events.count >= capacity {
                // Amortised: drop a quarter at once so a reader that stalls costs O(1) per event.
                let excess = max(1, capacity / 4)
                b.events.removeFirst(excess)
                b.dropped += excess
            }
            b.events.append(event)
        }
    }

    /// Takes every event published since the last drain, oldest first, and how many were dropped.
    public func drain() -> (events: [MonitorEvent], dropped: Int) {
        buffer.withLock { b in
            defer { b = Buffer() }
            return (b.events, b.dropped)
        }
    }
}
