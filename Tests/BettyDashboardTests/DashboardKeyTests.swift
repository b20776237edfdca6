import BettyDashboard
import Testing

@Suite struct DashboardKeyTests {
    @Test func charactersMapToKeys() {
        #expect(DashboardKey(character: "p") == .togglePause)
        #expect(DashboardKey(character: "s") == .stepOnce)
        #expect(DashboardKey(character: "l") == .toggleLogScale)
        #expect(DashboardKey(character: "m") == .toggleSmoothing)
        #expect(DashboardKey(character: "+") == .widenWindow)
        #expect(DashboardKey(character: "-") == .narrowWindow)
        #expect(DashboardKey(character: "\t") == .cycleFocus)
        #expect(DashboardKey(character: "q") == .quit)
        #expect(DashboardKey(character: "?") == .help)
        #expect(DashboardKey(character: "\u{03}") == .interrupt)
        #expect(DashboardKey(character: "x") == nil)
    }

    @Test func viewKeysChangeTheView() {
        var view = DashboardView()
        let levels = ["classifier", "reweight"]
        view.apply(.toggleLogScale, levels: levels)
        view.apply(.toggleSmoothing, levels: levels)
        view.apply(.help, levels: levels)
        #expect(view.logScale && view.smoothing && view.showHelp)
        var windows: [Int?] = []
        for _ in 0..<4 {
            view.apply(.narrowWindow, levels: levels)
            windows.append(view.window)
        }
        #expect(windows == [10_000, 1_000, 100, 100])
        for _ in 0..<4 {
            view.apply(.widenWindow, levels: levels)
            windows.append(view.window)
        }
        #expect(windows.suffix(4) == [1_000, 10_000, nil, nil])
        var focus: [String?] = []
        for _ in 0..<4 {
            view.apply(.cycleFocus, levels: levels)
            focus.append(view.focus)
        }
        #expect(focus == ["classifier", "reweight", nil, "classifier"])
        let before = view
        for key in [DashboardKey.togglePause, .stepOnce, .quit, .interrupt] { view.apply(key, levels: levels) }
        #expect(view == before)
    }

    @Test func aFocusOnAVanishedLevelFallsBackToTheOverview() {
        var view = DashboardView()
        view.focus = "gone"
        view.apply(.cycleFocus, levels: ["a"])
        #expect(view.focus == nil)
    }
}
