import Testing
@testable import BettyScript

/// The cases the option schema was made for: integers read exactly, and every option validated.
@Suite struct ExactOptionTests {
    private func printed(_ lines: String, _ expression: String) -> String {
        let (_, t) = replay(lines + "\nprint \(expression)")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        return t.text.components(separatedBy: "\n").last ?? ""
    }

    @Test func seedsThatAFloatWouldConfuseGiveDifferentData() {
        let a = printed("data d = logistic samples=5 features=2 seed=123456789", "sum(d.x)")
        let b = printed("data d = logistic samples=5 features=2 seed=123456790", "sum(d.x)")
        #expect(a != b)
        let c = printed("seed 16777216\ndata d = logistic samples=5 features=2", "sum(d.x)")
        let d = printed("seed 16777217\ndata d = logistic samples=5 features=2", "sum(d.x)")
        #expect(c != d)
    }

    @Test func integersAreShownAsTyped() {
        let (session, t) = replay(tinyProgram + "\nengine train_iters=16777217 log_every=123456789\nconfig inner neumann_iterations=1e9")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        session.execute("show engine", file: "t", line: 1)
        #expect(t.text.contains("train_iters=16777217 "), "\(t.text)")
        #expect(t.text.contains("log_every=123456789 "))
        session.execute("show config inner", file: "t", line: 2)
        #expect(t.text.contains("neumann_iterations=1000000000 "))
        // Past its range an integer is named as typed, exactly (not 100000000376832).
        let (_, bt) = replay(tinyProgram.replacingOccurrences(of: "train batch=60", with: "train batch=1e14"))
        #expect(bt.errors.first?.message == "batch must be an integer 1 to 2147483647, got 100000000000000", "\(bt.errors.map(\.rendered))")
    }

    @Test(arguments: [
        ("schedule step gamma=-1", "gamma must be >= 0, got -1"),
        ("schedule cosine min=-1", "min must be >= 0, got -1"),
        ("schedule constant warmup=5 warmup_start=-0.5", "warmup_start must be in (0, 1], got -0.5"),
        ("schedule multistep milestones=(-5, 2.7)", "milestones must be an integer 0 to 999999999, got -5"),
        ("schedule multistep milestones=(5, 2.7)", "milestones must be an integer 0 to 999999999, got 2.7"),
        ("schedule constant warmup_start=0.5", "warmup_start does nothing here without warmup=N"),
        ("optimizer sgd lr=0.1 dampening=2", "dampening must be in [0, 1], got 2"),
    ])
    func aScheduleOrOptimizerOptionOutOfRangeIsRefused(line: String, message: String) {
        let program = """
            data d = logistic samples=20 features=2
            problem p
              module params 2
              \(line.hasPrefix("optimizer") ? line : "optimizer sgd lr=0.1")
              \(line.hasPrefix("schedule") ? line : "")
              data d batch=10
              loss bce_logits(x @ params, y)
            end
            """
        let (session, t) = replay(program)
        #expect(t.errors.map(\.message) == [message])
        #expect(session.problemNames.isEmpty)
    }

    @Test func aZeroOrNegativeNeumannAlphaIsRefused() {
        for alpha in ["0", "-1"] {
            let (_, t) = replay(tinyProgram + "\nconfig inner type=neumann neumann_alpha=\(alpha)")
            #expect(t.errors.map(\.message) == ["neumann_alpha must be > 0, got \(alpha)"])
        }
    }

    @Test func aRunCountIsExact() {
        let (_, t) = replay(tinyProgram + "\nrun 1000000000")
        #expect(t.errors.map(\.message) == ["run takes a whole number of steps from 1 to 999999999, got 1000000000; for a longer run set engine train_iters=N and type run without a count"])
    }

    @Test func exactIntegersFromLiteralsAndConstantArithmetic() {
        func integer(_ text: String) -> ExpressionCompiler.IntegerConstant {
            let tokens = try! Lexer.tokens(of: "print \(text)", file: "t", lineNumber: 1)
            guard case let .print(e)? = try! Parser.statement(tokens, inBlock: false, endOfLine: SourceLocation(file: "t", line: 1, column: 99)) else {
                preconditionFailure()
            }
            return ExpressionCompiler.constantInteger(e)
        }
        #expect(integer("16777217") == .integer(16_777_217))
        #expect(integer("1e14") == .integer(100_000_000_000_000))
        #expect(integer("2.5e3") == .integer(2500))
        #expect(integer("4.0") == .integer(4))
        #expect(integer("-3") == .integer(-3))
        #expect(integer("2^62") == .integer(1 << 62))
        #expect(integer("2^63") == .tooLarge)
        #expect(integer("9223372036854775807") == .integer(Int.max))
        #expect(integer("9223372036854775808") == .tooLarge)
        #expect(integer("1e30") == .tooLarge)
        #expect(integer("7/2") == .fractional(3.5))
        #expect(integer("8/2") == .integer(4))
        #expect(integer("1.5") == .fractional(1.5))
        #expect(integer("0.1e1") == .integer(1))
        #expect(integer("x") == .notConstant)
        // Found in review: each once crashed or read a wrong number.
        #expect(integer("0.1e-9223372036854775808") == .fractional(0))
        #expect(integer("1e9223372036854775807") == .tooLarge)
        #expect(integer("0e99999999999999999999") == .integer(0))
        #expect(integer("(-9223372036854775807-1)/(-1)") == .tooLarge)
        #expect(integer("(0.8*1000)") == .integer(800))
        #expect(integer("3*(7/2)*2") == .integer(21))
        #expect(integer(String(repeating: "0", count: 10_000) + "1") == .integer(1))
    }

    @Test func aCountReachedThroughAFractionIsExactAndHexIsRefused() {
        let (session, t) = replay("data d = logistic samples=2000 features=2\nsplit d -> a (0.8*1000), b 200")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        session.execute("print a.count", file: "t", line: 3)
        #expect(t.text.hasSuffix("\n800"))
        session.execute("data e = logistic samples=0x10", file: "t", line: 4)
        #expect(t.errors.map(\.message) == ["malformed number '0x10'; numbers are decimal"])
    }
}
