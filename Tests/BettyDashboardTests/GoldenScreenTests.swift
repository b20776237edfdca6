import BettyDashboard
import Foundation
import Testing

/// Whole screens from the recorded run, compared as text. Re-record with BETTY_RECORD_GOLDEN=1.
@Suite struct GoldenScreenTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    func check(_ name: String, _ grid: CellGrid) throws {
        let text = grid.lines.joined(separator: "\n") + "\n"
        let url = Self.folder.appendingPathComponent(name + ".txt")
        if ProcessInfo.processInfo.environment["BETTY_RECORD_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "screen \(name) differs from Golden/\(name).txt")
    }

    func render(_ size: GridSize, view: DashboardView = DashboardView(),
                capabilities: TerminalCapabilities = TerminalCapabilities()) -> CellGrid {
        DashboardRenderer.render(RecordedRun.model(), view: view, size: size, capabilities: capabilities)
    }

    @Test func overviewAt80x24() throws { try check("overview-80x24", render(GridSize(columns: 80, rows: 24))) }

    @Test func overviewAt120x40() throws { try check("overview-120x40", render(GridSize(columns: 120, rows: 40))) }

    @Test func tooSmall() throws { try check("too-small-40x10", render(GridSize(columns: 40, rows: 10))) }

    @Test func focusedLogSmoothedWindow() throws {
        var view = DashboardView()
        view.focus = "reweight"
        view.logScale = true
        view.smoothing = true
        view.window = 1000
        try check("focus-reweight-100x30", render(GridSize(columns: 100, rows: 30), view: view))
    }

    @Test func asciiWithHelp() throws {
        var view = DashboardView()
        view.showHelp = true
        try check("ascii-help-80x24", render(GridSize(columns: 80, rows: 24), view: view,
                                             capabilities: TerminalCapabilities(unicode: false, colors: false)))
    }

    @Test func nineLevelsAt80x24() throws {
        try check("levels9-80x24", DashboardRenderer.render(LayoutSweepTests.manyLevels(9), view: DashboardView(),
                                                              size: GridSize(columns: 80, rows: 24),
                                                              capabilities: TerminalCapabilities()))
    }

    @Test func replayingTheStreamGivesTheSameScreen() {
        let size = GridSize(columns: 100, rows: 30)
        var chunked = MonitorModel()
        let events = RecordedRun.events()
        stride(from: 0, to: events.count, by: 97).forEach { i in
            chunked.apply(Array(events[i..<min(events.count, i + 97)]), dropped: i == 0 ? 3 : 0)
        }
        let a = DashboardRenderer.render(chunked, view: DashboardView(), size: size, capabilities: TerminalCapabilities())
        #expect(a == render(size))
    }
}

/// Every size from the minimum up draws a full screen without trapping, for few and many levels.
@Suite struct LayoutSweepTests {
    static func manyLevels(_ count: Int) -> MonitorModel {
        var model = MonitorModel()
        let names = (0..<count).map { "level\($0)" }
        model.apply(.program(levels: names, paths: [names]))
        for step in 1...300 {
            for (i, name) in names.enumerated() {
                model.apply(.step(.init(globalStep: step, problem: name, localStep: step, loss: Float(i + 1) / Float(step),
                                        hypergradientNorm: i == 0 ? 1 / Float(step) : nil, liveBytes: 1 << 20,
                                        peakBytes: 1 << 21, optimizerStepped: true, time: Double(step) / 10)))
            }
        }
        return model
    }

    @Test(arguments: [1, 2, 9])
    func everySizeDraws(levels: Int) {
        let model = levels == 2 ? RecordedRun.model() : Self.manyLevels(levels)
        for columns in stride(from: 60, through: 200, by: 11) {
            for rows in stride(from: 16, through: 60, by: 7) {
                let size = GridSize(columns: columns, rows: rows)
                let grid = DashboardRenderer.render(model, view: DashboardView(), size: size,
                                                    capabilities: TerminalCapabilities())
                #expect(grid.lines.count == rows)
                #expect(grid.lines.allSatisfy { $0.unicodeScalars.count == columns })
                #expect(grid.lines.last?.contains("q prompt") == true)
            }
        }
    }

    @Test func manyLevelsBecomeAList() throws {
        let grid = DashboardRenderer.render(Self.manyLevels(9), view: DashboardView(),
                                            size: GridSize(columns: 80, rows: 24), capabilities: TerminalCapabilities())
        #expect(grid.lines.contains { $0.contains("levels") })
        #expect(grid.lines.contains { $0.contains("level8") || $0.contains("more") })
    }
}
