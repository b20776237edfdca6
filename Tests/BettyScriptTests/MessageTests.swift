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
