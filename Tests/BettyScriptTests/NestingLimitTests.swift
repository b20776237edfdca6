import BettyScript
import Foundation
import Synchronization
import Testing

// Hostile expressions: nesting of any depth and lines of any length give one error at the place the
// limit is passed, never a stack overflow, and the session goes on. Before the limit, 4000 nested
// parentheses overflowed the parser's stack and a 100000-term sum crashed when its tree was freed.
@Suite struct NestingLimitTests {
    static let limitMessage = "expression nested deeper than 128 levels (the limit): give parts of it a name with 'let'"

    /// Runs `line` in a fresh session (after `setup`); returns its errors and whether `print 1+1` still answers.
    private func run(_ line: String, after setup: String = "let a = 1") -> (errors: [ScriptError], answers: Bool) {
        let (session, transcript) = replay(setup)
        #expect(transcript.errors.isEmpty, "setup: \(transcript.errors.map(\.rendered))")
        let before = transcript.errors.count
        session.execute(line, file: "deep.betty", line: 7)
        let errors = Array(transcript.errors[before...])
        session.execute("print 1+1", file: "deep.betty", line: 8)
        return (errors, transcript.errors.count == before + errors.count && transcript.text.hasSuffix("\n2"))
    }

    private static func repeated(_ text: String, _ count: Int) -> String { String(repeating: text, count: count) }

    @Test func deepParenthesesAreOneErrorAtTheFirstBracketPastTheLimit() {
        let (errors, answers) = run("print " + Self.repeated("(", 4000) + "1" + Self.repeated(")", 4000))
        #expect(errors.map(\.message) == [Self.limitMessage])
        // "print " is six characters: the 128th '(' is column 134.
        #expect(errors.first?.location == SourceLocation(file: "deep.betty", line: 7, column: 134))
        #expect(answers)
    }

    @Test func aLongSumCountsAsDeepAndIsRefusedBeforeItsTreeIsBuilt() {
        let (errors, answers) = run("print " + Array(repeating: "1", count: 100_000).joined(separator: "+"))
        #expect(errors.map(\.message) == [Self.limitMessage])
        // The 128th '+' would make the 129th level: column 6 + 2 * 128.
        #expect(errors.first?.location?.column == 262)
        #expect(answers)
    }

    @Test func everyKindOfNestingIsLimited() {
        let lines = [
            "print " + Self.repeated("-", 4000) + "1",
            "print " + Self.repeated("abs(", 4000) + "1" + Self.repeated(")", 4000),
            "print " + Self.repeated("a.", 4000) + "b",
            "print " + Self.repeated("2^", 4000) + "2",
            "print " + Self.repeated("a*(", 4000) + "a" + Self.repeated(")", 4000),
            "let b = " + Array(repeating: "a", count: 5000).joined(separator: "/"),
            "expect " + Self.repeated("(", 4000) + "1 < 2",
            "engine train_iters=" + Self.repeated("-", 4000) + "1",
        ]
        for line in lines {
            let (errors, answers) = run(line)
            #expect(errors.map(\.message) == [Self.limitMessage], "\(line.prefix(30))")
            #expect(answers, "\(line.prefix(30))")
        }
    }

    @Test func aProblemLineNestedTooDeeplyKeepsTheBlockOpen() {
        let (session, transcript) = replay(tinyProgram)
        for (i, line) in ["problem deep", "  module params 4", "  optimizer sgd lr=0.1", "  data train batch=60",
                          "  loss " + Self.repeated("sum(", 3000) + "params" + Self.repeated(")", 3000),
                          "  loss sum(params^2)", "end"].enumerated() {
            session.execute(line, file: "deep.betty", line: i + 1)
        }
        #expect(transcript.errors.map(\.message) == [Self.limitMessage])
        #expect(session.problemNames.contains("deep"))
    }

    /// One level less than each refused case is fine: the limit counts levels of the tree exactly.
    @Test func anExpressionAtTheLimitIsAccepted() {
        let atLimit = [
            ("print " + Self.repeated("(", 127) + "1" + Self.repeated(")", 127), "1"),
            ("print " + Array(repeating: "1", count: 128).joined(separator: "+"), "128"),
            ("print " + Self.repeated("-", 127) + "1", "-1"),
        ]
        for (line, value) in atLimit {
            let (session, transcript) = replay("")
            session.execute(line)
            #expect(transcript.errors.isEmpty && transcript.text == value, "\(line.prefix(30)): \(transcript.errors.map(\.message))")
            session.execute(line.replacingOccurrences(of: "print ", with: "print -"))
            #expect(transcript.errors.map(\.message) == [Self.limitMessage], "\(line.prefix(30)) one level deeper")
        }
    }

    /// Megabyte lines are read in one pass: each gives its one error (or value) in well under the time a
    /// quadratic step would take on them (hours), and a comment of any length is skipped.
    @Test func megabyteLinesTakeLinearTime() {
        let lines = [
            ("print " + Array(repeating: "1", count: 500_000).joined(separator: "+"), Self.limitMessage),
            ("print " + Self.repeated("(", 1_000_000), Self.limitMessage),
            ("print " + Self.repeated("-", 1_000_000) + "1", Self.limitMessage),
            ("print max(" + Array(repeating: "1", count: 300_000).joined(separator: ",") + ")", "max takes 1 argument, got 300000; usage: max(x, axis=k)"),
            ("print \"" + Self.repeated("a", 1_000_000) + "\"", "a string is not a value here"),
            ("print 1 " + Self.repeated(" ", 1_000_000) + "# " + Self.repeated("x", 1_000_000), nil),
        ]
        for (line, message) in lines {
            let clock = ContinuousClock()
            var result: (errors: [ScriptError], answers: Bool) = ([], false)
            let elapsed = clock.measure { result = run(line) }
            #expect(result.errors.map(\.message) == (message.map { [$0] } ?? []), "\(line.prefix(30))")
            #expect(result.answers)
            #expect(elapsed < .seconds(60), "\(line.prefix(30)) took \(elapsed)")
        }
    }

    /// The report of an error in a long line quotes the part around the caret, not the whole line.
    @Test func anErrorInALongLineQuotesAnExcerpt() {
        let (errors, _) = run("print " + Self.repeated("(", 1000) + "1")
        let rendered = errors.first?.rendered.split(separator: "\n").map(String.init) ?? []
        #expect(rendered.count == 3)
        #expect(rendered.dropFirst().allSatisfy { $0.count <= 4 + 3 + 120 + 3 }, "\(rendered.map(\.count))")
        // The caret stands under the 128th bracket, whose column in the excerpt follows the leading "...".
        #expect(rendered.count == 3 && rendered[1].hasPrefix("    ...(") && rendered[2] == String(repeating: " ", count: 4 + 3 + 40) + "^")
    }

    /// Compiling and evaluating recurse over the tree (freeing it too). At the limit, the deepest shapes
    /// measured (a call around arithmetic on a `let` value, each pair two levels; the same in a loss
    /// around a matrix product, trained for two steps) run on a thread with a 512 KB stack, the size an
    /// engine thread would get. An overflow here crashes the test process.
    @Test func atTheLimitEverythingFitsA512KilobyteStack() {
        // `sum(abs(a + abs(a + ... abs(a + v))))`: 2n + 2 levels for n repetitions.
        let value = "sum(" + Self.repeated("abs(a + ", 63) + "v" + Self.repeated(")", 63) + ")"
        // `mse(sigmoid(a + ... x @ params), y) * 1`: 2n + 4 levels.
        let loss = "mse(" + Self.repeated("sigmoid(a + ", 62) + "x @ params" + Self.repeated(")", 62) + ", y) * 1"
        let lines = tinyProgram.split(separator: "\n").map(String.init) + [
            "let a = 0.5", "let v = valid.x", "print -\(value)", "print \(value)",
            "print " + Array(repeating: "a", count: 128).joined(separator: "+"),
            "problem deep", "  module params 4", "  optimizer sgd lr=0.1", "  data train batch=60",
            "  loss \(loss) * 1", "  loss \(loss)", "end", "step 2", "expect deep.loss > 0",
        ]
        let result = Mutex<(errors: [String], text: String)>(([], ""))
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            let (_, transcript) = replay(lines.joined(separator: "\n"), file: "deep.betty")
            result.withLock { $0 = (transcript.errors.map(\.message), transcript.text) }
            finished.signal()
        }
        thread.stackSize = 512 * 1024
        thread.start()
        finished.wait()
        let (errors, text) = result.withLock { $0 }
        // The two deliberately one level too deep lines are refused; everything at the limit runs.
        #expect(errors == [Self.limitMessage, Self.limitMessage])
        let printed = text.split(separator: "\n")
        #expect(printed.contains("64"), "\(text)")
        #expect(printed.last?.hasPrefix("ok: deep.loss = ") == true, "\(text)")
    }
}
