/// Expressions, parsed without recursion: operators waiting for an operand and open brackets wait on
/// an explicit stack, so a line of any length or nesting costs heap, never the thread's stack.
/// Depth is counted while the tree is built and capped at `Expr.nestingLimit`: compiling and
/// evaluating recurse over the tree, and that recursion has to fit a secondary thread's stack.
///
/// The grammar, loosest first: `+ -`, then `* / @`, then a sign (`-a`), then `^` (or `**`, right
/// associative, its exponent may carry a sign), then members and calls (`a.b`, `f(x, axis=1)`).
/// So `-a^b` is `-(a^b)`, `-a*b` is `(-a)*b` and `a^-b*c` is `(a^(-b))*c`.
extension Parser {
    /// Where an expression stops: a statement may use an operator as a separator after it.
    enum ExpressionLevel {
        /// Everything above.
        case full
        /// A sign and powers, not sums or products: `split all -> train 0.5, valid 0.5`, `module linear 2 -> 3`.
        case signed
        /// A name, number or bracket with its members and calls: the layers of `module sequential`.
        case postfix

        /// The loosest binary operator taken outside brackets.
        fileprivate var loosestPrecedence: Int {
            switch self {
            case .full: Precedence.sum
            case .signed: Precedence.power
            case .postfix: Int.max
            }
        }
    }

    mutating func expression(_ level: ExpressionLevel = .full) throws(ScriptError) -> Expr {
        var state = ExpressionState(level: level)
        while true {
            var operand = try leadingOperand(&state)
            // Members, calls, operators and closing brackets, until another operand is needed or the
            // expression ends.
            needsOperand: while true {
                if accept(".") {
                    let member = try name("a member name after '.'")
                    operand = try nested(.member(operand.expr, member.text, operand.expr.location.through(member.location)),
                                         over: operand.depth, at: member.location)
                    continue
                }
                if let open = peek, open.is("(") {
                    index += 1
                    if accept(")") {
                        operand = try nested(.call(operand.expr, [], operand.expr.location.through(tokens[index - 1].location)),
                                             over: operand.depth, at: open.location)
                        continue
                    }
                    try state.push(.call(callee: operand, open: open, firstArgument: state.items.count, depth: operand.depth,
                                         label: argumentLabel()), at: open.location)
                    break needsOperand
                }
                let next = peek.flatMap(Self.binaryOperator)
                let continues = next.map { state.brackets > 0 || $0.precedence >= level.loosestPrecedence } ?? false
                operand = try reduce(operand, &state, before: continues ? next : nil)
                if continues, let next, let token = peek {
                    index += 1
                    try state.push(.binary(token, lhs: operand, precedence: next.precedence), at: token.location)
                    break needsOperand
                }
                guard state.brackets > 0 else { return operand.expr }
                // The innermost open bracket takes the operand as an item.
                state.items.append(Argument(label: state.pendingLabel?.text, labelLocation: state.pendingLabel?.location,
                                            value: operand.expr))
                state.widenBracket(to: operand.depth)
                if accept(",") {
                    if state.innermostBracketIsCall { state.setPendingLabel(argumentLabel()) }
                    break needsOperand
                }
                operand = try closeBracket(&state)
            }
        }
    }

    /// A number or a string on its own (a data source's arguments).
    mutating func literal() -> Expr? {
        guard let t = peek, t.kind == .number || t.kind == .string else { return nil }
        index += 1
        return Self.leaf(t)
    }

    // MARK: - Steps

    /// Signs and opening brackets, then the name, number or string they apply to.
    private mutating func leadingOperand(_ state: inout ExpressionState) throws(ScriptError) -> Parsed {
        while true {
            guard let t = peek else { throw ScriptError("expected an expression", at: endOfLine) }
            if (t.is("-") || t.is("+")) && (state.brackets > 0 || state.level != .postfix) {
                index += 1
                try state.push(.sign(t), at: t.location)
            } else if t.is("(") {
                index += 1
                try state.push(.group(open: t, firstItem: state.items.count, depth: 0), at: t.location)
            } else if let leaf = Self.leaf(t) {
                index += 1
                return Parsed(expr: leaf, depth: 1)
            } else {
                throw ScriptError("expected an expression, found '\(t.text)'", at: t.location)
            }
        }
    }

    /// Applies the signs and binary operators waiting on the stack that bind at least as tightly as
    /// `next` (all of them, up to the innermost bracket, when nothing follows).
    private func reduce(_ operand: Parsed, _ state: inout ExpressionState,
                        before next: BinaryOperator?) throws(ScriptError) -> Parsed {
        var operand = operand
        while let top = state.pending.last {
            switch top {
            case let .sign(t):
                if let next, next.precedence > Precedence.sign { return operand }
                state.pending.removeLast()
                operand = try nested(.unary(t.text, operand.expr, t.location.through(operand.expr.location)),
                                     over: operand.depth, at: t.location)
            case let .binary(t, lhs, precedence):
                if let next, next.precedence > precedence || (next.precedence == precedence && next.rightAssociative) {
                    return operand
                }
                state.pending.removeLast()
                operand = try nested(.binary(t.is("**") ? "^" : t.text, lhs.expr, operand.expr, lhs.expr.location.through(operand.expr.location)),
                                     over: max(lhs.depth, operand.depth), at: t.location)
            case .group, .call:
                return operand
            }
        }
        return operand
    }

    /// Expects `)` for the innermost bracket, whose items are collected, and builds what it closes.
    private mutating func closeBracket(_ state: inout ExpressionState) throws(ScriptError) -> Parsed {
        guard let bracket = state.pending.popLast() else { preconditionFailure("closeBracket with no open bracket") }
        state.brackets -= 1
        switch bracket {
        case let .group(open, firstItem, depth):
            try expect(")", opening: open)
            let items = state.items[firstItem...].map(\.value)
            state.items.removeSubrange(firstItem...)
            // A bracket is a level of nesting even around a single item.
            if items.count == 1 { return try nested(items[0], over: depth, at: open.location) }
            return try nested(.tuple(items, open.location.through(tokens[index - 1].location)), over: depth, at: open.location)
        case let .call(callee, open, firstArgument, depth, _):
            try expect(")", opening: open)
            let arguments = Array(state.items[firstArgument...])
            state.items.removeSubrange(firstArgument...)
            return try nested(.call(callee.expr, arguments, callee.expr.location.through(tokens[index - 1].location)),
                              over: depth, at: open.location)
        case .sign, .binary:
            preconditionFailure("closeBracket over an unreduced operator")
        }
    }

    /// `name=` opening a call argument: the label, consumed.
    private mutating func argumentLabel() -> Token? {
        guard let t = peek, t.kind == .name, index + 1 < tokens.count, tokens[index + 1].is("=") else { return nil }
        index += 2
        return t
    }

    /// `expr` built over children at most `depth` deep, unless that passes the limit.
    private func nested(_ expr: Expr, over depth: Int, at location: SourceLocation) throws(ScriptError) -> Parsed {
        guard depth < Expr.nestingLimit else { throw Self.tooDeep(at: location) }
        return Parsed(expr: expr, depth: depth + 1)
    }

    fileprivate static func tooDeep(at location: SourceLocation) -> ScriptError {
        ScriptError("expression nested deeper than \(Expr.nestingLimit) levels (the limit): give parts of it a name with 'let'",
                    at: location)
    }

    private static func leaf(_ t: Token) -> Expr? {
        switch t.kind {
        case .number: .number(NumberLiteral(t.text)!, t.location)
        case .string: .string(t.text, t.location)
        case .name: .name(t.text, t.location)
        case .symbol: nil
        }
    }

    private static func binaryOperator(_ t: Token) -> BinaryOperator? {
        guard t.kind == .symbol else { return nil }
        switch t.text {
        case "+", "-": return BinaryOperator(precedence: Precedence.sum, rightAssociative: false)
        case "*", "/", "@": return BinaryOperator(precedence: Precedence.product, rightAssociative: false)
        case "^", "**": return BinaryOperator(precedence: Precedence.power, rightAssociative: true)
        default: return nil
        }
    }
}

/// How tightly each kind of operator binds; postfix members and calls bind tighter than all.
private enum Precedence {
    static let sum = 1
    static let product = 2
    static let sign = 3
    static let power = 4
}

private struct BinaryOperator {
    var precedence: Int
    var rightAssociative: Bool
}

/// An expression parsed so far and the depth of its tree (a bracket counts as a level).
private struct Parsed {
    var expr: Expr
    var depth: Int
}

/// What waits for the operand being parsed.
private enum Pending {
    case sign(Token)
    case binary(Token, lhs: Parsed, precedence: Int)
    /// An open `(`; its items so far are `items[firstItem...]`, `depth` the deepest of them.
    case group(open: Token, firstItem: Int, depth: Int)
    /// `callee(`; its arguments so far are `items[firstArgument...]`, `label` that of the one being read.
    case call(callee: Parsed, open: Token, firstArgument: Int, depth: Int, label: Token?)
}

/// The stack of one expression being parsed. Items of open brackets share one array, so a bracket
/// with many items costs one append each.
private struct ExpressionState {
    let level: Parser.ExpressionLevel
    var pending: [Pending] = []
    var items: [Argument] = []
    /// Open brackets on `pending`; inside one, every operator applies whatever the level.
    var brackets = 0

    init(level: Parser.ExpressionLevel) { self.level = level }

    /// Every frame on the stack will be one level around the operand still to come, so the tree
    /// will be at least `pending.count + 1` deep: refused here, before anything deeper is read.
    mutating func push(_ frame: Pending, at location: SourceLocation) throws(ScriptError) {
        guard pending.count + 1 < Expr.nestingLimit else { throw Parser.tooDeep(at: location) }
        pending.append(frame)
        switch frame {
        case .group, .call: brackets += 1
        case .sign, .binary: break
        }
    }

    var innermostBracketIsCall: Bool {
        if case .call? = pending.last { return true }
        return false
    }

    /// The label of the innermost call's argument being read.
    var pendingLabel: Token? {
        if case let .call(_, _, _, _, label)? = pending.last { return label }
        return nil
    }

    mutating func setPendingLabel(_ label: Token?) {
        guard case let .call(callee, open, first, depth, _)? = pending.last else { return }
        pending[pending.count - 1] = .call(callee: callee, open: open, firstArgument: first, depth: depth, label: label)
    }

    /// Records an item `depth` deep in the innermost bracket.
    mutating func widenBracket(to depth: Int) {
        switch pending.last {
        case let .group(open, first, d)?:
            pending[pending.count - 1] = .group(open: open, firstItem: first, depth: max(d, depth))
        case let .call(callee, open, first, d, label)?:
            pending[pending.count - 1] = .call(callee: callee, open: open, firstArgument: first, depth: max(d, depth), label: label)
        default:
            break
        }
    }
}
