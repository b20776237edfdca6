import Testing

/// `|actual - expected| <= tol` elementwise (and equal counts), recording one issue that names the
/// first offender, so a wrong vector fails with one readable line instead of hundreds.
public func expectClose(_ actual: [Float], _ expected: [Double], tol: Double, _ what: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    for (i, (a, e)) in zip(actual, expected).enumerated() where !(Swift.abs(Double(a) - e) <= tol) {
        Issue.record("\(what)[\(i)] = \(a), expected \(e) (tolerance \(tol))", sourceLocation: sourceLocation)
        return
    }
}
