import BettyScript
import Foundation
import Testing

@Suite struct EngineCommandTests {
    @Test func csvLoggingKeepsWritingAfterTheEngineIsRebuilt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (session, transcript) = replay(tinyProgram + "\nengine csv=\"\(path)\"\nrun 2")
        // Redefining a problem rebuilds the engine; the CSV file must still get the new steps.
        session.execute("reset", file: "t", line: 1)
        session.execute("run 3", file: "t", line: 2)
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let steps = rows.filter { $0.hasPrefix("step,") }
        // tinyProgram's inner level steps every global step; outer every 5th.
        #expect(steps.filter { $0.contains(",inner,") }.count == 5, "\(rows)")
    }

    @Test func csvNeedsAQuotedPath() {
        let (_, transcript) = replay(tinyProgram + "\nengine csv=run")
        #expect(transcript.errors.first?.message.contains("quoted") == true, "\(transcript.errors.map(\.rendered))")
    }

    /// The name an error suggests for a layer's parameter (`meta.0.weight`) must be one the lexer reads.
    @Test func layerParametersAreNamedWithDigits() {
        let (_, t) = replay("""
            seed 1
            data d = logistic samples=10 features=2
            problem m
              module    mlp 2 -> 3 -> 1
              optimizer sgd lr=0.1
              data      d batch=10
              loss      bce_logits(reshape(m(x), -1), y)
            end
            print m.params
            print m.2.bias + 0
            print m.0.weight
            """)
        #expect(t.errors.count == 1 && t.errors[0].message.contains("name one: m.0.weight, m.0.bias, m.2.weight, m.2.bias"),
                "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("tensor of shape [3, 2]"), "\(t.text)")
    }

    /// Reading a reverse-mode level's parameters without an edge to it would back-propagate into its
    /// recorded window behind the engine: refused before the run, at the reference.
    @Test func readingAnUnconnectedReverseModeLevelIsRefused() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("sessions/three_levels.betty"), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        let unconnected = lines.filter { $0 != "connect top -> bottom" }
        #expect(unconnected.count == lines.count - 1)
        let (session, t) = replay(unconnected.prefix { !$0.hasPrefix("run") }.joined(separator: "\n") + "\nrun 5")
        let e = t.errors.first
        #expect(t.errors.count == 1 && e?.message.contains("problem 'top' reads 'bottom', a reverse-mode level") == true, "\(t.errors.map(\.rendered))")
        // top's loss line, 1-based: four lines below "problem top".
        let lossLine = unconnected.firstIndex(of: "problem top")! + 5
        #expect(unconnected[lossLine - 1].hasPrefix("  loss      bce_logits(x @ bottom.params"))
        #expect(e?.location?.line == lossLine && e?.location?.column == 28, "\(String(describing: e?.location))")
        session.execute("connect top -> bottom", file: "t.betty", line: 90)
        session.execute("run 5", file: "t.betty", line: 91)
        #expect(t.errors.count == 1, "\(t.errors.map(\.rendered))")
    }

    /// Ctrl-C (Session.interrupt) stops `step N` between steps; `continue` takes the rest.
    @Test func anInterruptStopsStepping() {
        let (session, t) = replay(tinyProgram)
        #expect(t.errors.isEmpty)
        final class Stopper: @unchecked Sendable { weak var session: Session?; var seen = 0 }
        let stopper = Stopper()
        stopper.session = session
        t.onEvent = { _ in
            stopper.seen += 1
            if stopper.seen == 3 { stopper.session?.interrupt() }
        }
        session.execute("step 10", file: "t.betty", line: 50)
        #expect(t.text.contains("interrupted after 3 of 10 steps (global step 3); 'continue' runs the remaining 7"), "\(t.text)")
        session.execute("continue", file: "t.betty", line: 51)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("ran 7 steps (global step 10)"), "\(t.text)")
    }

    /// A non-finite hypergradient is refused where it is made, naming the upper level, the method
    /// and the setting; the upper level's parameters do not move.
    @Test func aNonFiniteHypergradientNamesTheMethodAndTheSettingAndMovesNothing() {
        let (session, t) = replay(tinyProgram + "\nrun 5\nconfig inner darts_alpha=1e30\nprint outer.params + 0")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let before = t.text.components(separatedBy: "\n").suffix(2)
        session.execute("run 10", file: "t.betty", line: 50)
        let message = t.errors.last?.message ?? ""
        #expect(message.hasPrefix("problem 'outer': the hypergradient through 'inner' by darts is NaN at local step 2"), "\(message)")
        #expect(message.contains("nothing was applied") && message.contains("the likely cause is inner's darts_alpha=1e+30"), "\(message)")
        session.execute("print outer.params + 0", file: "t.betty", line: 51)
        #expect(Array(t.text.components(separatedBy: "\n").suffix(2)) == Array(before))
    }

    /// A method's settings are read from the lower level a path runs through, for the method in its
    /// type: set anywhere else they do nothing, and the session says so.
    @Test func settingsThatDoNothingWhereTheyAreSetGetANote() {
        let (session, t) = replay(tinyProgram)
        session.execute("config outer darts_alpha=1e30", file: "t", line: 1)
        #expect(t.text.hasSuffix("note: no upper level differentiates through outer (it is the lower level of no path), so darts_alpha has no effect until one does; outer's own path uses the settings of inner (config inner ...)"),
                "\(t.text)")
        session.execute("config inner neumann_iterations=5", file: "t", line: 2)
        #expect(t.text.hasSuffix("inner: darts, unroll 5\nnote: neumann_iterations has no effect while inner's type is darts (it is for type=neumann)"), "\(t.text)")
        session.execute("config inner type=neumann neumann_iterations=5", file: "t", line: 3)
        #expect(t.text.hasSuffix("inner: neumann, unroll 5"), "\(t.text)")
        session.execute("config inner first_order=false", file: "t", line: 4)
        #expect(t.text.hasSuffix("note: inner has no paths (no lower level's loss uses its parameters), so first_order has no effect until it has"), "\(t.text)")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
    }

    /// Betty's retain_graph and cg_alpha have nothing to set here: refused with why, not ignored.
    @Test func bettySettingsWithoutEffectAreRefused() {
        let (session, t) = replay(tinyProgram)
        session.execute("config inner retain_graph=true", file: "t", line: 1)
        #expect(t.errors.last?.message.hasPrefix("config has no retain_graph: the engine keeps a graph exactly as long as a hypergradient needs it") == true,
                "\(t.errors.map(\.rendered))")
        session.execute("config inner type=cg cg_alpha=0.1", file: "t", line: 2)
        #expect(t.errors.last?.message.hasPrefix("config has no cg_alpha: cg here is textbook conjugate gradient") == true, "\(t.errors.map(\.rendered))")
        #expect(t.errors.last?.location?.column == 22)
        session.execute("show inner", file: "t", line: 3)
        #expect(t.text.contains("config: type=darts "), "the refused line changed nothing")
    }

    /// allow_unused=false makes a parameter the loss ignores an error that names it.
    @Test func allowUnusedOffNamesTheIgnoredParameter() {
        let program = """
            seed 1
            data d = logistic samples=10 features=2
            problem m
              module    linear 2 -> 1
              optimizer sgd lr=0.1
              data      d batch=10
              loss      bce_logits(reshape(x @ transpose(m.weight), -1), y)
            end
            """
        let (session, t) = replay(program + "\nconfig m allow_unused=false\nrun 2")
        #expect(t.errors.map(\.message) == ["problem 'm': its loss does not depend on parameter 'bias' (allow_unused is off); use it in the loss, or turn allow_unused on to take its gradient as zero; global step 1 was undone, so the state is as before this command (global step 0)"])
        session.execute("config m allow_unused=true", file: "t", line: 1)
        session.execute("run 2", file: "t", line: 2)
        #expect(t.errors.count == 1 && t.text.contains("ran 2 steps"), "\(t.text)")
    }
}
