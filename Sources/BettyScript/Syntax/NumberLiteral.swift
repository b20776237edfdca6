/// A number as typed: its Float value for arithmetic, and its text, so that a count or a seed is
/// read as the exact integer written (`16777217` is not a Float, and `1e14` is not 100000000376832).
struct NumberLiteral: Sendable {
    var text: String
    var value: Float

    init?(_ text: String) {
        guard let value = Float(text) else { return nil }
        self.text = text
        self.value = value
    }

    /// The exact integer the text denotes (`123`, `1e9`, `2.5e3`, `4.0`), `.fractional` when it
    /// denotes a number with a fractional part, `.tooLarge` past `Int`.
    var integer: ExactInteger {
        var mantissa = Substring(text)
        var exponent = 0
        if let e = mantissa.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let x = Int(mantissa[mantissa.index(after: e)...]) else { return .tooLarge }
            exponent = x
            mantissa = mantissa[..<e]
        }
        var digits = Array(mantissa.filter(\.isNumber))
        if let dot = mantissa.firstIndex(of: ".") { exponent -= mantissa.distance(from: dot, to: mantissa.endIndex) - 1 }
        while digits.count > 1, digits.first == "0" { digits.removeFirst() }
        // Negative exponents drop digits, which must all be zeros.
        while exponent < 0 {
            guard let last = digits.last else { break }
            guard last == "0" else { return .fractional }
            digits.removeLast()
            exponent += 1
        }
        if digits.isEmpty || digits.allSatisfy({ $0 == "0" }) { return .integer(0) }
        var result = 0
        for d in digits {
            let (times, o1) = result.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(String(d))!)
            if o1 || o2 { return .tooLarge }
            result = sum
        }
        for _ in 0..<max(0, exponent) {
            let (times, overflow) = result.multipliedReportingOverflow(by: 10)
            if overflow { return .tooLarge }
            result = times
        }
        return .integer(result)
    }
}

/// What a constant is as an integer.
enum ExactInteger: Sendable, Equatable {
    case integer(Int)
    case fractional
    case tooLarge
}
