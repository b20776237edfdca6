import Foundation

/// Whole numbers known before running: counts, sizes, seeds and steps are read here, exactly, and
/// never through Float (where 16777217 is 16777216).
extension ExpressionCompiler {
    enum IntegerConstant: Equatable {
        case integer(Int)
        /// A constant with a fractional part (or NaN, or infinite), with its value for the message.
        case fractional(Double)
        case tooLarge
        case notConstant
    }

    /// `e` as an exact integer: literals, unary minus, and + - * ^ / between integers (a division
    /// only when it leaves no remainder), each checked for overflow.
    static func constantInteger(_ e: Expr) -> IntegerConstant {
        switch e {
        case let .number(literal, _):
            switch literal.integer {
            case let .integer(n): return .integer(n)
            case .fractional: return .fractional(Double(literal.text) ?? Double(literal.value))
            case .tooLarge: return .tooLarge
            }
        case let .unary(op, operand, _):
            guard op == "-", case let .integer(n) = constantInteger(operand) else {
                return op == "-" ? negated(constantInteger(operand)) : constantInteger(operand)
            }
            return n == .min ? .tooLarge : .integer(-n)
        case let .binary(op, a, b, _):
            guard case let .integer(x) = constantInteger(a), case let .integer(y) = constantInteger(b) else { break }
            return fold(op, x, y) ?? fallback(e)
        default: return .notConstant
        }
        return fallback(e)
    }

    private static func negated(_ c: IntegerConstant) -> IntegerConstant {
        if case let .fractional(x) = c { return .fractional(-x) }
        return c
    }

    /// A constant that integer arithmetic could not fold (a fraction along the way, `0.8 * 1000`):
    /// evaluated in Double, an integer when it lands on one exactly and Double holds every integer
    /// up to it (2^53), otherwise fractional or too large.
    private static func fallback(_ e: Expr) -> IntegerConstant {
        guard let x = constantDouble(e) else { return .notConstant }
        guard x.isFinite, x == x.rounded() else { return .fractional(x) }
        return abs(x) <= 9_007_199_254_740_992 ? .integer(Int(x)) : .tooLarge
    }

    /// `e` in Double: literals from their text, unary minus, + - * / ^.
    private static func constantDouble(_ e: Expr) -> Double? {
        switch e {
        case let .number(literal, _): return Double(literal.text)
        case let .unary(op, operand, _): return constantDouble(operand).map { op == "-" ? -$0 : $0 }
        case let .binary(op, a, b, _):
            guard let x = constantDouble(a), let y = constantDouble(b) else { return nil }
            switch op {
            case "+": return x + y
            case "-": return x - y
            case "*": return x * y
            case "/": return x / y
            case "^": return Foundation.pow(x, y)
            default: return nil
            }
        default: return nil
        }
    }

    /// A fractional constant as a message shows it: 16777217.5, not 1.6777218e+07.
    static func written(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        return "\(x)"
    }

    private static func fold(_ op: String, _ x: Int, _ y: Int) -> IntegerConstant? {
        let (result, overflow): (Int, Bool)
        switch op {
        case "+": (result, overflow) = x.addingReportingOverflow(y)
        case "-": (result, overflow) = x.subtractingReportingOverflow(y)
        case "*": (result, overflow) = x.multipliedReportingOverflow(by: y)
        case "/":
            // Int.min / -1 overflows, and so does its remainder: checked before either is taken.
            if x == .min && y == -1 { return .tooLarge }
            guard y != 0, x % y == 0 else { return nil }
            (result, overflow) = x.dividedReportingOverflow(by: y)
        case "^":
            guard y >= 0 else { return nil }
            var power = 1
            for _ in 0..<min(y, 64) {
                let (p, o) = power.multipliedReportingOverflow(by: x)
                if o { return .tooLarge }
                power = p
            }
            // x^y past 64 factors only stays in range for x in -1...1.
            if y > 64, abs(x) > 1 { return .tooLarge }
            return .integer(y > 64 && x == -1 ? (y % 2 == 0 ? 1 : -1) : power)
        default: return nil
        }
        return overflow ? .tooLarge : .integer(result)
    }
}
