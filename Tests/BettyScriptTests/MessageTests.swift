import Betty
import BettyScript
import Foundation
import Testing

/// Issue 22, "Every statement does exactly what it says, or says why not": messages that said
/// something untrue or unhelpful about what was wrong.
@Suite struct MessageTests {
    /// The errors of `setup` then `line` (typed as line 99 of t.betty); `setup` must give none.
    private func errors(after setup: String = tinyProgram, _ line: String,
                        sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [ScriptError] {
        let (session, transcript) = replay(setup)
        #expect(transcript.errors.isEmpty, "setup: \(transcript.errors.map(\.rendered))", sourceLocation: sourceLocation)
        let before = transcript.errors.count
        session.execute(line, file: "t.betty", line: 99)
        return Array(transcript.errors.dropFirst(before))
    }

    // MARK: - validation and check are not values

    @Test func aBareValidationSaysWhatItIsAndHowToReadIt() {
        let e = errors("print validation")
        #expect(e.map(\.message) == ["'validation' is not a value: it holds the latest validation's metrics, read one as validation.NAME; no validation has run yet; define one with 'validate every N: name = expression' and run, or type 'validate'"])
        #expect(e.first?.location?.column == 7 && e.first?.location?.length == 10)
        // Once a validation has run, its metrics.
        let after = errors(after: tinyProgram + "\nvalidate every 5: a = sum(inner.params), b = 2\nvalidate", "let v = 2 * validation")
        #expect(after.map(\.message) == ["'validation' is not a value: it holds the latest validation's metrics, read one as validation.NAME; have validation.a, validation.b"])
        #expect(after.first?.location?.column == 13)
        // check, the other name read only through its members.
        #expect(errors("print check").map(\.message) == ["'check' is not a value: it holds the latest 'check hypergrad', read one as check.METHOD.FIELD (FIELD one of rel_error, cosine, norm, time); no check has run yet"])
    }
}

extension MessageTests {
    // MARK: - Labels

    @Test func aLabelThatIsNotAClassSaysWhatIsWrongWithItAndTheClassCount() {
        let setup = tinyProgram + """

            let logits = reshape(valid.x, 60, 4)
            let neg = valid.y - 1
            let half = valid.y + 0.5
            let nan = valid.y * (0/0)
            """
        let cases = [
            ("print cross_entropy(logits, neg)", "crossEntropy: label -1 at position 2 is negative; the 4 classes are 0 to 3"),
            ("print cross_entropy(logits, half)", "crossEntropy: label 1.5 at position 0 is not a whole number; the 4 classes are 0 to 3"),
            ("print cross_entropy(logits, nan)", "crossEntropy: label at position 0 is NaN; the 4 classes are 0 to 3"),
            ("print cross_entropy(logits, valid.y + 7)", "crossEntropy: label 8 at position 0 is too large; the 4 classes are 0 to 3"),
            ("print accuracy(logits, neg)", "accuracy: label -1 at position 2 is negative; the 4 classes are 0 to 3"),
            ("print accuracy(logits, nan)", "accuracy: label at position 0 is NaN; the 4 classes are 0 to 3"),
        ]
        for (line, message) in cases {
            let e = errors(after: setup, line)
            #expect(e.map(\.message) == [message], "\(line)")
            #expect(e.first?.location?.column == 7, "\(line)")
        }
    }

    @Test func aDataSetWhoseLabelsAreNotClassesSaysWhatIsWrong() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let range = "class labels are whole numbers from 0 to 16777216"
        for (label, fault) in [("-1", "label -1 at sample 1 is negative"), ("1.5", "label 1.5 at sample 1 is not a whole number"),
                               ("nan", "label at sample 1 is NaN"), ("1e30", "label 1e+30 at sample 1 is too large")] {
            try "1,2,0\n3,4,\(label)\n".write(toFile: path, atomically: true, encoding: .utf8)
            let setup = "data d = csv \"\(path)\" header=no"
            for line in ["noise d ratio=0.5", "imbalance d", "split d -> a 1, b 1 per_class"] {
                let e = errors(after: setup, line)
                #expect(e.map(\.message) == ["\(fault); \(range)"], "\(label): \(line)")
            }
        }
    }
}

extension MessageTests {
    // MARK: - Early stopping

    @Test func anEarlyStoppingMetricTheValidationNoLongerHasIsAboutTheSettingNotAProblem() {
        let (session, transcript) = replay(tinyProgram + """

            validate every 2: acc = accuracy(reshape(valid.x, 60, 4), valid.y)
            engine early_stopping=acc
            validate every 2: loss = inner.loss, norm = norm(outer.params)
            run 5
            """)
        let lines = tinyProgram.split(separator: "\n", omittingEmptySubsequences: false).count
        #expect(transcript.errors.map(\.message) == ["early stopping watches 'acc', but the validation computes only loss, norm, so the run stopped; global step 2 was undone, so the state is as after step 1; watch one of them (engine early_stopping=NAME), turn it off (engine early_stopping=off), or define acc in the validation again (validate every N: acc = EXPR)"])
        #expect(transcript.errors.first?.location?.line == lines + 4 && transcript.errors.first?.location?.column == 1)
        #expect(session.problemNames == ["inner", "outer"])
        // The engine's own text names the setting and the metrics, not a problem.
        #expect("\(EngineError.earlyStoppingMetricMissing(metric: "acc", returned: ["loss"]))"
            == "early stopping watches the validation metric 'acc', but the validation returned only loss; set early stopping to one of its metrics or off, or have the validation return 'acc'")
    }
}

extension MessageTests {
    // MARK: - clamp

    @Test func clampInAnExpressionRefusesMinAboveMaxAsTheProblemLineDoes() {
        let e = errors("print clamp(valid.x, min=2, max=1)")
        #expect(e.map(\.message) == ["clamp: min must not exceed max, got min=2 max=1"])
        #expect(e.first?.location?.column == 7 && e.first?.location?.length == 28, "\(String(describing: e.first?.location))")
        #expect(errors("let c = 1 + sum(clamp(valid.x, max=-1, min=0))").first?.location?.column == 17)
        // The problem line's wording, the same.
        let (_, transcript) = replay("""
            data d = logistic samples=50 features=3
            problem p
              module params 3
              optimizer sgd lr=0.1
              data d batch=10
              loss bce_logits(x @ params, y)
              clamp min=2 max=1
            end
            """)
        #expect(transcript.errors.map(\.message) == ["clamp: min must not exceed max, got min=2 max=1"])
        // Equal bounds are a clamp to one value.
        #expect(errors("print sum(clamp(valid.x, min=1, max=1))").isEmpty)
    }
}

extension MessageTests {
    // MARK: - Forward references with short names

    @Test func aShortNameReadBeforeItsProblemIsDefinedIsAForwardReference() {
        let (session, transcript) = replay("""
            data d = logistic samples=50 features=3
            problem p
              module params 3
              optimizer sgd lr=0.1
              data d batch=10
              loss bce_logits(x @ params, y) + 0.1 * sum(w.params * params^2)
            end
            problem w
              module params 3 init=ones
              optimizer sgd lr=0.1
              data d batch=10
              loss bce_logits(x @ p.params, y) + 0 * sum(q(x))
            end
            problem q
              module linear 3 -> 1
              optimizer sgd lr=0.1
              data d batch=10
              loss mean(q(x)^2)
            end
            connect w -> p
            run 3
            """)
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        #expect(session.problemNames == ["p", "w", "q"])
        #expect(transcript.text.contains("ran 3 steps"))
        // A call of a short name defined later, with a problem one letter away.
        let (calls, called) = replay("""
            data d = logistic samples=50 features=3
            problem p
              module params 3
              optimizer sgd lr=0.1
              data d batch=10
              loss bce_logits(x @ params, y)
            end
            problem r
              module params 3
              optimizer sgd lr=0.1
              data d batch=10
              loss bce_logits(x @ params, y) + 0 * sum(q(x))
            end
            problem q
              module linear 3 -> 1
              optimizer sgd lr=0.1
              data d batch=10
              loss mean(q(x)^2)
            end
            run 2
            """)
        #expect(called.errors.isEmpty, "\(called.errors.map(\.rendered))")
        #expect(calls.problemNames == ["p", "r", "q"])
    }

    @Test func aLikelyTypoBeforeAMemberIsStillRefused() {
        // A data set or problem name of three or more characters, one edit away.
        let e = errors("print bce_logits(valid.x @ iner.params, vallid.y)")
        #expect(e.map(\.message) == ["unknown name 'iner' (did you mean 'inner'?)"])
        #expect(e.first?.location?.column == 28 && e.first?.location?.length == 4)
        let d = errors("print mean(vallid.x)")
        #expect(d.map(\.message) == ["unknown name 'vallid' (did you mean 'valid'?)"])
        #expect(d.first?.location?.column == 12)
        #expect(errors("print validaton.acc").map(\.message) == ["unknown name 'validaton' (did you mean 'validation'?)"])
        // A short name at the top level, where everything must exist already, is unknown.
        let w = errors("print w.params")
        #expect(w.map(\.message) == ["unknown name 'w': no problem, data set or value is called that"])
        #expect(w.first?.location?.column == 7 && w.first?.location?.length == 1)
    }
}

extension MessageTests {
    // MARK: - Already clear: the limit of run, and data files that are not text

    @Test func runPastItsLimitNamesTheLimit() {
        let e = errors("run 1e9")
        #expect(e.map(\.message) == ["run takes a whole number of steps from 1 to 999999999, got 1000000000; for a longer run set engine train_iters=N and type run without a count"])
        #expect(e.first?.location?.column == 5)
    }

    @Test func aCSVPathThatIsNotARegularFileSaysWhatItIs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("betty-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let empty = directory + "/empty.csv"
        try Data().write(to: URL(fileURLWithPath: empty))
        for (path, what) in [("/dev/null", "is not a regular file"), (directory, "is a directory, not a data file"), (empty, "is empty")] {
            let e = errors(after: "seed 1", "data d = csv \"\(path)\"")
            #expect(e.map(\.message) == ["\(path): \(what)"])
            #expect(e.first?.location?.column == 14)
        }
    }
}
