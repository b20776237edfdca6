import BettyDashboard
import Testing

@Suite struct CellGridTests {
    @Test func putClipsAtTheEdgeAndAtTheLimit() {
        var grid = CellGrid(GridSize(columns: 6, rows: 2))
        #expect(grid.put("abcdefgh", column: 2, row: 0) == 6)
        grid.put("xyz", column: 0, row: 1, limit: 2)
        #expect(grid.lines == ["  abcd", "xy    "])
    }

    @Test func outsideRowsAndNegativeColumnsAreIgnored() {
        var grid = CellGrid(GridSize(columns: 3, rows: 1))
        grid.put("abc", column: 0, row: 5)
        grid.put("abc", column: -1, row: 0)
        #expect(grid.lines == ["bc "])
    }

    @Test func feedDropsTheOldestWhenFullAndCountsThem() {
        let feed = MonitorFeed(capacity: 8)
        for i in 0..<10 { feed.publish(.output(OutputLine(.info, "\(i)"))) }
        let (events, dropped) = feed.drain()
        #expect(dropped == 2)
        #expect(events.count == 8)
        #expect(events.first == .output(OutputLine(.info, "2")))
        #expect(feed.drain().events.isEmpty)
    }
}
