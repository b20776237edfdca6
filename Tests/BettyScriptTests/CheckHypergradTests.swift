@testable import BettyScript
import Betty
import Foundation
import Testing

/// `check hypergrad NAME`: the statement, its options, its errors, the values expressions read, and
/// that it changes nothing of the session.
@Suite struct CheckHypergradTests {
    @Test func printsATableWithEveryMethodAndMarksTheConfiguredOne() {
        let (_, t) = replay(tinyProgram + "\nrun 10\ncheck hypergrad outer reference_steps=50")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let text = t.text
        #expect(text.contains("hypergradient of outer by each method, against reverse mode through 50 unrolled steps of inner"), "\(text)")
        #expect(text.contains("    method      norm         cosine      rel. error   time      settings"))
        for method in ["  * darts", "    neumann", "    cg", "    sama        n/a: problem 'inner': sama needs an Adam", "    reverse"] {
            #expect(text.contains(method), "\(method) in \(text)")
        }
    }

    @Test func expressionsReadTheLatestCheck() {
        let (_, t) = replay(tinyProgram + """

            run 10
            check hypergrad outer steps=50 reference_steps=50
            expect check.reverse.rel_error < 1e-5
            expect check.reference.rel_error == 0
            expect check.configured.norm == check.darts.norm
            expect check.darts.cosine > 0
            expect check.cg.time >= 0
            """)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.expectations.count == 5 && t.expectations.allSatisfy(\.1), "\(t.expectations)")
    }

    @Test func centralDifferencesAgreeWithReverseModeThroughTheSameWindow() {
        let (_, t) = replay(tinyProgram + """

            run 10
            check hypergrad outer against=fd steps=20 reference_steps=20
            expect check.reverse.rel_error < 1e-3
            """)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("against central differences of outer's loss after 20 unrolled steps of inner"), "\(t.text)")
        #expect(t.expectations.count == 1 && t.expectations.allSatisfy(\.1), "\(t.expectations)")
    }

    @Test(arguments: [
        ("check", "expected what to check (hypergrad)", 6),
        ("check gradients outer", "check takes 'hypergrad NAME [against=reverse|fd] [steps=K] [reference_steps=R]', got 'gradients'", 7),
        ("check hypergrad", "expected a problem", 16),
        ("check hypergrad outer against=exact", "against must be one of reverse, fd", 31),
        ("check hypergrad outer steps=0", "steps must be", 29),
        ("check hypergrad outer stpes=3", "did you mean 'steps'", 23),
        ("check hypergrad outr", "unknown problem 'outr'", 17),
        ("check hypergrad inner", "no lower level is connected to it", 17),
        ("print check.darts.norm", "no check has run yet", 7),
    ])
    func badInputIsOneErrorAtItsPlace(line: String, message: String, column: Int) {
        let (session, t) = replay(tinyProgram + "\n" + line)
        #expect(t.errors.count == 1, "\(t.errors.map(\.rendered))")
        let error = t.errors.first
        #expect(error?.message.contains(message) == true, "\(error?.rendered ?? "no error")")
        #expect(error?.location?.column == column, "\(error?.rendered ?? "no error")")
        // The session goes on.
        session.execute("run 2", file: "test.betty", line: 99)
        #expect(t.errors.count == 1)
    }

    @Test func readingAMissingRowOrFieldSaysWhatThereIs() {
        let (_, t) = replay(tinyProgram + "\nrun 5\ncheck hypergrad outer reference_steps=10\nprint check.dart.norm\nprint check.cg.slope\nprint check.sama.norm")
        #expect(t.errors.map(\.message) == [
            "the check of outer has no row 'dart' (did you mean 'darts'?); have darts, neumann, cg, sama, reverse, configured, reference",
            "check.cg has rel_error, cosine, norm, time",
            "check.sama has no value: problem 'inner': sama needs an Adam or AdamW optimizer on this level (it preconditions with Adam's moments)",
        ], "\(t.errors.map(\.rendered))")
    }

    @Test func aCheckLeavesTheRunExactlyAsItWas() {
        let plain = replay(tinyProgram + "\nrun 10\nrun 10\nprint outer.params\nprint inner.params").1
        let checked = replay(tinyProgram + "\nrun 10\ncheck hypergrad outer against=fd reference_steps=7\ncheck hypergrad outer\nrun 10\nprint outer.params\nprint inner.params").1
        #expect(plain.errors.isEmpty && checked.errors.isEmpty, "\(checked.errors.map(\.rendered))")
        let tail = { (t: Transcript) in t.text.split(separator: "\n").suffix(4).joined(separator: "\n") }
        #expect(tail(plain) == tail(checked), "\(tail(plain))\n---\n\(tail(checked))")
        // The trial windows are not steps of the run: no events.
        #expect(plain.events.count == checked.events.count)
    }

    @Test func jsonCarriesEveryRowsNumbers() throws {
        var lines: [String] = []
        let session = Session(output: JSONOutput { lines.append($0) })
        for (i, line) in (tinyProgram + "\nrun 10\ncheck hypergrad outer reference_steps=20").split(separator: "\n").enumerated() {
            session.execute(String(line), file: "test.betty", line: i + 1)
        }
        let event = try #require(lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["event"] as? String == "hypergradient_check" })
        #expect(event["problem"] as? String == "outer")
        let rows = try #require(event["rows"] as? [[String: Any]])
        #expect(rows.map { $0["method"] as? String } == ["darts", "neumann", "cg", "sama", "reverse"])
        #expect((rows[0]["values"] as? [Double])?.count == 4)
        #expect(rows[0]["configured"] as? Bool == true)
        #expect(rows[3]["not_applicable"] is String)
        let reference = try #require(event["reference"] as? [String: Any])
        #expect(reference["kind"] as? String == "reverse")
    }
    @Test func aCheckBeforeTheFirstStepPutsBackTheBatchItDraws() {
        let shuffled = tinyProgram.replacingOccurrences(of: "data      valid batch=60 shuffle=false", with: "data      valid batch=20 shuffle=true")
        let plain = replay(shuffled + "\nrun 20\nprint outer.params").1
        let checked = replay(shuffled + "\ncheck hypergrad outer reference_steps=5\nrun 20\nprint outer.params").1
        #expect(plain.errors.isEmpty && checked.errors.isEmpty, "\(checked.errors.map(\.rendered))")
        let last = { (t: Transcript) in t.text.split(separator: "\n").suffix(2).joined(separator: "\n") }
        #expect(last(plain) == last(checked), "\(last(plain))\n---\n\(last(checked))")
    }

    @Test func centralDifferencesAreScaledAsTheEngineScalesAnAccumulatedLoss() {
        let program = tinyProgram.replacingOccurrences(of: "config    type=darts unroll=5", with: "config    type=reverse unroll=5")
            + "\nconfig outer gradient_accumulation=2\nrun 10\ncheck hypergrad outer\nexpect check.reverse.rel_error < 1e-2"
        let (_, t) = replay(program)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.expectations.count == 1 && t.expectations.allSatisfy(\.1), "\(t.expectations)")
    }

    @Test func whatTheReferenceCannotRunAndAProblemWithoutHypergradientsAreRefused() {
        let (_, t) = replay(tinyProgram + "\nconfig inner gradient_accumulation=2\nrun 10\ncheck hypergrad outer\nconfig inner gradient_accumulation=1\nconfig outer first_order=false\ncheck hypergrad outer")
        #expect(t.errors.map(\.message) == [
            "cannot check the hypergradient of 'outer': its reference runs every level below it in reverse mode, and problem 'inner': gradient accumulation, clipping and grad/param callbacks with reverse mode is not implemented yet; nothing changed",
            "cannot check the hypergradient of 'outer': its first_order is off, so it takes no hypergradient: its gradient is the direct term alone; nothing changed",
        ], "\(t.errors.map(\.rendered))")
    }

    /// Found in review: a top over two leaves, one of them reverse mode with unroll 1, stepped after the
    /// reverse-mode leaf's window had closed (at the end of that leaf's own cascade).
    @Test func aTopOverTwoLeavesStepsThroughTheReverseModeLeafsWindow() {
        let (_, t) = replay("""
            seed 3
            data all = logistic samples=120 features=4
            split all -> train 60, valid 60
            problem top
              module    params 4 init=ones
              optimizer sgd lr=0.1
              data      valid batch=60 shuffle=false
              loss      bce_logits(x @ left.params, y) + bce_logits(x @ right.params, y)
            end
            problem left
              module    params 4 init=zeros
              optimizer sgd lr=0.1
              data      train batch=60 shuffle=false
              loss      bce_logits(x @ params, y) + 0.5 * sum(top.params * params^2)
              config    type=reverse unroll=1
            end
            problem right
              module    params 4 init=zeros
              optimizer sgd lr=0.1
              data      train batch=60 shuffle=false
              loss      bce_logits(x @ params, y) + 0.5 * sum(top.params * params^2)
              config    type=darts unroll=1
            end
            connect top -> left
            connect top -> right
            run 3
            print top.params
            """)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
    }

    /// Found in review: a darts middle with reset_on_start, read by a reverse-mode bottom whose window is
    /// open when the middle's next window starts; the reset wrote in place what the window had saved.
    @Test func aWindowStartHookDoesNotOverwriteWhatAnOpenWindowSaved() {
        let (_, t) = replay("""
            seed 3
            data all = logistic samples=180 features=4
            split all -> train 60, valid 60, hold 60
            problem bottom
              module    params 4 init=zeros
              optimizer sgd lr=0.1
              data      train batch=60 shuffle=false
              loss      bce_logits(x @ params, y) + 0.5 * sum(middle.params * params^2)
              config    type=reverse unroll=1
            end
            problem middle
              module    params 4 init=ones
              optimizer sgd lr=0.1
              data      valid batch=60 shuffle=false
              loss      bce_logits(x @ bottom.params, y) + 0.1 * sum((params - 1)^2)
              config    type=darts unroll=2
              reset_on_start
            end
            problem top
              module    params 4 init=ones
              optimizer sgd lr=0.1
              data      hold batch=60 shuffle=false
              loss      bce_logits(x @ middle.params, y)
            end
            connect top -> middle -> bottom
            run 6
            print middle.params
            """)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
    }
}
