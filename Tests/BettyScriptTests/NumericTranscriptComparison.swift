import Foundation

/// Compares a transcript with its golden file the way README promises results: text exactly, numbers
/// to float rounding. OpenBLAS picks kernels per CPU (Haswell, SkylakeX, Zen, Prescott, ...) and their
/// summation orders differ, so the last printed digits of a float differ between machines; everything
/// else (words, punctuation, the count and order of numbers) must not.
struct NumericTranscriptComparison {
    /// Two numbers match when |a - b| <= absolute + relative * max(|a|, |b|). The relative part is about
    /// 100 float32 ulps: a 40-step run reordered by another BLAS kernel drifts by a few ulps per step.
    /// The absolute part lets values that should be zero differ by rounding noise.
    var relative = 1e-5
    var absolute = 1e-7

    var toleranceDescription: String { "relative \(relative), absolute \(absolute)" }

    /// A line split into the text between numbers and the numbers themselves.
    struct Tokens: Equatable {
        var text: [Substring] = []
        var numbers: [Double] = []
        /// One unit in the last printed digit of each number (0.0001 for "0.6211", 10 for "1.235e+04"),
        /// 0 for an integer: a value printed to 4 digits moves a whole unit when rounding noise carries it
        /// across a rounding boundary, far more than the relative tolerance allows.
        var lastDigitUnits: [Double] = []
    }

    /// Numbers as they are printed: an optional sign, digits with an optional fraction, an optional
    /// exponent; plus nan and inf (signed) as Swift prints them. A digit glued to a letter or an
    /// underscore (`mnist5k`, `x_2`, `0x1F`) is part of a word, not a number.
    static func tokens(_ line: Substring) -> Tokens {
        var result = Tokens()
        let scalars = Array(line.unicodeScalars)
        var textStart = 0
        var i = 0
        func isWordScalar(_ s: Unicode.Scalar) -> Bool {
            s.properties.isAlphabetic || s == "_" || ("0"..."9").contains(s)
        }
        while i < scalars.count {
            let afterWord = i > 0 && isWordScalar(scalars[i - 1])
            if !afterWord, let (value, end) = number(in: scalars, at: i),
               end == scalars.count || !isWordScalar(scalars[end]) {
                result.text.append(Substring(String(String.UnicodeScalarView(scalars[textStart..<i]))))
                result.numbers.append(value)
                result.lastDigitUnits.append(lastDigitUnit(of: String(String.UnicodeScalarView(scalars[i..<end]))))
                i = end
                textStart = end
            } else {
                i += 1
            }
        }
        result.text.append(Substring(String(String.UnicodeScalarView(scalars[textStart...]))))
        return result
    }

    /// The number starting at `start`, and where it ends.
    private static func number(in s: [Unicode.Scalar], at start: Int) -> (Double, Int)? {
        var i = start
        if i < s.count, s[i] == "-" || s[i] == "+" { i += 1 }
        for word in ["nan", "inf"] {
            let w = Array(word.unicodeScalars)
            if i + w.count <= s.count, Array(s[i..<(i + w.count)]) == w {
                let text = String(String.UnicodeScalarView(s[start..<(i + w.count)]))
                return (word == "nan" ? .nan : (text.hasPrefix("-") ? -.infinity : .infinity), i + w.count)
            }
        }
        let digitsStart = i
        while i < s.count, ("0"..."9").contains(s[i]) { i += 1 }
        var digits = i - digitsStart
        if i < s.count, s[i] == "." {
            let fractionStart = i + 1
            var j = fractionStart
            while j < s.count, ("0"..."9").contains(s[j]) { j += 1 }
            // "3." is a number followed by a full stop only when no digit follows.
            if j > fractionStart { digits += j - fractionStart; i = j }
        }
        guard digits > 0 else { return nil }
        if i < s.count, s[i] == "e" || s[i] == "E" {
            var j = i + 1
            if j < s.count, s[j] == "-" || s[j] == "+" { j += 1 }
            let exponentStart = j
            while j < s.count, ("0"..."9").contains(s[j]) { j += 1 }
            if j > exponentStart { i = j }
        }
        guard let value = Double(String(String.UnicodeScalarView(s[start..<i]))) else { return nil }
        return (value, i)
    }

    /// 10^(exponent - digits after the point) for a number with a fraction or an exponent; 0 otherwise.
    static func lastDigitUnit(of text: String) -> Double {
        let lower = text.lowercased()
        guard lower.contains(".") || lower.contains("e"), !lower.contains("nan"), !lower.contains("inf") else { return 0 }
        let parts = lower.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
        let fractionDigits = parts[0].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).dropFirst().first?.count ?? 0
        return pow(10, Double(exponent - fractionDigits))
    }

    func numbersMatch(_ a: Double, _ b: Double, lastDigitUnit: Double = 0) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
        if a.isInfinite || b.isInfinite { return a == b }
        let allowed = max(absolute + relative * max(abs(a), abs(b)), lastDigitUnit * (1 + 1e-9))
        return abs(a - b) <= allowed
    }

    /// nil when the line matches; otherwise why not, naming both values and the tolerance.
    func mismatch(expected: Substring, actual: Substring) -> String? {
        if expected == actual { return nil }
        let e = Self.tokens(expected), a = Self.tokens(actual)
        guard e.text == a.text, e.numbers.count == a.numbers.count else {
            return "the text differs:\n  expected: \(expected)\n  actual:   \(actual)"
        }
        for k in e.numbers.indices {
            let x = e.numbers[k], y = a.numbers[k]
            let unit = max(e.lastDigitUnits[k], a.lastDigitUnits[k])
            guard !numbersMatch(x, y, lastDigitUnit: unit) else { continue }
            return "number \(k + 1) on the line is \(y), expected \(x) (tolerance \(toleranceDescription), "
                + "or one unit in the last printed digit):\n"
                + "  expected: \(expected)\n  actual:   \(actual)"
        }
        return nil
    }

    /// Every mismatching line of two transcripts (1-based), or a line-count difference.
    func differences(expected: [Substring], actual: [Substring]) -> [String] {
        var found: [String] = []
        for (i, (e, a)) in zip(expected, actual).enumerated() {
            if let why = mismatch(expected: e, actual: a) { found.append("line \(i + 1): \(why)") }
        }
        if expected.count != actual.count {
            found.append("expected \(expected.count) lines, got \(actual.count)")
        }
        return found
    }
}
