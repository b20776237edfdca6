import BettyDashboard

/// The dashboard's thread: folds the feed into the model and redraws at a steady rate, whatever the
/// engine's step rate, and answers keys between frames. The model and view outlive `run`, so the
/// dashboard reopened later (on a new terminal) shows the whole history.
public final class DashboardLoop {
    /// Ten frames a second: smooth enough for curves, cheap enough to leave the engine its cores.
    public static let framePeriod: Duration = .milliseconds(100)

    public let feed: MonitorFeed
    public let host: any DashboardHost
    public var terminal: any TerminalDriver
    public private(set) var model: MonitorModel
    public private(set) var view: DashboardView
    private let sampleMemory: () -> MemorySample?

    public init(feed: MonitorFeed, host: any DashboardHost, terminal: any TerminalDriver,
                model: MonitorModel = MonitorModel(), view: DashboardView = DashboardView(),
                sampleMemory: @escaping () -> MemorySample?) {
        self.feed = feed
        self.host = host
        self.terminal = terminal
        self.model = model
        self.view = view
        self.sampleMemory = sampleMemory
    }

    /// Blocks the calling thread until `q` or `shouldEnd()`, which is asked between keys and frames
    /// (so at least ten times a second). Does not close the terminal.
    public func run(until shouldEnd: () -> Bool) -> DashboardExit {
        let clock = ContinuousClock()
        var nextFrame = clock.now
        while true {
            if shouldEnd() {
                frame()
                return .ended
            }
            let now = clock.now
            if now >= nextFrame {
                frame()
                // After a stall, start a fresh cadence instead of drawing the missed frames in a burst.
                nextFrame = max(nextFrame + Self.framePeriod, now)
            }
            let input = terminal.readKey(timeoutMilliseconds: Self.milliseconds(until: nextFrame, clock: clock))
            switch input {
            case nil:
                continue
            case .resize:
                draw()
            case let .key(scalar):
                if handle(scalar) {
                    fold()
                    return .quit
                }
                // A key's effect shows at once, not at the next frame.
                draw()
            }
        }
    }

    /// Acts on one key; true when it asks to leave.
    private func handle(_ scalar: Unicode.Scalar) -> Bool {
        // Raw mode delivers Ctrl-C as a byte: it pauses the run, whatever the key table says.
        let key: DashboardKey? = scalar == "\u{03}" ? .interrupt : DashboardKey(character: scalar)
        guard let key else { return false }
        switch key {
        case .quit: return true
        case .togglePause: host.togglePause()
        case .stepOnce: host.stepOnce()
        case .interrupt: host.interruptFromDashboard()
        default: view.apply(key, levels: model.levels.map(\.name))
        }
        return false
    }

    private func frame() {
        fold()
        draw()
    }

    /// Folds what the feed holds into the model without drawing: a closed dashboard keeps its history
    /// (and the feed its room) when its owner calls this now and then.
    public func absorb() { fold() }

    private func fold() {
        var (events, dropped) = feed.drain()
        if let sample = sampleMemory() { events.append(.memory(sample)) }
        model.apply(events, dropped: dropped)
    }

    private func draw() {
        terminal.draw(DashboardRenderer.render(model, view: view, size: terminal.size,
                                               capabilities: terminal.capabilities))
    }

    private static func milliseconds(until deadline: ContinuousClock.Instant, clock: ContinuousClock) -> Int {
        let (seconds, attoseconds) = (deadline - clock.now).components
        return max(0, Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
    }
}
