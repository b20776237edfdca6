import BettyDashboard
import BettyTerminal
import Testing

@Suite struct DashboardLoopTests {
    private func loop(_ terminal: FakeTerminal, host: RecordingHost = RecordingHost(), feed: MonitorFeed = MonitorFeed(),
                      memory: @escaping () -> MemorySample? = { nil }) -> DashboardLoop {
        DashboardLoop(feed: feed, host: host, terminal: terminal, sampleMemory: memory)
    }

    @Test func qQuitsAndDrawsFirst() {
        let terminal = FakeTerminal([.key("q")])
        #expect(loop(terminal).run { false } == .quit)
        #expect(!terminal.frames.isEmpty)
        #expect(terminal.closed == 0, "the caller closes the terminal, not the loop")
    }

    @Test func runKeysGoToTheHostAndDoNotEnd() {
        let terminal = FakeTerminal([.key("p"), .key("s"), .key("\u{03}"), .key("x"), .key("q")])
        let host = RecordingHost()
        #expect(loop(terminal, host: host).run { false } == .quit)
        #expect(host.calls == ["pause", "step", "interrupt"])
    }

    @Test func viewKeysChangeTheViewAsDashboardViewSays() {
        let terminal = FakeTerminal([.key("l"), .key("q")])
        let dashboard = loop(terminal)
        _ = dashboard.run { false }
        var expected = DashboardView()
        expected.apply(.toggleLogScale, levels: dashboard.model.levels.map(\.name))
        #expect(dashboard.view == expected)
        #expect(dashboard.view != DashboardView())
    }

    @Test func theViewPersistsAcrossRuns() {
        let terminal = FakeTerminal([.key("l"), .key("q")])
        let dashboard = loop(terminal)
        _ = dashboard.run { false }
        let changed = dashboard.view
        dashboard.terminal = FakeTerminal([.key("q")])
        _ = dashboard.run { false }
        #expect(dashboard.view == changed)
    }

    @Test func shouldEndEndsAndDrainsTheFeed() {
        let terminal = FakeTerminal()
        let feed = MonitorFeed()
        feed.publish(.output(OutputLine(.info, "hello")))
        var asked = 0
        var sampled = 0
        let dashboard = loop(terminal, feed: feed) {
            sampled += 1
            return nil
        }
        #expect(dashboard.run { asked += 1; return asked > 3 } == .ended)
        #expect(feed.drain().events.isEmpty)
        #expect(sampled >= 1)
        #expect(!terminal.frames.isEmpty)
    }

    @Test func waitsNoLongerThanAFrame() {
        let terminal = FakeTerminal([nil, nil, nil])
        var asked = 0
        _ = loop(terminal).run { asked += 1; return asked > 3 }
        #expect(!terminal.timeouts.isEmpty)
        #expect(terminal.timeouts.allSatisfy { $0 >= 0 && $0 <= 100 })
    }

    @Test func aResizeRedrawsAtTheNewSize() {
        let terminal = FakeTerminal([.resize(GridSize(columns: 60, rows: 20)), .key("q")])
        _ = loop(terminal).run { false }
        #expect(terminal.frames.last?.size == GridSize(columns: 60, rows: 20))
    }

    @Test func residentMemoryIsReadable() throws {
        let bytes = try #require(ProcessMemory.residentBytes())
        #expect(bytes > 1 << 20)
    }
}
