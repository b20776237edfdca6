#if os(Linux)
import Foundation
import Glibc
import Testing

/// The built betty-repl with its dashboard in tmux at 160x40, on sessions/reweight_mnist.betty (three levels,
/// a hypergradient): the numbers are live, `p` pauses, `q` hands back a working prompt with the run going
/// on, and the terminal is restored on the way out and on SIGTERM. Skipped only where tmux is missing
/// outside CI; in CI (CI=true) a missing tmux fails.
@Suite(.serialized, .enabled(if: TmuxSession.isAvailable || ProcessInfo.processInfo.environment["CI"] == "true"))
struct REPLDashboardTests {
    static let session = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("sessions/reweight_mnist.betty").path
    static let levels = ["classifier", "reweight", "baseline"]
    /// A debug build does about 5-10 steps a second of this program: far more than any test waits for.
    static let steps = 100_000

    init() throws {
        _ = try TmuxSession.which("tmux")
    }

    @Test func liveNumbersPauseAndTheOpenPromptWithTheRunGoingOn() throws {
        let pane = try Self.repl { directory in
            // The program defined but not run.
            let lines = try String(contentsOfFile: Self.session, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            let setup = lines.filter { !$0.hasPrefix("run ") && !$0.hasPrefix("expect ") }.joined(separator: "\n")
            try setup.write(toFile: "\(directory)/setup.betty", atomically: true, encoding: .utf8)
            return ["--then-interactive", "\(directory)/setup.betty"]
        }
        try pane.tmux.wait(for: "the prompt after the setup", timeout: .seconds(60)) {
            let screen = try pane.tmux.capture()
            return screen.contains("Type 'help' for the language") && Self.lastLine(screen) == "betty>"
        }
        try pane.tmux.sendKeys("run \(Self.steps)", "Enter")
        try pane.tmux.wait(for: "the run in the background") { try Self.promptStep(pane) != nil }
        try pane.tmux.sendKeys("dashboard", "Enter")
        try pane.waitForDashboard(showing: "q prompt")

        // Every number there and finite; a second later every step counter has moved on.
        let first = try Self.readDashboard(pane)
        Self.expectFinite(first)
        Thread.sleep(forTimeInterval: 1)
        var second = first
        try pane.tmux.wait(for: "every step counter to move on") {
            second = try Self.readDashboard(pane)
            return second.step > first.step && Self.levels.allSatisfy { second.levels[$0]!.step > first.levels[$0]!.step }
        }
        Self.expectFinite(second)
        #expect(second.losses != first.losses || second.hypergradientNorm != first.hypergradientNorm,
                "the losses and the hypergradient norm change as the run goes on")
        #expect(try pane.tmux.capture().contains(" running "))

        // p: the counters stop; s: one step; p again: they go on.
        try pane.tmux.sendKeys("p")
        try pane.tmux.wait(for: "the header to say paused") { Self.header(try pane.tmux.capture()).contains(" paused ") }
        Thread.sleep(forTimeInterval: 0.3)  // a frame or two for the panels to catch up with the header
        let paused = try Self.readDashboard(pane)
        Thread.sleep(forTimeInterval: 1)
        let stillPaused = try Self.readDashboard(pane)
        #expect(stillPaused.step == paused.step, "the header's step counter stops while paused")
        #expect(stillPaused.levels == paused.levels, "no level steps while paused")
        try pane.tmux.sendKeys("s")
        try pane.tmux.wait(for: "one step while paused") { try Self.readDashboard(pane).step == paused.step + 1 }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try Self.readDashboard(pane).step == paused.step + 1, "s takes exactly one step")
        try pane.tmux.sendKeys("p")
        try pane.tmux.wait(for: "the header to say running") { Self.header(try pane.tmux.capture()).contains(" running ") }

        // q: the prompt, which works, while the steps go on.
        try pane.tmux.sendKeys("q")
        try pane.tmux.wait(for: "the prompt after q") {
            try pane.tmux.display("#{alternate_on}") == "0" && Self.promptStep(pane) != nil
        }
        try pane.tmux.sendKeys("show problems", "Enter")
        try pane.tmux.wait(for: "show problems to answer") {
            let lines = try pane.tmux.capture().split(separator: "\n").map(String.init)
            guard let asked = lines.lastIndex(where: { $0.hasSuffix("]> show problems") }) else { return false }
            let answer = lines[(asked + 1)...]
            let answered = Self.levels.allSatisfy { level in
                answer.contains { $0.hasPrefix("problem \(level): ") && $0.contains("local step") }
            }
            return try answered && Self.promptStep(pane) != nil
        }
        let atShow = try #require(try Self.promptStep(pane))
        Thread.sleep(forTimeInterval: 1)
        try pane.tmux.wait(for: "the prompt's step counter to move on") {
            try pane.tmux.sendKeys("Enter")
            Thread.sleep(forTimeInterval: 0.3)
            return try Self.promptStep(pane).map { $0 > atShow } ?? false
        }

        try pane.tmux.sendKeys("stop", "Enter")
        try pane.tmux.wait(for: "the run to stop") {
            let screen = try pane.tmux.capture()
            return screen.contains("stopped at global step") && Self.lastLine(screen) == "betty>"
        }
        try pane.tmux.sendKeys("quit", "Enter")
        #expect(try pane.waitForExit() == 0)
        try pane.expectTerminalRestored()
    }

    @Test func sigtermWithTheDashboardOpenRestoresTheTerminal() throws {
        let pane = try Self.repl { _ in ["--dashboard", Self.session] }
        try pane.waitForDashboard(showing: "q prompt", timeout: .seconds(60))
        // Killed in the middle of the run, not while the data loads.
        try pane.tmux.wait(for: "the run to start") { try Self.readDashboard(pane).step > 0 }
        kill(try #require(pane.pid), SIGTERM)
        #expect(try pane.waitForExit() == 128 + SIGTERM)
        try pane.expectTerminalRestored()
    }

    @Test func aDumbTerminalGetsTheReasonAndPlainOutput() throws {
        let pane = try Self.repl(environment: "TERM=dumb") { directory in
            let quick = """
                seed 0
                data all = logistic samples=200 features=5
                split all -> train 100, valid 100
                problem inner
                  module    params 5 init=zeros
                  optimizer sgd lr=0.1
                  data      train batch=100
                  loss      bce_logits(x @ params, y) + 0.5 * sum(outer.params * params^2)
                  config    type=darts unroll=10
                end
                problem outer
                  module    params 5 init=ones
                  optimizer sgd lr=1
                  data      valid batch=100
                  loss      bce_logits(x @ inner.params, y)
                end
                connect outer -> inner
                run 20
                """
            try quick.write(toFile: "\(directory)/quick.betty", atomically: true, encoding: .utf8)
            return ["--dashboard", "\(directory)/quick.betty"]
        }
        #expect(try pane.waitForExit(timeout: .seconds(60)) == 0)
        let output = try pane.tmux.capture(history: true)
        #expect(output.contains("the dashboard needs a terminal: TERM is dumb; plain output continues"))
        #expect(output.contains("[Problem \"outer\"] [Global Step 20] [Local Step 2] loss:"), "plain progress lines")
        #expect(output.contains("ran 20 steps (global step 20)"))
        try pane.expectTerminalRestored()
    }

    // MARK: - betty-repl in a pane

    /// betty-repl with a history file of its own and the arguments `arguments(directory)` returns (which
    /// may write files there first), started through `sh -c 'echo $$ > pid; exec ...'` so its pid is known.
    private static func repl(environment: String = "", _ arguments: (_ directory: String) throws -> [String]) throws -> ProgramInPane {
        let repl = try builtExecutable("betty-repl")
        return try ProgramInPane(columns: 160, rows: 40) { directory in
            let words = [repl, "--history", "\(directory)/history"] + (try arguments(directory))
            return "\(environment) sh -c \(shellQuoted("echo $$ > '\(directory)/pid'; exec \"$0\" \"$@\"")) "
                + words.map(shellQuoted).joined(separator: " ")
        }
    }

    private static func lastLine(_ screen: String) -> String? {
        screen.split(separator: "\n").last { !$0.allSatisfy(\.isWhitespace) }.map(String.init)
    }

    /// N in the prompt `betty[running N/100000]> ` on the pane's last line, nil without that prompt.
    private static func promptStep(_ pane: ProgramInPane) throws -> Int? {
        guard let line = lastLine(try pane.tmux.capture()),
              let match = line.prefixMatch(of: #/betty\[running (\d+)\/(\d+)\]>/#), Int(match.2) == steps else { return nil }
        return Int(match.1)
    }

    private static func header(_ screen: String) -> String {
        screen.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
    }

    // MARK: - Reading the dashboard

    struct Numbers {
        var step: Int
        var levels: [String: Level]
        var hypergradientNorm: Double
        var memory: (rss: Double, live: Double, peak: Double)
        var losses: [Double] { REPLDashboardTests.levels.map { levels[$0]!.loss } }
    }

    struct Level: Equatable {
        var step: Int
        var loss: Double
    }

    /// The numbers on the dashboard; polls until every one is on the screen (a frame may be half drawn).
    private static func readDashboard(_ pane: ProgramInPane) throws -> Numbers {
        var numbers: Numbers?
        try pane.tmux.wait(for: "every number on the dashboard") {
            numbers = parse(try pane.tmux.capture())
            return numbers != nil
        }
        return numbers!
    }

    /// The header's `step N/total`, each level panel's `step N  loss X`, the hypergradient-norm panel's
    /// `reweight X` and the memory panel's `rss X MiB  live X MiB  peak X MiB`; nil when one is missing.
    static func parse(_ screen: String) -> Numbers? {
        let rows = screen.split(separator: "\n", omittingEmptySubsequences: false).map(Array.init)
        guard let first = rows.first, let header = String(first).firstMatch(of: #/ step (\d+)\/\d+ /#),
              let step = Int(header.1) else { return nil }
        var levels: [String: Level] = [:]
        for level in Self.levels {
            guard let line = panelLine(rows, titled: level),
                  let match = line.prefixMatch(of: #/step (\d+)  loss (\S+)/#),
                  let step = Int(match.1), let loss = Double(match.2) else { return nil }
            levels[level] = Level(step: step, loss: loss)
        }
        guard let norms = panelLine(rows, titled: "hypergradient norm"),
              let norm = norms.prefixMatch(of: #/reweight (\S+)/#).flatMap({ Double($0.1) }) else { return nil }
        guard let memoryLine = panelLine(rows, titled: "memory"),
              let memory = memoryLine.prefixMatch(of: #/rss (\S+ \S+)  live (\S+ \S+)  peak (\S+ \S+)/#),
              let rss = bytes(memory.1), let live = bytes(memory.2), let peak = bytes(memory.3) else { return nil }
        return Numbers(step: step, levels: levels, hypergradientNorm: norm, memory: (rss, live, peak))
    }

    /// The first line inside the panel whose top border reads `┌ title ─...┐`.
    private static func panelLine(_ rows: [[Character]], titled title: String) -> String? {
        let mark = Array("┌ \(title) ─")
        for (index, row) in rows.enumerated() {
            guard let start = row.firstRange(of: mark)?.lowerBound,
                  let end = row[(start + 1)...].firstIndex(of: "┐"), index + 1 < rows.count else { continue }
            let inside = rows[index + 1]
            guard inside.count >= end else { return nil }
            return String(inside[(start + 1)..<end])
        }
        return nil
    }

    /// "76.9 MiB" in bytes.
    private static func bytes(_ text: Substring) -> Double? {
        let parts = text.split(separator: " ")
        guard parts.count == 2, let value = Double(parts[0]),
              let scale = ["B": 0, "KiB": 1, "MiB": 2, "GiB": 3, "TiB": 4][String(parts[1])] else { return nil }
        return value * pow(1024, Double(scale))
    }

    private static func expectFinite(_ numbers: Numbers, sourceLocation: SourceLocation = #_sourceLocation) {
        for level in levels {
            #expect(numbers.levels[level]!.loss.isFinite, "\(level)'s loss", sourceLocation: sourceLocation)
            #expect(numbers.levels[level]!.step > 0, "\(level)'s step", sourceLocation: sourceLocation)
        }
        #expect(numbers.hypergradientNorm.isFinite && numbers.hypergradientNorm >= 0, sourceLocation: sourceLocation)
        let memory = numbers.memory
        #expect([memory.rss, memory.live, memory.peak].allSatisfy { $0.isFinite && $0 > 0 }, "memory \(memory)",
                sourceLocation: sourceLocation)
        #expect(memory.live <= memory.peak, "live memory \(memory.live) within the peak \(memory.peak)",
                sourceLocation: sourceLocation)
    }
}
#endif
