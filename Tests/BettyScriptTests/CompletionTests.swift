import BettyScript
import Testing

// What Tab offers at the prompt: the line editor passes the word under the cursor and the line up
// to it, breaking words at spaces, '=' and operators but not at '.'.
@Suite struct CompletionTests {
    @Test func commandsProblemsConfigKeysAndMethods() {
        let (session, _) = replay(tinyProgram)
        #expect(session.completions(for: "con", line: "con") == ["config", "connect", "continue"])
        #expect(session.completions(for: "unr", line: "config inner unr") == ["unroll=", "unroll_steps="])
        #expect(session.completions(for: "in", line: "config in") == ["inner"])
        #expect(session.completions(for: "n", line: "config inner type=n") == ["neumann"])
        #expect(session.completions(for: "gr", line: "show gr") == ["graph"])
        #expect(session.completions(for: "outer.p", line: "print mean(outer.p") == ["outer.params"])
        #expect(session.completions(for: "val", line: "print val") == ["valid", "valid.x", "valid.y", "validation"])
    }

    @Test func insideABlockTheProblemLinesAndTheBatch() {
        let (session, _) = replay("problem p")
        #expect(session.isContinuing)
        #expect(session.completions(for: "mo", line: "mo") == ["module"])
        #expect(session.completions(for: "x", line: "loss mean(x") == ["x"])
    }
}
