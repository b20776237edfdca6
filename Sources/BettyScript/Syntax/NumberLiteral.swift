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
        var exponentText: Substring = "0"
        if let e = mantissa.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponentText = mantissa[mantissa.index(after: e)...]
            mantissa = mantissa[..<e]
        }
        // Leading zeros dropped in one pass; zero is zero whatever its exponent.
        let fractionDigits = mantissa.firstIndex(of: ".").map { mantissa.distance(from: $0, to: mantissa.endIndex) - 1 } ?? 0
        var digits = Array(mantissa.filter(\.isNumber).drop { $0 == "0" })
        if digits.isEmpty { return .integer(0) }
        // An exponent past Int is past any integer (or below any nonzero one).
        guard let written = Int(exponentText) else { return exponentText.hasPrefix("-") ? .fractional : .tooLarge }
        let (shifted, overflow) = written.subtractingReportingOverflow(fractionDigits)
        if overflow { return .fractional }
        var exponent = shifted
        // Negative exponents drop digits, which must all be zeros.
        while exponent < 0 {
            guard let last = digits.last else { return .integer(0) }
            guard last == "0" else { return .fractional }
            digits.removeLast()
            exponent += 1
        }
        if digits.isEmpty { return .integer(0) }
        var result = 0
        for d in digits {
            let (times, o1) = result.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(d.asciiValue! - UInt8(ascii: "0")))
            if o1 || o2 { return .tooLarge }
            result = sum
        }
        // More than 19 factors of ten overflow whatever the digits.
        if exponent > 19 { return .tooLarge }
        for _ in 0..<exponent {
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
