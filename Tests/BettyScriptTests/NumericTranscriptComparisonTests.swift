import Testing

// The golden comparison forgives exactly float rounding: these pin what it forgives and what it must not.
@Suite struct NumericTranscriptComparisonTests {
    let compare = NumericTranscriptComparison()

    @Test func lastDigitDifferencesMatch() {
        #expect(compare.mismatch(expected: "last loss: inner 0.6211263, outer 0.5999728",
                                 actual: "last loss: inner 0.62112635, outer 0.5999728") == nil)
        #expect(compare.mismatch(expected: #"{"metrics":{"wnorm":0.03962671756744385}}"#,
                                 actual: #"{"metrics":{"wnorm":0.039626725018024445}}"#) == nil)
        #expect(compare.mismatch(expected: "norm 1e-09", actual: "norm -2e-09") == nil, "both are zero to rounding")
    }

    @Test func aShortPrintMayMoveOneUnitInItsLastDigit() {
        #expect(compare.mismatch(expected: "loss: 0.6211", actual: "loss: 0.6212") == nil)
        #expect(compare.mismatch(expected: "norm: 0.05392", actual: "norm: 0.05391") == nil)
        #expect(compare.mismatch(expected: "x 1.235e+04", actual: "x 1.236e+04") == nil)
        #expect(compare.mismatch(expected: "loss: 0.6211", actual: "loss: 0.6213") != nil, "two units is a real change")
        #expect(compare.mismatch(expected: "ran 40 steps", actual: "ran 41 steps") != nil, "integers have no last-digit slack")
        #expect(NumericTranscriptComparison.lastDigitUnit(of: "0.6211") == 1e-4)
        #expect(NumericTranscriptComparison.lastDigitUnit(of: "1.235e+04") == 10)
        #expect(NumericTranscriptComparison.lastDigitUnit(of: "40") == 0)
    }

    @Test func realDifferencesDoNot() throws {
        let why = try #require(compare.mismatch(expected: "loss 0.6211263", actual: "loss 0.6212263"))
        #expect(why.contains("0.6212263") && why.contains("0.6211263") && why.contains("relative 1e-05"), "\(why)")
        #expect(compare.mismatch(expected: "ran 40 steps", actual: "ran 41 steps") != nil)
        #expect(compare.mismatch(expected: "loss nan", actual: "loss 0.5") != nil)
        #expect(compare.mismatch(expected: "loss inf", actual: "loss -inf") != nil)
        #expect(compare.mismatch(expected: "loss nan", actual: "loss nan") == nil)
    }

    @Test func textMustMatchExactly() throws {
        let why = try #require(compare.mismatch(expected: "inner 0.5, outer 0.25", actual: "inner 0.5; outer 0.25"))
        #expect(why.hasPrefix("the text differs"))
        #expect(compare.mismatch(expected: "values 1 2", actual: "values 1 2 3") != nil, "a number more")
        #expect(compare.mismatch(expected: "data mnist5k", actual: "data mnist6k") != nil, "digits inside a word are text")
        #expect(compare.mismatch(expected: "error at 3:17", actual: "error at 3:18") != nil)
    }

    @Test func numbersAreFoundAsPrinted() {
        let t = NumericTranscriptComparison.tokens("x=-1.5e-3, y=2. z=.5 mnist5k w_2 nano 7")
        #expect(t.numbers == [-1.5e-3, 2, 0.5, 7])
        #expect(t.text == ["x=", ", y=", ". z=", " mnist5k w_2 nano ", ""])
    }

    @Test func wholeTranscriptsReportEveryLineAndTheCount() {
        let found = compare.differences(expected: ["a 1", "b 2", "c"], actual: ["a 1", "b 3"])
        #expect(found.count == 2)
        #expect(found.first?.hasPrefix("line 2:") == true)
        #expect(found.last == "expected 3 lines, got 2")
    }
}
