@testable import BettyScript
import Betty
import BettyTensor
import Foundation
import Testing

/// Issue 22, "`record` records what happened": the transcript holds the steps the engine took, not the
/// commands that asked for them, so an interrupted `run 10000` and its `continue` replay as the steps
/// they took, and a replay of the recorded file ends in the interrupted session's state, bit for bit.
@Suite(.serialized) struct RecordTests {
    /// Interrupts `session` at inner's step of each global step in `at` (once each): the cancel lands
    /// at the step boundary or, with `patience` zero, inside the step, before outer's step.
    final class Interrupter: @unchecked Sendable {
        weak var session: Session?
        var at: Set<Int>

        init(_ session: Session, _ transcript: Transcript, at steps: Set<Int>) {
            self.session = session
            self.at = steps
            transcript.onEvent = { [self] event in
                guard case let .step(e) = event, e.problem == "inner", at.remove(e.globalStep) != nil else { return }
                self.session?.interrupt()
            }
        }
    }

    static func recordAndReplay(_ session: Session) throws -> (recorded: String, replayed: Session, output: Transcript) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-record-\(UUID().uuidString).betty").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        session.execute("record \"\(path)\"", file: "t", line: 99)
        let recorded = try String(contentsOfFile: path, encoding: .utf8)
        let output = Transcript()
        let replayed = Session(output: output)
        replayed.replay(contentsOf: recorded, file: path)
        return (recorded, replayed, output)
    }

    static func expectSame(_ a: [String], _ b: [String], _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let same = a == b
        #expect(same, "\(what):\(SessionState.difference(a, b))", sourceLocation: sourceLocation)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6])
    func interruptedRunsAndStepsReplayToTheSameState(seed: Int) throws {
        var random = RandomGenerator(seed: UInt64(seed))
        // outer (darts, unroll 5) steps at every fifth global step: inner's event there is followed by
        // outer's hypergradient, so a cancel inside the step undoes inner's part of it.
        let (session, t) = replay(tinyProgram + "\nvalidate every 4: v = bce_logits(valid.x @ inner.params, valid.y)")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        if Bool.random(using: &random) {
            session.program.engine?.cancellationTiming = CancellationTiming(patience: .zero, restorePointAge: .zero)
        }
        // Each command is interrupted at a random step of those it would take, short of its last.
        let commands = ["run 40", "continue", "step 15", "continue", "run 12", "step 3", "continue"]
        for (i, command) in commands.enumerated() {
            let count = Int(command.split(separator: " ").last!) ?? session.runs.pendingSteps
            guard count > 0 else { continue }
            let now = session.program.engine?.globalStep ?? 0
            let at: Set<Int> = count > 1 ? [now + Int.random(in: 1...(count - 1), using: &random)] : []
            let interrupter = Interrupter(session, t, at: at)
            session.execute(command, file: "t", line: i + 1)
            _ = interrupter
        }
        session.execute("config inner darts_alpha=0.02", file: "t", line: 20)
        session.execute("run 6", file: "t", line: 21)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("interrupted"), "\(t.text)")

        let (recorded, replayed, output) = try Self.recordAndReplay(session)
        #expect(output.errors.isEmpty, "\(output.errors.map(\.rendered))\n\(recorded)")
        #expect(!recorded.contains("continue"), "\(recorded)")
        Self.expectSame(SessionState.snapshot(replayed), SessionState.snapshot(session), "the replay of\n\(recorded)\n")
    }

    @Test func aFailedRunIsRecordedAsTheStepsItKept() throws {
        let (session, t) = replay(FailedStepTests.drifting + "\nrun 2")
        session.execute("run 10", file: "t", line: 1)
        #expect(t.errors.count == 1)
        let (recorded, replayed, output) = try Self.recordAndReplay(session)
        #expect(output.errors.isEmpty, "\(output.errors.map(\.rendered))")
        #expect(recorded.hasSuffix("\nrun 2\nrun 2\n"), "\(recorded)")
        Self.expectSame(SessionState.snapshot(replayed), SessionState.snapshot(session), "the replay of\n\(recorded)\n")
    }
}

/// In the background suite, which CI also runs under the thread sanitizer: the transcript reads the
/// engine's step only holding the gate.
extension BackgroundRunTests {
    /// At the interactive prompt: a background run paused, stepped, changed, looked at, continued and
    /// stopped is recorded as the steps between the statements, in order.
    @Test func aBackgroundRunWithStatementsBetweenItsStepsReplaysToTheSameState() throws {
        let t = BackgroundRunTests.LockedOutput()
        let session = Session(output: t)
        session.runsInBackground = true
        for (i, line) in BackgroundRunTests.program.split(separator: "\n").enumerated() { session.execute(String(line), file: "p", line: i + 1) }
        let lines = ["run 1000000", "pause", "step 3", "config inner darts_alpha=0.02", "print sum(outer.params)",
                     "continue", "pause", "let k = 2", "step", "continue", "pause", "stop", "run 7", "wait"]
        for (i, line) in lines.enumerated() {
            session.execute(line, file: "t", line: i + 1)
            if line == "continue" { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(!session.hasActiveRun)
        #expect(t.errors.isEmpty, "\(t.errors)")
        let (recorded, replayed, output) = try RecordTests.recordAndReplay(session)
        #expect(output.errors.isEmpty, "\(output.errors.map(\.rendered))")
        for control in ["pause", "wait", "stop", "continue", "run 1000000"] {
            #expect(!recorded.contains("\n\(control)\n"), "\(recorded)")
        }
        RecordTests.expectSame(SessionState.snapshot(replayed), SessionState.snapshot(session), "the replay of\n\(recorded)\n")
    }
}
