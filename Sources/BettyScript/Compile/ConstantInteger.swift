/// Whole numbers known before running: counts, sizes, seeds and steps are read here, exactly, and
/// never through Float (where 16777217 is 16777216).
extension ExpressionCompiler {
    enum IntegerConstant: Equatable {
        case integer(Int)
        /// A constant with a fractional part (or NaN, or infinite), with its value for the message.
        case fractional(Float)
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
            case .fractional: return .fractional(literal.value)
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

    /// What a constant that is not an exact integer is: fractional, too large, or not constant.
    private static func fallback(_ e: Expr) -> IntegerConstant {
        guard let x = constantNumber(e) else { return .notConstant }
        if x.isFinite, x == x.rounded() { return .tooLarge }
        return .fractional(x)
    }

    private static func fold(_ op: String, _ x: Int, _ y: Int) -> IntegerConstant? {
        let (result, overflow): (Int, Bool)
        switch op {
        case "+": (result, overflow) = x.addingReportingOverflow(y)
        case "-": (result, overflow) = x.subtractingReportingOverflow(y)
        case "*": (result, overflow) = x.multipliedReportingOverflow(by: y)
        case "/":
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
