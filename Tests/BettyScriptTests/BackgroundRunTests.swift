@testable import BettyScript
import Betty
import BettyTensor
import Foundation
import Synchronization
import Testing

/// The interactive prompt's background engine: the numbers are bit for bit those of a foreground
/// run however often the run was paused, continued, looked at or refused a command, and nothing
/// races (`.ci/run` runs this suite under the thread sanitizer).
@Suite(.serialized) struct BackgroundRunTests {
    /// Collects output from whichever thread writes it.
    final class LockedOutput: SessionOutput, Sendable {
        private let state = Mutex<(lines: [String], errors: [String])>(([], []))
        func text(_ text: String) { state.withLock { $0.lines.append(text) } }
        func error(_ error: ScriptError) { state.withLock { $0.errors.append(error.rendered); $0.lines.append(error.rendered) } }
        func event(_ event: EngineEvent, isProgress: Bool) {}
        func expectation(_ description: String, passed: Bool, location: BettyScript.SourceLocation) {
            state.withLock { $0.lines.append("\(passed ? "ok" : "failed"): \(description)") }
        }
        func echo(_ line: String, location: BettyScript.SourceLocation) {}
        var lines: [String] { state.withLock { $0.lines } }
        var errors: [String] { state.withLock { $0.errors } }
        var last: String { lines.last ?? "" }
    }

    /// tinyProgram with a window long enough that pauses land inside windows as well as between them.
    static let program = tinyProgram + "\nengine log_every=1000000"

    static func session(background: Bool) -> (Session, LockedOutput) {
        let output = LockedOutput()
        let session = Session(output: output)
        session.runsInBackground = background
        for (i, line) in program.split(separator: "\n").enumerated() { session.execute(String(line), file: "p", line: i + 1) }
        #expect(output.errors.isEmpty, "\(output.errors)")
        return (session, output)
    }

    /// Every parameter, buffer and optimizer-visible number of every problem, as bits.
    static func state(_ session: Session) -> [UInt32] {
        session.runs.withGate {
            session.program.bindings.problems.flatMap { p in p.module.parameters.flatMap { $0.value.scalars.map(\.bitPattern) } }
        }
    }

    static func globalStep(_ session: Session) -> Int { session.runs.withGate { session.program.engine?.globalStep ?? 0 } }

    /// The foreground state after `steps` global steps.
    static func foreground(steps: Int) -> [UInt32] {
        let (session, output) = session(background: false)
        // A run stopped before its first step (a loaded machine) is compared with no run at all.
        if steps > 0 { session.execute("run \(steps)", file: "t", line: 1) }
        #expect(output.errors.isEmpty, "\(output.errors)")
        return state(session)
    }

    /// Pauses (if still running) and stops the run; returns the global step it ended at.
    static func end(_ session: Session) -> Int {
        session.execute("pause", file: "t", line: 90)
        session.execute("stop", file: "t", line: 91)
        #expect(!session.hasActiveRun)
        return globalStep(session)
    }

    @Test func runGivesThePromptBackAndWaitGivesTheForegroundNumbers() {
        let (session, output) = Self.session(background: true)
        session.execute("run 400", file: "t", line: 1)
        #expect(output.last.hasPrefix("running 400 steps in the background from global step 0"), "\(output.last)")
        session.execute("wait", file: "t", line: 2)
        #expect(!session.hasActiveRun)
        #expect(output.last.hasPrefix("ran 400 steps (global step 400)"), "\(output.last)")
        #expect(Self.state(session) == Self.foreground(steps: 400))
    }

    @Test func manyPausesAndContinuesChangeNoBit() {
        let (session, output) = Self.session(background: true)
        session.execute("run 1000000", file: "t", line: 1)
        var pauses = 0
        for i in 0..<60 {
            session.execute("pause", file: "t", line: 2 + 2 * i)
            if output.last.hasPrefix("paused at global step") { pauses += 1 }
            if i % 10 == 3 { session.execute("step 3", file: "t", line: 200 + i) }
            session.execute("continue", file: "t", line: 3 + 2 * i)
            Thread.sleep(forTimeInterval: 0.002)
        }
        #expect(pauses == 60)
        let steps = Self.end(session)
        #expect(output.errors.isEmpty, "\(output.errors)")
        #expect(Self.state(session) == Self.foreground(steps: steps))
    }

    @Test func readOnlyCommandsDuringARunAnswerAndChangeNothing() {
        let (session, output) = Self.session(background: true)
        session.execute("run 1000000", file: "t", line: 1)
        // A hypergradient needs a step of the lower level first.
        while session.runStatus.globalStep < 6 { Thread.sleep(forTimeInterval: 0.001) }
        for i in 0..<100 {
            session.execute("show problems", file: "t", line: 2)
            session.execute("hypergrad outer", file: "t", line: 3)
            session.execute("print sum(outer.params)", file: "t", line: 4)
            session.execute("show graph", file: "t", line: 5)
            if i % 20 == 0 { Thread.sleep(forTimeInterval: 0.005) }
        }
        let steps = Self.end(session)
        #expect(output.errors.isEmpty, "\(output.errors)")
        #expect(output.lines.filter { $0.hasPrefix("problem inner:") && $0.contains("local step") }.count == 100)
        #expect(Self.state(session) == Self.foreground(steps: steps))
    }

    @Test func aCheckAtAStepBoundaryOfARunChangesNothing() {
        let (session, output) = Self.session(background: true)
        session.execute("run 1000000", file: "t", line: 1)
        while session.runStatus.globalStep < 6 { Thread.sleep(forTimeInterval: 0.001) }
        for i in 0..<10 {
            session.execute("check hypergrad outer reference_steps=\(3 + i)", file: "t", line: 2 + i)
        }
        let steps = Self.end(session)
        #expect(output.errors.isEmpty, "\(output.errors)")
        #expect(output.lines.filter { $0.hasPrefix("hypergradient of outer by each method") }.count == 10)
        #expect(Self.state(session) == Self.foreground(steps: steps))
    }

    @Test func structuralCommandsAreRefusedWhileRunningAndChangeNothing() {
        let (session, output) = Self.session(background: true)
        session.execute("run 1000000", file: "t", line: 1)
        let refused = ["connect inner -> outer", "disconnect outer -> inner", "data more = logistic samples=10 features=4",
                       "reset", "load \"/nonexistent.safetensors\"", "save \"/tmp/never.safetensors\"", "problem third", "seed 5",
                       "run 10", "step"]
        for (i, line) in refused.enumerated() { session.execute(line, file: "t", line: 10 + i) }
        #expect(output.errors.count == refused.count, "\(output.errors)")
        for error in output.errors.prefix(8) { #expect(error.contains("type 'pause' first"), "\(error)") }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never.safetensors"))
        let steps = Self.end(session)
        #expect(Self.state(session) == Self.foreground(steps: steps))
        session.execute("show problems", file: "t", line: 30)
        #expect(!output.lines.contains { $0.hasPrefix("problem third") })
    }

    @Test func saveWhilePausedIsExactAndAStructuralCommandEndsThePausedRunKeepingTheRest() throws {
        let (session, output) = Self.session(background: true)
        session.execute("run 1000000", file: "t", line: 1)
        Thread.sleep(forTimeInterval: 0.05)
        session.execute("pause", file: "t", line: 2)
        let path = NSTemporaryDirectory() + "betty-paused-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        session.execute("save \"\(path)\"", file: "t", line: 3)
        #expect(output.errors.isEmpty, "\(output.errors)")
        #expect(session.runStatus.state == .paused)
        let paused = Self.state(session), step = Self.globalStep(session)
        #expect(paused == Self.foreground(steps: step))
        session.execute("config inner unroll=5", file: "t", line: 4)
        #expect(output.last == "note: the run is at global step \(step); this applies from global step \(step + 1)", "\(output.last)")
        #expect(session.hasActiveRun)
        session.execute("disconnect outer -> inner", file: "t", line: 5)
        #expect(!session.hasActiveRun)
        #expect(output.lines.contains { $0.hasPrefix("the paused run ended at global step \(step) so that 'disconnect' can change the program; 'continue' runs its remaining") })
        // The checkpoint holds the paused state: loading it into a fresh session gives the same bits.
        let (fresh, freshOutput) = Self.session(background: false)
        fresh.execute("load \"\(path)\"", file: "t", line: 1)
        #expect(freshOutput.errors.isEmpty, "\(freshOutput.errors)")
        #expect(Self.state(fresh) == paused)
    }

    @Test func ctrlCWhileWaitingPausesTheEngineAndTheSessionGoesOn() {
        let (session, output) = Self.session(background: true)
        session.execute("run 1000000", file: "t", line: 1)
        let interrupter = Thread {
            Thread.sleep(forTimeInterval: 0.1)
            session.interrupt()
        }
        interrupter.start()
        session.execute("wait", file: "t", line: 2)
        #expect(output.last.hasPrefix("paused at global step"), "\(output.last)")
        #expect(session.runStatus.state == .paused)
        #expect(session.hasActiveRun)
        let steps = Self.end(session)
        #expect(output.last.hasPrefix("stopped at global step \(steps)"), "\(output.last)")
        #expect(Self.state(session) == Self.foreground(steps: steps))
    }

    @Test func aRunThatFailsInTheBackgroundSaysWhyAndTheSessionGoesOn() {
        let output = LockedOutput()
        let session = Session(output: output)
        session.runsInBackground = true
        let program = ["seed 1", "data all = logistic samples=20 features=2", "problem p", "module params 2 init=ones",
                       "optimizer sgd lr=1e30", "data all batch=20", "loss sum(params^2)", "end"]
        for (i, line) in program.enumerated() { session.execute(line, file: "p", line: i + 1) }
        #expect(output.errors.isEmpty, "\(output.errors)")
        session.execute("run 1000", file: "t", line: 3)
        session.execute("wait", file: "t", line: 4)
        #expect(!session.hasActiveRun)
        guard case let .failed(message) = session.runStatus.state else {
            Issue.record("the run should have failed: \(session.runStatus)")
            return
        }
        #expect(message.contains("loss is"), "\(message)")
        #expect(output.errors.contains { $0.contains("so the run stopped") }, "\(output.errors)")
        session.execute("print 6 * 7", file: "t", line: 5)
        #expect(output.last == "42")
    }

    @Test func stepWhilePausedPastTheRunsEndReturnsWhenTheRunEnds() {
        let (session, output) = Self.session(background: true)
        session.execute("run 400", file: "t", line: 1)
        session.execute("pause", file: "t", line: 2)
        #expect(session.runStatus.state == .paused)
        session.execute("step 100000", file: "t", line: 3)
        #expect(!session.hasActiveRun)
        #expect(output.lines.contains { $0.hasPrefix("ran 400 steps (global step 400)") }, "\(output.lines.suffix(3))")
        #expect(output.last == "the run ended", "\(output.last)")
        #expect(Self.globalStep(session) == 400)
        #expect(Self.state(session) == Self.foreground(steps: 400))
    }

    @Test func stopRightAfterRunStopsIt() {
        let (session, output) = Self.session(background: true)
        session.execute("run 1000000", file: "t", line: 1)
        session.execute("stop", file: "t", line: 2)
        #expect(!session.hasActiveRun)
        #expect(output.last.hasPrefix("stopped at global step"), "\(output.last)")
        let steps = Self.globalStep(session)
        #expect(steps < 1_000_000)
        #expect(Self.state(session) == Self.foreground(steps: steps))
    }

    @Test func continueThenWaitWaits() {
        let (session, output) = Self.session(background: true)
        session.execute("run 2000", file: "t", line: 1)
        session.execute("pause", file: "t", line: 2)
        #expect(session.runStatus.state == .paused)
        session.execute("continue", file: "t", line: 3)
        session.execute("wait", file: "t", line: 4)
        #expect(!session.hasActiveRun)
        #expect(output.last.hasPrefix("ran 2000 steps (global step 2000)"), "\(output.last)")
    }

    @Test func aReplayedRunWaits() {
        let (session, output) = Self.session(background: false)
        session.execute("run 50", file: "t", line: 1)
        #expect(!session.hasActiveRun)
        #expect(output.last.hasPrefix("ran 50 steps (global step 50)"), "\(output.last)")
        session.execute("wait", file: "t", line: 2)
        #expect(output.last == "nothing is running")
    }
}
