@testable import BettyScript
@testable import Betty
import Testing

/// Issue 22, "Redefining a problem replaces that problem alone": a second `problem NAME ... end`
/// starts NAME afresh, as if defined for the first time (parameters from its module line and the seed,
/// fresh optimizer state and loader, local step 0, no recent losses), while the engine's global step and
/// every other problem's state, including its place in the schedule, go on; defining a new problem
/// does the same. A redefinition that fails changes nothing.
@Suite struct RedefinitionTests {
    /// outer reads two lowers of different windows: inner2 finishes its window at global step 4 and
    /// outer waits for inner's at 6, so outer's ready flags hold something across step 5. (outer is
    /// defined first: a second problem that names one not defined yet is refused today.)
    static let program = """
        seed 7
        data all = logistic samples=120 features=4
        split all -> train 60, valid 60
        problem outer
          module    params 4 init=ones
          optimizer sgd lr=1 momentum=0.9
          data      valid batch=20
          loss      bce_logits(x @ inner.params, y) + bce_logits(x @ inner2.params, y)
          clamp     min=1e-8
        end
        problem inner
          module    params 4 init=zeros
          optimizer adam lr=0.05
          data      train batch=20
          loss      bce_logits(x @ params, y) + 0.5 * sum(outer.params * params^2)
          config    type=darts unroll=6
        end
        problem inner2
          module    params 4 init=zeros
          optimizer sgd lr=0.1
          data      train batch=30
          loss      bce_logits(x @ params, y) + 0.1 * sum(outer.params * params^2)
          config    type=neumann unroll=4
        end
        connect outer -> inner
        connect outer -> inner2
        """

    static let other = """
        problem other
          module    params 4 init=normal
          optimizer adam lr=0.1
          data      train batch=10
          loss      mean((x @ params - y)^2)
        end
        """

    /// The snapshot's entries about `name`, and those about everything else.
    static func split(_ snapshot: [String], _ name: String) -> (own: [String], rest: [String]) {
        (snapshot.filter { $0.hasPrefix(name + ".") }, snapshot.filter { !$0.hasPrefix(name + ".") })
    }

    static func expectSame(_ a: [String], _ b: [String], _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let same = a == b
        #expect(same, "\(what):\(SessionState.difference(a, b))", sourceLocation: sourceLocation)
    }

    @Test func redefiningAProblemRestartsItAloneAndTheRunGoesOn() {
        let full = Self.program + "\n" + Self.other
        let (reference, r) = replay(full + "\nrun 10")
        let (fresh, f) = replay(full + "\nrun 5")
        let (session, t) = replay(full + "\nrun 5\n" + Self.other)
        #expect(r.errors.isEmpty && f.errors.isEmpty && t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("redefined problem other: "), "\(t.text)")
        session.execute("show engine", file: "t", line: 1)
        #expect(t.text.contains("engine: global step 5,"), "\(t.text.suffix(300))")
        session.execute("run 5", file: "t", line: 2)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        // The others (and the global step) as if nothing had been redefined: outer stepped at 6, when
        // inner's window ended, because it still knew inner2's of step 4.
        let (own, rest) = Self.split(SessionState.snapshot(session), "other")
        Self.expectSame(rest, Self.split(SessionState.snapshot(reference), "other").rest, "the rest of the program")
        // other as a problem defined then and run 5 steps.
        Self.expectSame(own, Self.split(SessionState.snapshot(fresh), "other").own, "the redefined problem")
    }

    @Test func definingANewProblemKeepsTheGlobalStepAndTheSchedule() {
        let (reference, r) = replay(Self.program + "\nrun 10")
        let (session, t) = replay(Self.program + "\nrun 5\n" + Self.other + "\nrun 5")
        #expect(r.errors.isEmpty && t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let rest = Self.split(SessionState.snapshot(session), "other").rest
        Self.expectSame(rest, SessionState.snapshot(reference), "the program around the new problem")
    }

    @Test func redefiningAnUpperLevelKeepsItsConnectionsAndItsLowersRuns() {
        let (session, t) = replay(Self.program + "\nrun 5\n" + """
            problem outer
              module    params 4 init=ones
              optimizer sgd lr=0.5
              data      valid batch=20
              loss      bce_logits(x @ inner.params, y) + bce_logits(x @ inner2.params, y)
            end
            """)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let engine = session.program.engine!
        let outer = engine.problem(named: "outer")!, inner = engine.problem(named: "inner")!
        #expect(engine.globalStep == 5 && inner.localStep == 5 && outer.localStep == 0)
        #expect(engine.graph.children(of: "outer") == ["inner", "inner2"])
        // The new outer has seen no lower finish a window: it steps once both have, at 8.
        #expect(engine.run(of: outer)?.ready == [false, false])
        session.execute("run 2", file: "t", line: 1)
        #expect(outer.localStep == 0)
        session.execute("run 1", file: "t", line: 2)
        #expect(engine.globalStep == 8 && outer.localStep == 1, "\(engine.globalStep) \(outer.localStep)")
    }

    static let badRedefinitions = [
        // Its loss does not fit its data: refused by the check on its first batch.
        """
        problem outer
          module    params 3 init=ones
          optimizer sgd lr=1
          data      valid batch=20
          loss      bce_logits(x @ params, y)
        end
        """,
        // Reverse-mode inner's window is open and recorded its steps with outer's parameters.
        """
        problem outer
          module    params 4 init=ones
          optimizer sgd lr=1
          data      valid batch=20
          loss      bce_logits(x @ inner.params, y)
        end
        """,
    ]

    @Test(arguments: badRedefinitions)
    func aRedefinitionThatFailsChangesNothing(_ definition: String) {
        let (session, t) = replay(tinyProgram + "\nconfig inner type=reverse\nrun 7")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let before = SessionState.snapshot(session)
        for (i, line) in definition.split(separator: "\n").enumerated() { session.execute(String(line), file: "d", line: i + 1) }
        #expect(t.errors.count == 1, "\(t.text)")
        Self.expectSame(SessionState.snapshot(session), before, "after the failed redefinition")
        if definition.contains("inner.params") {
            #expect(t.errors.first?.message == "problem 'outer' cannot be replaced now: the unrolled window of 'inner' is open (step 2 of 5) and recorded its steps with the parameters of 'outer'; replace it after 3 more steps of 'inner', when the window has closed",
                    "\(t.errors.map(\.message))")
            // At the window's end it can be.
            session.execute("run 3", file: "t", line: 1)
            for (i, line) in definition.split(separator: "\n").enumerated() { session.execute(String(line), file: "e", line: i + 1) }
            #expect(t.errors.count == 1, "\(t.errors.map(\.rendered))")
            #expect(session.program.engine?.globalStep == 10)
        }
    }
}
