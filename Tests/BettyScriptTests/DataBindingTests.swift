@testable import BettyScript
import Betty
import Foundation
import Testing

/// A data set given new data while a problem draws from it (issue 22, docs/BETTY_SEMANTICS.md §9):
/// the problem's loader takes the new data up at its next epoch, the statement says when, and a
/// problem that could not draw from the new data makes the statement change nothing.
@Suite struct DataBindingTests {
    /// One level on 60 samples in batches of 10 (an epoch is 6 local steps); `s` is each batch's label sum.
    static func program(batch: String = "batch=10 shuffle=false", metrics: String = "  metric    s = sum(y)") -> String {
        """
        seed 3
        data train = logistic samples=60 features=4
        problem inner
          module    params 4 init=zeros
          optimizer sgd lr=0.1
          data      train \(batch)
          loss      bce_logits(x @ params, y)
        \(metrics)
        end
        """
    }

    /// The metric `name` of every step of `problem`, in order.
    static func metric(_ name: String, _ t: Transcript, problem: String = "inner") -> [Float] {
        t.events.compactMap { event in
            guard case let .step(e) = event, e.problem == problem else { return nil }
            return e.metrics[name]
        }
    }

    /// The last line printed.
    static func last(_ t: Transcript) -> String { t.text.components(separatedBy: "\n").last ?? "" }

    /// The values `print EXPR` shows, as the transcript's last line.
    static func printed(_ session: Session, _ t: Transcript, _ expression: String) -> String {
        session.execute("print \(expression)", file: "t", line: 99)
        return last(t)
    }

    // MARK: - What the problem trains on

    @Test func noiseAfterBindingChangesTheLabelsFromTheNextEpochOn() {
        let (_, reference) = replay(Self.program() + "\nrun 6")
        let old = Self.metric("s", reference)
        #expect(old.count == 6)
        // Every label flipped (two classes: 0 <-> 1) after 3 of the epoch's 6 batches.
        let (_, t) = replay(Self.program() + "\nrun 3\nnoise train ratio=1 kind=flip\nrun 9")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let sums = Self.metric("s", t)
        // The epoch in progress ends on the old labels; the next two are all flipped.
        #expect(sums == old + old.map { 10 - $0 }, "\(sums) vs old \(old)")
    }

    @Test func noBatchMixesTheOldAndTheNewSamples() {
        // Shuffled batches of 7 (9 per epoch, the last of 4); the new samples are the old plus 100.
        let (_, t) = replay(Self.program(batch: "batch=7", metrics: "  metric    lo = -max(-x)\n  metric    hi = max(x)")
                            + "\nrun 4\nnormalize train mean=-100 std=1\nrun 20")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let (lo, hi) = (Self.metric("lo", t), Self.metric("hi", t))
        #expect(lo.count == 24 && hi.count == 24)
        let old = hi.map { $0 < 50 }, new = lo.map { $0 > 50 }
        #expect(zip(old, new).allSatisfy { $0 != $1 }, "a batch mixes the two sets: lo \(lo), hi \(hi)")
        #expect(old == Array(repeating: true, count: 9) + Array(repeating: false, count: 15), "\(old)")
    }

    @Test func aProblemThatDrewNothingTrainsAsIfDefinedAfterTheChange() {
        let (session, t) = replay(Self.program() + "\nnoise train ratio=0.4 kind=flip\nrun 8")
        #expect(t.text.contains("note: problem inner takes up the new 'train' from its first batch (it has drawn none yet)"), "\(t.text)")
        let after = Self.program().replacingOccurrences(of: "features=4\n", with: "features=4\nnoise train ratio=0.4 kind=flip\n")
        let (fresh, u) = replay(after + "\nrun 8")
        #expect(t.errors.isEmpty && u.errors.isEmpty, "\(t.errors.map(\.rendered)) \(u.errors.map(\.rendered))")
        #expect(Self.metric("s", t) == Self.metric("s", u))
        #expect(Self.printed(session, t, "inner.params") == Self.printed(fresh, u, "inner.params"))
    }

    @Test func aReplayOfTheSameLinesGivesTheSameNumbers() {
        let lines = Self.program(batch: "batch=7") + "\nrun 5\nnoise train ratio=0.5\nrun 7\nimbalance train factor=3\nrun 12\nprint inner.params"
        let (_, a) = replay(lines), (_, b) = replay(lines)
        #expect(a.errors.isEmpty, "\(a.errors.map(\.rendered))")
        // Everything but the time a run took.
        let untimed = { (t: Transcript) in t.text.replacing(/\sin [0-9.]+ s;/, with: ";") }
        #expect(untimed(a) == untimed(b))
        #expect(a.text.contains("note: problem inner takes up the new 'train' at its next epoch, from local step 10;"), "\(a.text)")
    }

    // MARK: - What the statement says

    @Test func theStatementSaysWhenTheProblemSwitches() {
        let (session, t) = replay(Self.program() + "\nrun 3\nnoise train ratio=1 kind=flip")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(Self.last(t) == "note: problem inner takes up the new 'train' at its next epoch, from local step 7; the 3 batches left of the epoch in progress come from the old data",
                "\(t.text)")
        session.execute("show problems", file: "t", line: 20)
        #expect(Self.last(t).hasPrefix("problem inner: 4 parameters, sgd lr 0.1, batch 10 of 60, then of 60 from its next epoch, darts unroll 1, local step 3"),
                "\(Self.last(t))")
        // At the end of the epoch the switch is still to come: the next batch.
        session.execute("run 3", file: "t", line: 21)
        session.execute("data train = logistic samples=30 features=4", file: "t", line: 22)
        #expect(Self.last(t) == "note: problem inner takes up the new 'train' at its next epoch, from local step 7 (the epoch in progress has no batch left)",
                "\(t.text)")
        // The latest data is the one taken up.
        session.execute("show problems", file: "t", line: 23)
        #expect(Self.last(t).contains("batch 10 of 60, then of 30 from its next epoch"), "\(Self.last(t))")
        session.execute("run 1", file: "t", line: 24)
        session.execute("show problems", file: "t", line: 25)
        #expect(Self.last(t).contains("batch 10 of 30, darts"), "\(Self.last(t))")
    }

    @Test func aDataSetNoProblemDrawsFromChangesWithoutANote() {
        let (_, t) = replay(Self.program() + "\ndata other = logistic samples=20 features=4\nrun 2\nnoise other ratio=0.5")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(!t.text.contains("note:") && !t.text.contains("warning:"), "\(t.text)")
    }

    @Test func aSplitPartAProblemDrawsFromIsTakenUpAndTheSourceIsNot() {
        let lines = """
            seed 1
            data all = logistic samples=80 features=4
            split all -> train 40, rest 40
            problem inner
              module    params 4 init=zeros
              optimizer sgd lr=0.1
              data      train batch=10
              loss      bce_logits(x @ params, y)
            end
            run 2
            split all -> train 60, rest 20 seed=5
            """
        let (_, t) = replay(lines)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let lines2 = t.text.components(separatedBy: "\n").suffix(3)
        #expect(lines2.first?.hasPrefix("train: 60 samples") == true, "\(lines2)")
        #expect(Array(lines2)[1] == "note: problem inner takes up the new 'train' at its next epoch, from local step 5; the 2 batches left of the epoch in progress come from the old data")
        #expect(lines2.last?.hasPrefix("rest: 20 samples") == true, "\(lines2)")
    }

    // MARK: - Refusals

    /// What `show data` and `show problems` print, to compare before and after a refused statement.
    static func shown(_ session: Session, _ t: Transcript) -> String {
        let before = t.text.components(separatedBy: "\n").count
        session.execute("show data", file: "t", line: 90)
        session.execute("show problems", file: "t", line: 91)
        return t.text.components(separatedBy: "\n").dropFirst(before).joined(separator: "\n")
    }

    @Test func dataOfAnotherShapeIsRefusedAndChangesNothing() {
        let (session, t) = replay(Self.program() + "\nrun 2")
        let before = Self.shown(session, t)
        session.execute("data train = logistic samples=30 features=5", file: "t", line: 30)
        #expect(t.errors.count == 1)
        #expect(t.errors.first?.message == "problem inner draws samples of x [4], y [] from 'train', and the new 'train' has samples of x [5], y []: a problem's data keeps the shape it was defined with; to train inner on the new data, give it another name and define inner again with that name",
                "\(t.errors.map(\.rendered))")
        #expect(t.errors.first?.location?.column == 6)
        #expect(Self.shown(session, t) == before)
    }

    @Test func aBatchWithDropLastLargerThanTheNewDataIsRefused() {
        let (session, t) = replay(Self.program(batch: "batch=10 drop_last") + "\nrun 2")
        let before = Self.shown(session, t)
        session.execute("data train = logistic samples=8 features=4", file: "t", line: 30)
        #expect(t.errors.count == 1)
        #expect(t.errors.first?.message == "problem inner draws batches of 10 with drop_last from 'train', and the new 'train' has 8 samples: no batch would ever be produced",
                "\(t.errors.map(\.rendered))")
        #expect(Self.shown(session, t) == before)
    }

    @Test func labelsTheLossCannotTakeAreRefusedAtTheStatement() throws {
        let path = NSTemporaryDirectory() + "six-classes-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let rows = (0..<12).map { i in "0.1,0.2,0.3,0.4,\(i % 6)" }
        try (rows.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let lines = """
            data train = logistic samples=60 features=4
            problem inner
              module    linear 4 -> 2
              optimizer sgd lr=0.1
              data      train batch=10
              loss      cross_entropy(inner(x), y)
            end
            run 2
            """
        let (session, t) = replay(lines)
        let before = Self.shown(session, t)
        session.execute("data train = csv \"\(path)\"", file: "t", line: 30)
        #expect(t.errors.count == 1)
        let message = t.errors.first?.message ?? ""
        #expect(message.hasPrefix("the new 'train' does not fit problem inner's loss: ") && message.contains("label 2") && message.hasSuffix("(test.betty:6:13)"),
                "\(message)")
        #expect(Self.shown(session, t) == before)
    }

    @Test func partsOfTasksRefuseDataThatIsNotTasksOrHasOtherShots() {
        let (session, t) = replay(TaskDataTests.program(unroll: 2, type: "darts") + "\nrun 3")
        let before = Self.shown(session, t)
        session.execute("data tasks = logistic samples=10 features=1", file: "t", line: 30)
        session.execute("data tasks = sinusoid tasks=40 shots=4 query=6", file: "t", line: 31)
        #expect(t.errors.count == 2)
        #expect(t.errors.first?.message == "problem adapt draws the support part of each task from 'tasks', and the new 'tasks' is not a set of few-shot tasks: to train adapt on this data, give the data another name and define adapt again with that name",
                "\(t.errors.map(\.rendered))")
        #expect(t.errors.last?.message == "problem adapt draws support points of x [5, 1], y [5, 1] per task from tasks.support, and the new 'tasks' gives support points of x [4, 1], y [4, 1]: a problem's data keeps the shape it was defined with; to train adapt on the new data, give it another name and define adapt again with that name",
                "\(t.errors.map(\.rendered))")
        #expect(Self.shown(session, t) == before)
    }

    // MARK: - Few-shot tasks

    @Test func bothPartsOfATaskSetSwitchTogetherAndALaterProblemJoinsTheirStream() throws {
        // Unroll 2: after 3 global steps adapt holds a task meta has not scored.
        let (session, t) = replay(TaskDataTests.program(unroll: 2, type: "darts") + "\nrun 3\nscale tasks by=2")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(Self.last(t) == "note: problems adapt and meta take up the new 'tasks' at the next epoch of their task order; the task in progress and the 38 tasks left of the epoch come from the old data",
                "\(t.text)")
        let problems = session.program.bindings.problems
        let stream = try #require(problems[0].loaders[0].owningEpisodes)
        #expect(problems[1].loaders[0].owningEpisodes === stream)
        // meta defined again (as it is) draws its query points from the same stream, so from the same tasks.
        let meta = TaskDataTests.program().components(separatedBy: "\n").drop { $0 != "problem meta" }.prefix { $0 != "connect meta -> adapt" }
        for (i, line) in meta.enumerated() { session.execute(line, file: "t", line: 40 + i) }
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(session.program.bindings.refs["meta"]?.problem?.loaders[0].owningEpisodes === stream)
        session.execute("run 100", file: "t", line: 60)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
    }

    // MARK: - Runs, interrupts, checks, checkpoints, reset

    @Test func aCheckOfHypergradientsAcrossTheSwitchChangesNothing() {
        // Inner draws 3 batches per epoch; its windows of 5 steps cross the switch.
        let program = tinyProgram.replacingOccurrences(of: "train batch=60 shuffle=false", with: "train batch=20") + "\nrun 4\nnoise train ratio=1 kind=flip"
        let (session, t) = replay(program + "\ncheck hypergrad outer\nrun 12")
        let (plain, u) = replay(program + "\nrun 12")
        #expect(t.errors.isEmpty && u.errors.isEmpty, "\(t.errors.map(\.rendered)) \(u.errors.map(\.rendered))")
        #expect(Self.printed(session, t, "inner.params") == Self.printed(plain, u, "inner.params"))
        #expect(Self.printed(session, t, "outer.params") == Self.printed(plain, u, "outer.params"))
    }

    @Test func ctrlCInsideAStepAfterTheSwitchPutsTheOldDataBack() {
        let program = InterruptTests.hugeNeumann.replacingOccurrences(of: "train batch=60 shuffle=false", with: "train batch=20")
        let (session, t) = replay(program + "\nstep\nnoise train ratio=1 kind=flip")
        // Global steps 2 and 3 finish the epoch on the old labels, 4 switches; outer's step 5 is cut short.
        _ = InterruptTests.Interrupter(session, t, atInnerStep: 5)
        session.execute("run 10", file: "t", line: 1)
        #expect(Self.last(t).contains("state is as before this command (global step 1)"), "\(Self.last(t))")
        session.execute("config inner neumann_iterations=3", file: "t", line: 2)
        session.execute("continue", file: "t", line: 3)
        let reference = tinyProgram.replacingOccurrences(of: "train batch=60 shuffle=false", with: "train batch=20")
            + "\nconfig inner type=neumann neumann_iterations=3\nstep\nnoise train ratio=1 kind=flip\nrun 10"
        let (plain, u) = replay(reference)
        #expect(t.errors.isEmpty && u.errors.isEmpty, "\(t.errors.map(\.rendered)) \(u.errors.map(\.rendered))")
        #expect(Self.lossesOf(t) == Self.lossesOf(u))
        #expect(Self.printed(session, t, "inner.params") == Self.printed(plain, u, "inner.params"))
        #expect(Self.printed(session, t, "outer.params") == Self.printed(plain, u, "outer.params"))
    }

    /// The losses of inner's completed steps, by local step (a step undone by Ctrl-C is reported
    /// again when it is run).
    static func lossesOf(_ t: Transcript) -> [Int: Float] {
        var losses: [Int: Float] = [:]
        for event in t.events { if case let .step(e) = event, e.problem == "inner" { losses[e.localStep] = e.loss } }
        return losses
    }

    @Test func aCheckpointTakenBeforeTheSwitchResumesWithTheSwitchStillToCome() throws {
        let path = NSTemporaryDirectory() + "switch-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let start = Self.program() + "\nrun 3\nnoise train ratio=1 kind=flip"
        let (_, t) = replay(start + "\nsave \"\(path)\"\nrun 9")
        // Another session with the same lines loads the file and goes on as the first did.
        let (resumed, u) = replay(start + "\nrun 2\nload \"\(path)\"")
        #expect(t.errors.isEmpty && u.errors.isEmpty, "\(t.errors.map(\.rendered)) \(u.errors.map(\.rendered))")
        resumed.execute("run 9", file: "t", line: 50)
        #expect(Self.metric("s", t).suffix(9) == Self.metric("s", u).suffix(9))
    }

    @Test func resetDropsTheWaitingSwitch() {
        let (session, t) = replay(Self.program() + "\nrun 3\nnoise train ratio=1 kind=flip\nreset")
        session.execute("show problems", file: "t", line: 20)
        #expect(Self.last(t).hasPrefix("problem inner: 4 parameters, sgd lr 0.1, batch 10 of 60, darts unroll 1"), "\(Self.last(t))")
        session.execute("run 6", file: "t", line: 21)
        let after = Self.program().replacingOccurrences(of: "features=4\n", with: "features=4\nnoise train ratio=1 kind=flip\n")
        let (_, u) = replay(after + "\nrun 6")
        #expect(t.errors.isEmpty && u.errors.isEmpty, "\(t.errors.map(\.rendered)) \(u.errors.map(\.rendered))")
        #expect(Self.metric("s", t).suffix(6) == Self.metric("s", u))
    }

    @Test func aDataStatementDuringABackgroundRunNeedsPauseAndThenSwitchesAsInTheForeground() {
        let (session, output) = BackgroundRunTests.session(background: true)
        session.execute("run 5000", file: "t", line: 1)
        session.execute("noise train ratio=0.1", file: "t", line: 2)
        if session.hasActiveRun {
            #expect(output.errors.last?.contains("'noise' changes the program, and the engine is running") == true, "\(output.errors)")
        }
        session.execute("pause", file: "t", line: 3)
        let step = BackgroundRunTests.globalStep(session)
        session.execute("noise train ratio=0.1", file: "t", line: 4)
        #expect(!session.hasActiveRun)
        session.execute("continue", file: "t", line: 5)
        session.execute("wait", file: "t", line: 6)
        #expect(BackgroundRunTests.globalStep(session) == 5000)
        let (foreground, out) = BackgroundRunTests.session(background: false)
        if step > 0 { foreground.execute("run \(step)", file: "t", line: 1) }
        foreground.execute("noise train ratio=0.1", file: "t", line: 2)
        if step < 5000 { foreground.execute("run \(5000 - step)", file: "t", line: 3) }
        #expect(out.errors.isEmpty, "\(out.errors)")
        #expect(BackgroundRunTests.state(session) == BackgroundRunTests.state(foreground))
    }
}
