#if os(Linux)
import Foundation
import Glibc
import Testing

/// The curses driver on a real terminal: the demo in tmux at 80x24. Skipped only where tmux is missing
/// outside CI; in CI (CI=true) a missing tmux fails.
@Suite(.serialized, .enabled(if: TmuxSession.isAvailable || ProcessInfo.processInfo.environment["CI"] == "true"))
struct CursesTerminalTests {
    init() throws {
        _ = try TmuxSession.which("tmux")
    }

    @Test func drawsFollowsAResizeAndQRestoresTheTerminal() throws {
        let pane = try ProgramInPane(demo: "pattern")
        try pane.waitForDashboard(showing: "pattern 80x24")
        let screen = try pane.tmux.capture()
        #expect(screen.contains("unicode yes"))
        #expect(screen.contains("box ┌─┐ braille ⣿⡇"))
        #expect(try pane.tmux.display("#{cursor_flag}") == "0", "the cursor is hidden")

        try pane.tmux.resize(columns: 100, rows: 30)
        try pane.waitForDashboard(showing: "pattern 100x30")
        let lines = try pane.tmux.capture().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count >= 30 && lines[29].hasSuffix("bottom-right") && lines[29].count == 100,
                "the last cell of the resized screen is drawn")

        try pane.tmux.sendKeys("q")
        #expect(try pane.waitForExit() == 0)
        try pane.expectTerminalRestored()
        #expect(try pane.tmux.capture().contains("demo closed: quit"))
    }

    @Test func resizesArriveWhenTheProgramHasItsOwnSIGWINCHHandler() throws {
        let pane = try ProgramInPane(demo: "pattern --sigwinch-handler")
        try pane.waitForDashboard(showing: "pattern 80x24")
        try pane.tmux.resize(columns: 90, rows: 20)
        try pane.waitForDashboard(showing: "pattern 90x20")
        try pane.tmux.sendKeys("q")
        #expect(try pane.waitForExit() == 0)
        try pane.expectTerminalRestored()
    }

    @Test func runKeysReachTheHostAndCtrlCOnlyPauses() throws {
        let pane = try ProgramInPane(demo: "loop")
        try pane.waitForDashboard(showing: "q prompt")
        try pane.tmux.sendKeys("p")
        try pane.tmux.sendKeys("s")
        try pane.tmux.sendKeys("C-c")
        try pane.tmux.sendKeys("l")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(pane.isRunning, "Ctrl-C must not end the program")
        #expect(try pane.tmux.display("#{alternate_on}") == "1")

        try pane.tmux.sendKeys("q")
        #expect(try pane.waitForExit() == 0)
        try pane.expectTerminalRestored()
        #expect(try pane.tmux.capture().contains("demo closed: quit; pause 1 step 1 interrupt 1"))
    }

    @Test(arguments: [SIGTERM, SIGHUP])
    func aSignalRestoresTheTerminalAndStillKills(_ signalNumber: Int32) throws {
        let pane = try ProgramInPane(demo: "loop")
        try pane.waitForDashboard(showing: "q prompt")
        kill(try #require(pane.pid), signalNumber)
        #expect(try pane.waitForExit() == 128 + signalNumber)
        try pane.expectTerminalRestored()
    }

    @Test func afterClosingSIGTERMKillsAsBefore() throws {
        // ncurses installs its own SIGTERM handler (exit status 1); closing must put the default back.
        let pane = try ProgramInPane(demo: "loop --linger 30")
        try pane.waitForDashboard(showing: "q prompt")
        try pane.tmux.sendKeys("q")
        try pane.tmux.wait(for: "the demo to close") { try pane.tmux.capture().contains("demo closed: quit") }
        kill(try #require(pane.pid), SIGTERM)
        #expect(try pane.waitForExit() == 128 + SIGTERM)
    }

    @Test func aNonUTF8LocaleFallsBackToASCII() throws {
        let pane = try ProgramInPane(demo: "pattern", environment: "LANG=C LC_ALL=C")
        try pane.waitForDashboard(showing: "unicode no")
        #expect(try pane.tmux.capture().contains("box +-+ braille ##"))
        try pane.tmux.sendKeys("q")
        #expect(try pane.waitForExit() == 0)
        try pane.expectTerminalRestored()
    }
}
#endif
