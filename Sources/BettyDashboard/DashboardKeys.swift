extension DashboardKey {
    /// The key a terminal byte stands for; nil for keys the dashboard ignores.
    public init?(character: Unicode.Scalar) {
        switch character {
        case "p", "P": self = .togglePause
        case "s", "S": self = .stepOnce
        case "l", "L": self = .toggleLogScale
        case "m", "M": self = .toggleSmoothing
        case "+", "=": self = .widenWindow  // '=' is '+' without shift on most layouts
        case "-", "_": self = .narrowWindow
        case "\t": self = .cycleFocus
        case "q", "Q": self = .quit
        case "?", "h": self = .help
        case "\u{03}": self = .interrupt
        default: return nil
        }
    }
}

extension DashboardView {
    /// Window sizes `+` and `-` step through, widest first (nil: the whole run).
    public static let windowLadder: [Int?] = [nil, 10_000, 1_000, 100]

    /// Applies a view key; run keys (pause, step, quit, interrupt) leave the view unchanged.
    public mutating func apply(_ key: DashboardKey, levels: [String]) {
        switch key {
        case .toggleLogScale: logScale.toggle()
        case .toggleSmoothing: smoothing.toggle()
        case .widenWindow: window = Self.wider(than: window)
        case .narrowWindow: window = Self.narrower(than: window)
        case .help: showHelp.toggle()
        case .cycleFocus:
            // Overview, then each level in program order, then back to the overview.
            if let current = focus, let i = levels.firstIndex(of: current) {
                focus = i + 1 < levels.count ? levels[i + 1] : nil
            } else {
                focus = focus == nil ? levels.first : nil
            }
        case .togglePause, .stepOnce, .quit, .interrupt: break
        }
    }

    static func wider(than window: Int?) -> Int? {
        guard let w = window else { return nil }
        return windowLadder.compactMap { $0 }.filter { $0 > w }.min()
    }

    static func narrower(than window: Int?) -> Int? {
        let sizes = windowLadder.compactMap { $0 }
        guard let w = window else { return sizes.max() }
        return sizes.filter { $0 < w }.max() ?? sizes.min()
    }
}
