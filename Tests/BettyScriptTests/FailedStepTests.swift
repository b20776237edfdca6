@testable import BettyScript
import Betty
import Foundation
import Testing

/// Issue 22, "A failed step is undone": a `run`, `continue` or `step` that fails part-way (a loss or
/// hypergradient that is not finite, in a lower or an upper level, after other levels stepped) leaves
/// every counter, parameter, optimizer state, loader, random stream and what the session keeps from
/// events exactly as at the end of the last global step completed, says which, and a run after the
/// cause is fixed continues bit for bit as if the failure had never happened.
@Suite struct FailedStepTests {
    /// Two levels that shuffle their data, with Adam's moments below, momentum above and a validation,
    /// so every kind of state moves each step. `outer` steps at every third global step.
    static let program = """
        seed 5
        data all = logistic samples=120 features=4
        split all -> train 60, valid 60
        problem inner
          module    params 4 init=zeros
          optimizer adam lr=0.05
          data      train batch=20
          loss      bce_logits(x @ params, y) + 0.5 * sum(outer.params * params^2)
          config    type=darts unroll=3
        end
        problem outer
          module    params 4 init=ones
          optimizer sgd lr=1 momentum=0.9
          data      valid batch=20
          loss      bce_logits(x @ inner.params, y)
          clamp     min=1e-8
        end
        connect outer -> inner
        validate every 2: v = bce_logits(valid.x @ inner.params, valid.y)
        """

    /// A third level on its own whose loss is NaN at its fifth step (log 0): a leaf stepping after the others.
    static let drifting = program + """

        problem drift
          module    params 1 init=ones
          optimizer sgd lr=0.25
          data      train batch=20
          loss      sum(params) + 0 * sum(log(params))
        end
        """

    /// A session replaying `text`, with every line required to succeed.
    static func session(_ text: String, timing: CancellationTiming? = nil) -> (Session, Transcript) {
        let (session, t) = replay(text)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        if let timing { session.program.engine?.cancellationTiming = timing }
        return (session, t)
    }

    static func expectSame(_ a: [String], _ b: [String], _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let same = a == b
        #expect(same, "\(what):\(SessionState.difference(a, b))", sourceLocation: sourceLocation)
    }

    /// The restore point as the REPL keeps it (renewed every 250 ms: the whole run is replayed from its
    /// start), and renewed at every step (nothing to replay).
    static let timings = [CancellationTiming(), CancellationTiming(patience: .zero, restorePointAge: .zero)]

    @Test(arguments: timings)
    func anUpperLevelWhoseHypergradientFailsAfterTheLowerSteppedUndoesTheStep(_ timing: CancellationTiming) {
        let (reference, _) = Self.session(Self.program + "\nrun 5")
        let (session, t) = Self.session(Self.program + "\nrun 4\nconfig inner darts_alpha=1e30", timing: timing)
        // outer's next step is at global step 6, after inner's: its darts product overflows there.
        session.execute("run 10", file: "t", line: 1)
        #expect(t.errors.count == 1)
        let message = t.errors.first?.message ?? ""
        #expect(message.hasPrefix("problem 'outer': the hypergradient"), "\(message)")
        #expect(message.hasSuffix("; global step 6 was undone, so the state is as after step 5"), "\(message)")
        // The history too: the undone step left it, and the steps taken again were added once.
        Self.expectSame(SessionState.snapshot(session, history: true), SessionState.snapshot(reference, history: true), "after the failed run")

        // With the cause fixed, the run goes on as one that never failed.
        session.execute("config inner darts_alpha=0.01", file: "t", line: 2)
        session.execute("run 7", file: "t", line: 3)
        reference.execute("run 7", file: "r", line: 1)
        #expect(t.errors.count == 1, "\(t.errors.map(\.rendered))")
        Self.expectSame(SessionState.snapshot(session, history: true), SessionState.snapshot(reference, history: true), "after the run that followed")
    }

    @Test func aStepCommandThatFailsKeepsTheStepsBeforeIt() {
        let (reference, _) = Self.session(Self.program + "\nrun 5")
        let (session, t) = Self.session(Self.program + "\nrun 4\nconfig inner darts_alpha=1e30")
        session.execute("step 10", file: "t", line: 1)
        #expect(t.errors.count == 1)
        #expect(t.errors.first?.message.hasSuffix("; global step 6 was undone, so the state is as after step 5") == true,
                "\(t.errors.map(\.message))")
        Self.expectSame(SessionState.snapshot(session), SessionState.snapshot(reference), "after the failed step")
    }

    @Test(arguments: timings)
    func aLossThatTurnsNaNInTheLastLeafUndoesTheStepTheOthersTook(_ timing: CancellationTiming) {
        let (reference, _) = Self.session(Self.drifting + "\nrun 4")
        let (session, t) = Self.session(Self.drifting, timing: timing)
        session.execute("run 10", file: "t", line: 1)
        let message = t.errors.first?.message ?? ""
        #expect(message.hasPrefix("problem 'drift': loss is nan at local step 5, so the run stopped; global step 5 was undone, so the state is as after step 4; lower the learning rate"),
                "\(message)")
        Self.expectSame(SessionState.snapshot(session), SessionState.snapshot(reference), "after the failed run")
    }

    @Test func aFailureInTheFirstStepOfACommandLeavesTheStateAsBeforeIt() {
        let (session, t) = Self.session(Self.drifting + "\nrun 4")
        let before = SessionState.snapshot(session)
        session.execute("run 3", file: "t", line: 2)
        session.execute("step", file: "t", line: 3)
        #expect(t.errors.map(\.message).count == 2, "\(t.errors.map(\.message))")
        for message in t.errors.map(\.message) {
            #expect(message.contains("so the run stopped; global step 5 was undone, so the state is as before this command (global step 4); "), "\(message)")
        }
        Self.expectSame(SessionState.snapshot(session), before, "after the failed commands")
    }

    @Test func aHypergradientThatFailsChangesNothing() {
        // outer has not stepped yet: its hypergradient draws a batch of its own, which must go back.
        let (session, t) = Self.session(Self.program + "\nrun 1\nconfig inner darts_alpha=1e30")
        let before = SessionState.snapshot(session)
        session.execute("hypergrad outer", file: "t", line: 1)
        #expect(t.errors.count == 1, "\(t.errors.map(\.rendered))")
        Self.expectSame(SessionState.snapshot(session), before, "after the failed hypergradient")
    }

    /// The limit: no restore point exists inside an open reverse-mode window, so a command that begins
    /// in one and fails before it closes cannot be undone, and says so.
    @Test func aFailureBeforeAnOpenReverseModeWindowClosesSaysItCouldNotBeUndone() {
        let (session, t) = Self.session(Self.drifting + "\nconfig inner type=reverse unroll=6\nrun 2")
        #expect(session.program.engine?.openWindow(of: "inner") != nil)
        session.execute("run 5", file: "t", line: 1)
        #expect(t.errors.count == 1)
        #expect(t.errors.first?.message.contains("; global step 5 could not be undone (the engine keeps no restore point inside a reverse-mode level's open unrolled window, and this command began, or the program was changed, inside one), so the state is as the failure left it") == true,
                "\(t.errors.map(\.message))")
        // A run from a window boundary is undone as usual.
        let (other, u) = Self.session(Self.drifting + "\nconfig inner type=reverse unroll=2\nrun 2")
        other.execute("run 5", file: "t", line: 1)
        #expect(u.errors.first?.message.contains("; global step 5 was undone, so the state is as after step 4") == true, "\(u.errors.map(\.message))")
    }

    @Test func aBackgroundRunThatFailsIsUndoneToo() {
        let (reference, _) = Self.session(Self.drifting + "\nrun 4")
        let output = BackgroundRunTests.LockedOutput()
        let session = Session(output: output)
        session.runsInBackground = true
        for (i, line) in Self.drifting.split(separator: "\n").enumerated() { session.execute(String(line), file: "p", line: i + 1) }
        session.execute("run 100", file: "t", line: 1)
        session.execute("wait", file: "t", line: 2)
        #expect(!session.hasActiveRun)
        #expect(output.errors.count == 1 && output.errors.first?.contains("global step 5 was undone, so the state is as after step 4") == true,
                "\(output.errors)")
        Self.expectSame(SessionState.snapshot(session), SessionState.snapshot(reference), "after the failed background run")
    }
}
