@testable import BettyScript
import Betty
import Foundation
import Testing

/// Ctrl-C (`Session.interrupt`) reaches inside a long step; the state is then as before the command
/// or at the end of a global step, the message says which, and `continue` runs the rest as if
/// nothing had happened.
@Suite struct InterruptTests {
    /// Interrupts `session` when the engine reports `inner`'s step at `globalStep`, once.
    final class Interrupter: @unchecked Sendable {
        weak var session: Session?
        let globalStep: Int
        var fired = false

        init(_ session: Session, _ transcript: Transcript, atInnerStep globalStep: Int) {
            self.session = session
            self.globalStep = globalStep
            transcript.onEvent = { [self] event in
                guard case let .step(e) = event, e.problem == "inner", e.globalStep == globalStep, !fired else { return }
                fired = true
                self.session?.interrupt()
            }
        }
    }

    static let hugeNeumann = tinyProgram + "\nconfig inner type=neumann neumann_iterations=1e9"

    /// The text the last command printed.
    static func lastOutput(_ t: Transcript) -> String { t.text.components(separatedBy: "\n").last ?? "" }

    @Test func ctrlCStopsAHugeNeumannSeriesAndTheStateIsAsBeforeTheCommand() {
        let (session, t) = replay(Self.hugeNeumann)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        session.execute("print outer.params + 0", file: "t", line: 1)
        session.execute("print inner.params + 0", file: "t", line: 2)
        let before = t.text.components(separatedBy: "\n").suffix(4)
        // tinyProgram's outer level first steps at global step 5, after inner's fifth step.
        let interrupter = Interrupter(session, t, atInnerStep: 5)
        session.execute("run 10", file: "t", line: 3)
        #expect(interrupter.fired)
        let message = Self.lastOutput(t)
        #expect(message.hasPrefix("interrupted during global step 5 (neumann iteration "), "\(message)")
        #expect(message.hasSuffix(" of 1,000,000,000 through 'inner'): state is as before this command (global step 0); 'continue' runs the remaining 10"),
                "\(message)")
        session.execute("print outer.params + 0", file: "t", line: 4)
        session.execute("print inner.params + 0", file: "t", line: 5)
        #expect(Array(t.text.components(separatedBy: "\n").suffix(4)) == Array(before))
        // The session goes on: with a sensible setting the rest of the run completes.
        session.execute("config inner neumann_iterations=3", file: "t", line: 6)
        session.execute("continue", file: "t", line: 7)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(Self.lastOutput(t).hasPrefix("ran 10 steps (global step 10)"), "\(Self.lastOutput(t))")
    }

    @Test func stepNStoppedInsideAStepKeepsTheStepsBefore() {
        let (session, t) = replay(Self.hugeNeumann)
        _ = Interrupter(session, t, atInnerStep: 5)
        session.execute("step 7", file: "t", line: 1)
        let message = Self.lastOutput(t)
        #expect(message.hasPrefix("interrupted during global step 5 (neumann iteration "), "\(message)")
        #expect(message.hasSuffix(": state is as after step 4; 'continue' runs the remaining 3"), "\(message)")
        session.execute("show engine", file: "t", line: 2)
        #expect(t.text.contains("engine: global step 4,"), "\(t.text)")
    }

    @Test func aHypergradientCommandCanBeInterrupted() {
        let (session, t) = replay(tinyProgram + "\nrun 3\nconfig inner type=neumann neumann_iterations=1e9")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let interrupting = Thread { [weak session] in
            Thread.sleep(forTimeInterval: 0.3)
            session?.interrupt()
        }
        interrupting.start()
        session.execute("hypergrad outer", file: "t", line: 1)
        let message = Self.lastOutput(t)
        #expect(message.hasPrefix("hypergradient of outer interrupted (neumann iteration "), "\(message)")
        #expect(message.hasSuffix(" of 1,000,000,000 through 'inner'); nothing changed"), "\(message)")
    }

    @Test func aCheckCanBeInterruptedAndChangesNothing() {
        // darts through a window of ten million steps: only a Ctrl-C ends its row.
        let (session, t) = replay(tinyProgram + "\nrun 3\nlet before = sum(inner.params) + sum(outer.params)\nconfig inner unroll=10000000")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let interrupting = Thread { [weak session] in
            Thread.sleep(forTimeInterval: 0.3)
            session?.interrupt()
        }
        interrupting.start()
        session.execute("check hypergrad outer reference_steps=3", file: "t", line: 1)
        let message = Self.lastOutput(t)
        #expect(message.hasPrefix("check of outer's hypergradient interrupted (step "), "\(message)")
        #expect(message.hasSuffix(" of 10,000,000 of a check's window below 'outer'); nothing changed"), "\(message)")
        session.execute("expect sum(inner.params) + sum(outer.params) == before", file: "t", line: 2)
        session.execute("config inner unroll=5", file: "t", line: 3)
        session.execute("run 2", file: "t", line: 4)
        #expect(t.errors.isEmpty && t.expectations.allSatisfy(\.1), "\(t.errors.map(\.rendered)) \(t.expectations)")
    }

    @Test func aCheckWhoseRecordedWindowCannotFitIsRefusedAtItsStart() {
        let (session, t) = replay(tinyProgram + "\nrun 3\nengine memory_limit=\"200MB\"")
        session.execute("check hypergrad outer reference_steps=100000000", file: "t", line: 1)
        #expect(t.errors.count == 1, "\(t.text)")
        let message = t.errors.first?.message ?? ""
        #expect(message.hasPrefix("cannot check the hypergradient of 'outer': its window of 100,000,000 steps keeps about "), "\(message)")
        #expect(message.contains("use fewer steps or reference_steps"), "\(message)")
        session.execute("run 2", file: "t", line: 2)
        #expect(t.errors.count == 1)
    }

    /// A Ctrl-C pressed while no engine command ran is spent: it does not cancel the next one.
    @Test func anEarlierCtrlCDoesNotCancelTheNextHypergradient() {
        let (session, t) = replay(tinyProgram + "\nrun 3")
        session.program.engine?.cancellationTiming = CancellationTiming(patience: .zero, restorePointAge: .zero)
        session.interrupt()
        session.execute("hypergrad outer", file: "t", line: 1)
        #expect(t.text.contains("hypergradient of outer (direct term + 1 path): norm "), "\(t.text)")
    }

    /// The same numbers as an uninterrupted run, down to the last bit, including what the session
    /// keeps from the events (the recent losses behind `mean_loss`).
    @Test func continueAfterACancelInsideAStepMatchesAnUninterruptedRun() {
        let program = tinyProgram + "\nconfig inner type=neumann neumann_iterations=3"
        let probes = ["print inner.params + 0", "print outer.params + 0", "print inner.mean_loss", "print outer.mean_loss",
                      "print outer.loss"]
        let (reference, r) = replay(program + "\nrun 20")
        for (i, line) in probes.enumerated() { reference.execute(line, file: "r", line: i + 1) }
        #expect(r.errors.isEmpty, "\(r.errors.map(\.rendered))")

        let (session, t) = replay(program)
        // Renew the restore point at every step and honour the cancel at once, so it lands inside
        // global step 10 (between inner's step and outer's) with the state after step 9 to go back to.
        session.program.engine?.cancellationTiming = CancellationTiming(patience: .zero, restorePointAge: .zero)
        _ = Interrupter(session, t, atInnerStep: 10)
        session.execute("run 20", file: "t", line: 1)
        #expect(Self.lastOutput(t) == "interrupted during global step 10 (before the step of 'outer'): state is as after step 9; 'continue' runs the remaining 11",
                "\(Self.lastOutput(t))")
        session.execute("continue", file: "t", line: 2)
        #expect(Self.lastOutput(t).hasPrefix("ran 11 steps (global step 20)"), "\(Self.lastOutput(t))")
        for (i, line) in probes.enumerated() { session.execute(line, file: "t", line: i + 3) }
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let tail = { (x: Transcript) in Array(x.text.components(separatedBy: "\n").suffix(7)) }
        #expect(tail(t) == tail(r))
    }
}
