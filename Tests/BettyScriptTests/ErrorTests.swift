import BettyScript
import Testing

// Bad input: one error with file, line, column and a caret under the offending text; the session
// keeps its state and goes on.
@Suite struct ErrorTests {
    /// Runs `tinyProgram` then `line`; returns the single error it must produce.
    private func error(after setup: String = tinyProgram, _ line: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> ScriptError? {
        let (session, transcript) = replay(setup)
        #expect(transcript.errors.isEmpty, "setup: \(transcript.errors.map(\.rendered))", sourceLocation: sourceLocation)
        let problemsBefore = session.problemNames
        session.execute(line, file: "t.betty", line: 99)
        #expect(transcript.errors.count == 1, "\(line) gave \(transcript.errors.count) errors", sourceLocation: sourceLocation)
        #expect(session.problemNames == problemsBefore, sourceLocation: sourceLocation)
        // The session still answers.
        session.execute("show", file: "t.betty", line: 100)
        #expect(transcript.errors.count == 1, sourceLocation: sourceLocation)
        return transcript.errors.first
    }

    /// The caret line of a rendered error: spaces then ^~~.
    private func caret(_ e: ScriptError?) -> (column: Int, width: Int)? {
        guard let lines = e?.rendered.split(separator: "\n"), lines.count == 3 else { return nil }
        let line = lines[2].dropFirst(4)
        guard let start = line.firstIndex(of: "^") else { return nil }
        return (line.distance(from: line.startIndex, to: start) + 1, line[start...].count)
    }

    @Test func unknownCommandSuggestsTheClosest() {
        let e = error("conect outer -> inner")
        #expect(e?.message.contains("did you mean 'connect'") == true, "\(String(describing: e))")
        #expect(e?.location?.line == 99 && e?.location?.column == 1)
        #expect(caret(e)! == (1, 6))
    }

    @Test func malformedNumbers() {
        for (line, column) in [("run 2.0.0", 5), ("run 3x", 5), ("seed 1e", 6), ("let a = 1..2", 9)] {
            let e = error(line)
            #expect(e?.message.hasPrefix("malformed number") == true || e?.message.contains("number") == true, "\(line): \(String(describing: e))")
            #expect(e?.location?.column == column, "\(line): \(String(describing: e?.location))")
        }
    }

    @Test func unknownNamesInAnExpressionPointAtTheName() {
        let e = error("print mean(valid.x @ inner.parms)")
        #expect(e?.message.contains("did you mean 'params'") == true, "\(String(describing: e))")
        #expect(caret(e)?.column == 22)
        let f = error("print bce_logits(valid.x @ inner.params, vallid.y)")
        #expect(f?.message.contains("did you mean 'valid'") == true, "\(String(describing: f))")
    }

    @Test func connectingAProblemToItselfOrMakingACycle() {
        let e = error("connect inner -> inner")
        #expect(e?.message.contains("its own upper level") == true)
        let c = error("connect inner -> outer")
        #expect(c?.message.contains("cycle") == true, "\(String(describing: c))")
        #expect(c?.location?.column == 9)
        let u = error("connect outer -> iner")
        #expect(u?.message.contains("did you mean 'inner'") == true)
        #expect(caret(u)! == (18, 4))
    }

    @Test func runningWithNothingDefined() {
        let e = error(after: "seed 1", "run 10")
        #expect(e?.message.contains("nothing to run") == true)
    }

    @Test func missingFiles() {
        let e = error(#"data d = npy "/no/such/x.npy" "/no/such/y.npy""#)
        #expect(e?.message.contains("no such file") == true, "\(String(describing: e))")
        let s = error("load /no/such/checkpoint.safetensors")
        #expect(s != nil)
    }

    @Test func unknownOptionAndBadValues() {
        let e = error("config inner unrol=3")
        #expect(e?.message.contains("did you mean 'unroll'") == true, "\(String(describing: e))")
        #expect(caret(e)! == (14, 5))
        let t = error("config inner type=dart")
        #expect(t?.message.contains("did you mean 'darts'") == true)
        let n = error("config inner unroll=0")
        #expect(n?.message == "unroll must be an integer 1 to 999999999, got 0")
        let p = error("config inner precision=fp16")
        #expect(p?.message.contains("not supported yet") == true, "\(String(describing: p))")
    }

    @Test func aNameCannotBeReservedOrAlreadyNameAnotherKind() {
        #expect(error("let inner = 3")?.message == "'inner' already names a problem")
        #expect(error("data mean = digits")?.message == "'mean' is a reserved word; choose another name")
        #expect(error("problem valid")?.message == "'valid' already names a data set")
        #expect(error(after: tinyProgram + "\nlet k = 2", "split all -> k 0.5")?.message == "'k' already names a value")
        #expect(error("let x = 1")?.location?.column == 5)
    }

    @Test func unclosedParenthesis() {
        let e = error("print mean(valid.x")
        #expect(e?.message.contains("never closed") == true, "\(String(describing: e))")
    }

    @Test func aShapeMismatchIsReportedWhenTheProblemIsDefinedNamingIt() {
        let (session, transcript) = replay(tinyProgram + """

            problem wrong
              module    params 3 init=zeros
              optimizer sgd lr=0.1
              data      train batch=10
              loss      mean(x @ params)
            end
            """)
        #expect(transcript.errors.count == 1)
        let e = transcript.errors.first
        #expect(e?.message.contains("problem 'wrong'") == true && e?.message.contains("matmul") == true, "\(String(describing: e))")
        #expect(e?.location?.line == 24 && caret(e)?.column == 18, "\(String(describing: e?.rendered))")
        #expect(!session.problemNames.contains("wrong"))
    }

    @Test func aNaNLossStopsTheRunWithOneLine() {
        let (session, transcript) = replay(tinyProgram + """

            problem blowup
              module    params 4 init=ones
              optimizer sgd lr=0.1
              data      train batch=60
              loss      sum(log(params - 2))
            end
            run 3
            """)
        #expect(transcript.errors.count == 1)
        #expect(transcript.errors.first?.message.contains("blowup") == true, "\(transcript.errors.map(\.rendered))")
        session.execute("show", file: "t", line: 1)
        #expect(transcript.errors.count == 1)
        // How to get back to finite parameters, in the session's own commands.
        #expect(transcript.errors.first?.message == "problem 'blowup': loss is nan at local step 1, so the run stopped; global step 1 was undone, so the state is as before this command (global step 0); lower the learning rate or check the data, then type 'reset' to start again from the initial parameters, or 'load \"FILE\"' to go back to a saved checkpoint")
        session.execute("reset", file: "t", line: 2)
        session.execute("print blowup.params", file: "t", line: 3)
        #expect(transcript.errors.count == 1 && transcript.text.hasSuffix("[1.0, 1.0, 1.0, 1.0], requiresGrad)"), "\(transcript.text.suffix(80))")
    }

    @Test func aCallToAnUnknownNameSaysUnknownFunction() {
        #expect(error("print frobnicate(1)")?.message == "unknown function 'frobnicate'; 'help functions' lists them")
        #expect(error("let f = 2 * frobnicate(valid.x)")?.message == "unknown function 'frobnicate'; 'help functions' lists them")
        #expect(error("validate every 5: v = frobnicate(1)")?.location?.column == 23)
        #expect(error("print softmx(valid.x)")?.message == "unknown function or problem 'softmx' (did you mean 'softmax'?)")
        #expect(error("print frobnicate.params")?.message == "unknown name 'frobnicate': no problem, data set or value is called that")
    }

    @Test func anInvalidOptionValueListsTheValidOnes() {
        let cases = [
            ("config inner type=foo", "type must be one of darts, neumann, cg, sama, reverse, not 'foo'"),
            ("config inner type=1", "type must be one of darts, neumann, cg, sama, reverse, not 1"),
            ("config inner type=\"cg\"", "type must be one of darts, neumann, cg, sama, reverse, not \"cg\" (a word, without quotes: type=cg)"),
            ("config inner first_order=maybe", "first_order must be true or false (or yes/no, on/off, 1/0), not 'maybe'"),
            ("config inner first_order=2", "first_order must be true or false (or yes/no, on/off, 1/0), not 2"),
            ("config inner unroll=many", "unroll must be an integer 1 to 999999999, not 'many'"),
            ("engine early_stopping=acc", "early_stopping must be off (no validation metric is defined yet: validate every N: NAME = EXPR), not 'acc'"),
            ("engine early_stopping_mode=up", "early_stopping_mode must be one of min, max, not 'up'"),
            ("print sum(valid.x, reduction=none)", "sum has no argument 'reduction'; it takes axis"),
            ("print exp(valid.x, axis=1)", "exp has no argument 'axis'; it takes no keyword arguments"),
            ("print mse(valid.x, valid.x, reduction=avg)", "reduction must be mean, sum or none, not 'avg'"),
            ("print mse(valid.x, valid.x, reduction=meen)", "reduction must be mean, sum or none, not 'meen' (did you mean 'mean'?)"),
            ("print huber(valid.x, valid.x, delta=big)", "delta must be a number, not 'big'"),
            ("print sum(valid.x, axis=1e30)", "axis must be an integer, not 1e+30"),
        ]
        for (line, message) in cases {
            #expect(error(line)?.message == message, "\(line)")
        }
        // A problem block's options are read at its `end`.
        let (_, transcript) = replay("""
            data d = logistic samples=50 features=3
            problem p
              module params 3
              optimizer sgd lr=0.1 nesterov=maybe
              data d batch=10
              loss bce_logits(x @ params, y)
            end
            """)
        #expect(transcript.errors.map(\.message) == ["nesterov must be true or false (or yes/no, on/off, 1/0), not 'maybe'"])
        #expect(transcript.errors.first?.location == SourceLocation(file: "test.betty", line: 4, column: 33, length: 5))
    }

    @Test func aStepCountPastItsLimitSaysWhichLimitAndWhatToDoInstead() {
        #expect(error("run 2e9")?.message == "run takes a whole number of steps from 1 to 999999999, got 2000000000; for a longer run set engine train_iters=N and type run without a count")
        #expect(error("step 2e6")?.message == "step takes a whole number of steps from 1 to 999999, got 2000000 (step logs every step); run N takes up to 999999999")
        #expect(error("run 1.5")?.message == "run takes a whole number of steps from 1 to 999999999, got 1.5")
        #expect(error("run 0")?.message == "run takes a whole number of steps from 1 to 999999999, got 0")
        #expect(error("validate every 0: v = inner.loss")?.message == "validate every takes a whole number of steps from 1 to 999999999, got 0")
        // The way around the limit works: a bare run takes train_iters.
        let (session, transcript) = replay(tinyProgram + "\nengine train_iters=3\nrun")
        #expect(transcript.errors.isEmpty && session.problemNames.count == 2)
        #expect(transcript.text.contains("ran 3 steps"), "\(transcript.text.suffix(120))")
    }

    @Test func lossMustBeAScalar() {
        let (_, transcript) = replay(tinyProgram + """

            problem vector
              module    params 4 init=ones
              optimizer sgd lr=0.1
              data      train batch=60
              loss      x @ params
            end
            """)
        #expect(transcript.errors.first?.message.contains("must be one number") == true, "\(transcript.errors.map(\.rendered))")
    }

    @Test func blockErrorsKeepTheBlockOpenForTheRest() {
        let (session, transcript) = replay("""
            data d = logistic samples=50 features=3
            problem p
              modul params 3
              module params 3
              optimizer sgd lr=0.1
              data d batch=10
              loss bce_logits(x @ params, y)
            end
            """)
        #expect(transcript.errors.count == 1)
        #expect(transcript.errors.first?.message.contains("did you mean 'module'") == true)
        #expect(session.problemNames == ["p"])
    }

    @Test func aLossNamingAProblemNeverDefinedFailsTheRunAtThatName() {
        let (session, transcript) = replay("""
            data d = logistic samples=50 features=3
            problem p
              module params 3
              optimizer sgd lr=0.1
              data d batch=10
              loss bce_logits(x @ params, y) + sum(qqq.params)
            end
            run 2
            """)
        #expect(transcript.errors.count == 1)
        let e = transcript.errors.first
        #expect(e?.message.contains("refers to 'qqq', which is not defined") == true, "\(String(describing: e))")
        #expect(e?.location?.line == 6 && e?.location?.column == 40, "\(String(describing: e?.location))")
        #expect(session.problemNames == ["p"])
    }

    @Test func aDeferredCheckRunsAgainstTheProblemDefinedLater() {
        let (_, transcript) = replay("""
            data d = logistic samples=50 features=3
            problem p
              module params 3
              optimizer sgd lr=0.1
              data d batch=10
              loss bce_logits(x @ params, y) + sum(params * prior.params)
            end
            problem prior
              module params 4
              optimizer sgd lr=0.1
              data d batch=10
              loss sum(prior.params^2)
            end
            run 1
            """)
        // prior's 4 parameters do not broadcast against p's 3: found before the run, in p's loss.
        #expect(transcript.errors.count == 1)
        let e = transcript.errors.first
        #expect(e?.message.contains("problem 'p'") == true, "\(String(describing: e))")
        #expect(e?.location?.line == 6, "\(String(describing: e?.location))")
        #expect(transcript.events.isEmpty, "no step may run")
    }

    @Test func aValidationFailingDuringARunPointsAtItsExpression() {
        let (session, transcript) = replay(tinyProgram + """

            validate every 2: v = mean(inner.params @ valid.x)
            run 4
            """)
        #expect(transcript.errors.count == 1)
        let e = transcript.errors.first
        #expect(e?.location?.line == 20 && e?.location?.column == 28, "\(String(describing: e?.rendered))")
        #expect(e?.message.contains("matmul") == true)
        session.execute("show", file: "t", line: 1)
        #expect(transcript.errors.count == 1)
    }
}
