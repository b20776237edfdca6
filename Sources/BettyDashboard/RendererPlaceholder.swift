// Stand-ins for declarations another branch provides; deleted when the branches merge.

public struct MonitorModel {
    public private(set) var levels: [String] = []
    public init() {}
    public mutating func apply(_ events: [MonitorEvent], dropped: Int) {}
}

public enum DashboardRenderer {
    public static func render(_ model: MonitorModel, view: DashboardView, size: GridSize,
                              capabilities: TerminalCapabilities) -> CellGrid {
        var grid = CellGrid(size)
        grid.put("betty dashboard \(size)", column: 0, row: 0)
        return grid
    }
}

extension DashboardView {
    public mutating func apply(_ key: DashboardKey, levels: [String]) {
        switch key {
        case .toggleLogScale: logScale.toggle()
        case .toggleSmoothing: smoothing.toggle()
        case .help: showHelp.toggle()
        default: break
        }
    }
}

extension DashboardKey {
    public init?(character: Unicode.Scalar) {
        switch character {
        case "p": self = .togglePause
        case "s": self = .stepOnce
        case "l": self = .toggleLogScale
        case "m": self = .toggleSmoothing
        case "+": self = .widenWindow
        case "-": self = .narrowWindow
        case "\t": self = .cycleFocus
        case "q": self = .quit
        case "?": self = .help
        case "\u{03}": self = .interrupt
        default: return nil
        }
    }
}
