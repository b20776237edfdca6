import Foundation
import Betty
import BettyNN
import BettyTensor

/// Turns an expression into a closure once, resolving every name it can at compile time; what it
/// cannot (a problem defined later) goes through a late-bound `ProblemRef`.
struct ExpressionCompiler {
    let bindings: Bindings
    /// The problem whose block is being compiled: enables `x`, `y` and `params`.
    var problemName: String?
    var locals: [String: Int] = [:]
    /// Problems called or read that were not defined yet when compiled.
    private(set) var forwardReferences: [Name] = []
    /// Every other problem the expressions call or read, where they do.
    private(set) var problemReads: [Name] = []
    /// Forward references written as calls: at the top level these are unknown functions.
    private var calledForwardReferences: Set<String> = []

    init(bindings: Bindings, problemName: String? = nil) {
        self.bindings = bindings
        self.problemName = problemName
    }

    /// The names visible here, for "did you mean".
    private var visibleNames: [String] {
        Array(locals.keys) + (problemName == nil ? [] : ["x", "y", "params"]) + bindings.allNames
    }

    mutating func compile(_ e: Expr) throws(ScriptError) -> Compiled {
        try node(e).compiled
    }

    /// Compiles `root` bottom-up with an explicit work list rather than by recursion, so compiling
    /// uses the same few frames of stack however deep the expression (a debug build's frames here
    /// are kilobytes each). Operands compile left to right before what applies to them.
    mutating func node(_ root: Expr) throws(ScriptError) -> Node {
        var work: [CompileStep] = [.visit(root)]
        var operands: [Node] = []
        while let step = work.popLast() {
            switch step {
            case let .visit(e):
                switch e {
                case let .number(x, _):
                    operands.append(.number(x.value))
                case let .string(_, l):
                    throw ScriptError("a string is not a value here", at: l)
                case let .tuple(_, l):
                    throw ScriptError("a list of values is only allowed as an option (e.g. milestones=(100, 200))", at: l)
                case let .name(n, l):
                    operands.append(try name(n, at: l))
                case let .member(base, member, l):
                    operands.append(try self.member(base, member, at: l))
                case let .call(callee, arguments, l):
                    let (finish, inputs) = try call(callee, arguments, at: l)
                    work.append(finish)
                    work.append(contentsOf: inputs.reversed().map(CompileStep.visit))
                case let .unary(op, operand, _):
                    work.append(.sign(op))
                    work.append(.visit(operand))
                case let .binary(op, lhs, rhs, l):
                    work.append(.binary(op, exponent: rhs.location, at: l))
                    work.append(.visit(rhs))
                    work.append(.visit(lhs))
                }
            case let .sign(op):
                let inner = operands.removeLast()
                operands.append(op == "-" ? Self.negated(inner) : inner)
            case let .binary(op, exponentLocation, l):
                let b = operands.removeLast(), a = operands.removeLast()
                operands.append(try binary(op, a, b, exponentAt: exponentLocation, at: l))
            case let .function(name, count, keywords, l):
                let arguments = Array(operands.suffix(count))
                operands.removeLast(count)
                operands.append(try Functions.build(name, arguments, keywords, at: l))
            case let .problemCall(ref, nameLocation, l):
                let input = operands.removeLast().tensorCode
                operands.append(.tensor { (env: inout Env) throws(ScriptError) -> Tensor in
                    let p = try ref.resolved(at: nameLocation)
                    let x = try input(&env)
                    return try located(l) { () throws(TensorError) in try p.module(x) }
                })
            }
        }
        return operands[0]
    }

    private static func negated(_ inner: Node) -> Node {
        switch inner {
        case let .number(x): .number(-x)
        case let .tensor(code): .tensor { (env: inout Env) throws(ScriptError) -> Tensor in -(try code(&env)) }
        case let .value(code):
            .value { (env: inout Env) throws(ScriptError) -> Value in
                switch try code(&env) {
                case let .number(x): .number(-x)
                case let .tensor(t): .tensor(-t)
                }
            }
        }
    }

    /// The problem to ask for a top-level expression (`print`, `let`, `expect`, a validation metric),
    /// where every name must exist already: nil when there is none.
    var undefinedReference: ScriptError? {
        guard let missing = forwardReferences.first else { return nil }
        if calledForwardReferences.contains(missing.text) {
            return ScriptError("unknown function '\(missing.text)'\(didYouMean(missing.text, in: Functions.names + bindings.problemOrder)); 'help functions' lists them",
                               at: missing.location)
        }
        return ScriptError("unknown name '\(missing.text)': no problem, data set or value is called that", at: missing.location)
    }

    // MARK: - Names

    private mutating func name(_ n: String, at l: SourceLocation) throws(ScriptError) -> Node {
        if let slot = locals[n] { return .value { env in env.locals[slot] } }
        if let problemName {
            switch n {
            case "x": return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in env.batch!.x }
            case "y": return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in env.batch!.y }
            case "params": return try parameters(of: bindings.ref(problemName), member: "params", at: l)
            default: break
            }
        }
        if let slot = bindings.values[n] { return .value { _ in slot.value } }
        if n == "pi" { return .number(.pi) }
        if bindings.datasets[n] != nil {
            throw ScriptError("'\(n)' is a data set; use \(n).x or \(n).y", at: l)
        }
        if bindings.refs[n] != nil || bindings.problemOrder.contains(n) {
            throw ScriptError("'\(n)' is a problem; call it, \(n)(input), or read \(n).params", at: l)
        }
        if Functions.names.contains(n) { throw ScriptError("'\(n)' is a function; call it with arguments: \(n)(...)", at: l) }
        if n == "validation" {
            let known = bindings.lastValidation.keys.sorted()
            throw ScriptError("'validation' is not a value: it holds the latest validation's metrics, read one as validation.NAME; "
                              + (known.isEmpty ? Self.noValidationYet : "have \(known.map { "validation.\($0)" }.joined(separator: ", "))"), at: l)
        }
        if n == "check" {
            throw ScriptError("'check' is not a value: it holds the latest 'check hypergrad', read one as check.METHOD.FIELD (FIELD one of \(CheckResults.fields.joined(separator: ", ")))"
                              + (bindings.lastCheck == nil ? "; no check has run yet" : ""), at: l)
        }
        throw ScriptError("unknown name '\(n)'\(didYouMean(n, in: visibleNames))", at: l)
    }

    static let noValidationYet = "no validation has run yet; define one with 'validate every N: name = expression' and run, or type 'validate'"

    private mutating func member(_ base: Expr, _ member: String, at l: SourceLocation) throws(ScriptError) -> Node {
        guard let path = base.dottedName else {
            throw ScriptError("'.\(member)' can only follow a name (a data set, a problem, validation or check)", at: l)
        }
        let head = path.split(separator: ".").first.map(String.init) ?? path
        let rest = (path.split(separator: ".").dropFirst().map(String.init) + [member]).joined(separator: ".")
        if head == "validation" {
            let bindings = bindings
            return .value { (_: inout Env) throws(ScriptError) -> Value in
                guard let v = bindings.lastValidation[rest] else {
                    let known = bindings.lastValidation.keys.sorted()
                    throw ScriptError(known.isEmpty ? Self.noValidationYet
                                                    : "no validation metric '\(rest)'\(didYouMean(rest, in: known)); have \(known.joined(separator: ", "))", at: l)
                }
                return .number(v)
            }
        }
        if head == "check" {
            let bindings = bindings
            return .value { (_: inout Env) throws(ScriptError) -> Value in
                .number(try CheckResults.value(rest, in: bindings.lastCheck, at: l))
            }
        }
        if let slot = bindings.datasets[head] {
            switch rest {
            case "x": return .tensor { _ in slot.value.x }
            case "y": return .tensor { _ in slot.value.y }
            case "count": return .value { _ in .number(Float(slot.value.count)) }
            default: throw ScriptError("a data set has x, y and count, not '\(rest)'", at: l)
            }
        }
        if locals[head] != nil || bindings.values[head] != nil || (problemName != nil && ["x", "y", "params"].contains(head)) {
            throw ScriptError("'\(head)' is a tensor; it has no member '\(rest)'", at: l)
        }
        // A name another problem's loss already read before its definition has a ref but no problem:
        // still a forward reference.
        if bindings.refs[head]?.problem == nil && !bindings.problemOrder.contains(head) && head != problemName {
            // Only a name that has members can be what `head.member` meant: never a tensor or a function.
            let heads = bindings.datasetOrder + bindings.problemOrder + (problemName.map { [$0] } ?? []) + ["validation", "check"]
            if let guess = Self.likelyTypo(head, in: heads) {
                throw ScriptError("unknown name '\(head)' (did you mean '\(guess)'?)", at: base.location)
            }
            forwardReferences.append(Name(text: head, location: base.location))
        }
        if head != problemName { problemReads.append(Name(text: head, location: base.location)) }
        return try parameters(of: bindings.ref(head), member: rest, at: l)
    }

    /// The name an unknown `name` likely misspells, when the guess is likely enough to refuse `name`
    /// rather than take it as a problem defined later. A name of one or two characters is one edit
    /// from too many others (`w` from `x`, `y`, `p`) for a guess to mean anything: none is made.
    private static func likelyTypo(_ name: String, in candidates: [String]) -> String? {
        name.count < 3 ? nil : closest(to: name, in: candidates)
    }

    /// `P.params` (the only parameter tensor), `P.<parameter name>`, `P.loss`, `P.mean_loss` (over its
    /// last 100 steps), `P.<metric>`.
    private func parameters(of ref: ProblemRef, member: String, at l: SourceLocation) throws(ScriptError) -> Node {
        // The member's kind is settled here; only a named parameter or metric is looked up per call
        // (`reset` rebuilds the module, so its index is read from the rebound reference).
        switch member {
        case "params":
            return .tensor { (_: inout Env) throws(ScriptError) -> Tensor in
                let p = try ref.resolved(at: l)
                guard p.trainable.count == 1 else {
                    let names = p.module.namedParameters.map(\.name)
                    throw ScriptError("problem '\(ref.name)' has \(names.count) parameter tensors; name one: \(names.map { "\(ref.name).\($0)" }.joined(separator: ", "))", at: l)
                }
                return p.trainable[0].value
            }
        case "loss":
            return .value { (_: inout Env) throws(ScriptError) -> Value in
                guard let loss = try ref.resolved(at: l).lastLoss else { throw ScriptError("problem '\(ref.name)' has not taken a step yet", at: l) }
                return .number(loss)
            }
        case "mean_loss":
            return .value { (_: inout Env) throws(ScriptError) -> Value in
                _ = try ref.resolved(at: l)
                guard let mean = ref.meanRecentLoss else { throw ScriptError("problem '\(ref.name)' has not taken a step yet", at: l) }
                return .number(mean)
            }
        default: break
        }
        return .value { (_: inout Env) throws(ScriptError) -> Value in
            let p = try ref.resolved(at: l)
            if let i = ref.parameterIndex[member] { return .tensor(p.trainable[i].value) }
            if let m = p.lastMetrics[member] { return .number(m) }
            let known = ["params", "loss", "mean_loss"] + Array(ref.parameterIndex.keys) + Array(p.lastMetrics.keys)
            throw ScriptError("problem '\(ref.name)' has no parameter or metric '\(member)'\(didYouMean(member, in: known))", at: l)
        }
    }

    // MARK: - Calls

    /// Checks a call and settles what it calls; returns the step that builds it once `inputs`, the
    /// arguments to compile first, are compiled.
    private mutating func call(_ callee: Expr, _ arguments: [Argument], at l: SourceLocation) throws(ScriptError)
        -> (finish: CompileStep, inputs: [Expr]) {
        guard case let .name(name, nameLocation) = callee else {
            throw ScriptError("only functions and problems can be called", at: callee.location)
        }
        let isProblem = bindings.problemOrder.contains(name) || bindings.refs[name] != nil || name == problemName
        if Functions.names.contains(name) && !isProblem {
            var positional: [Expr] = []
            var keywords: [String: (Constant, SourceLocation)] = [:]
            for argument in arguments {
                if let label = argument.label {
                    keywords[label] = (try constant(argument.value), argument.labelLocation!.through(argument.value.location))
                } else {
                    positional.append(argument.value)
                }
            }
            return (.function(name, arguments: positional.count, keywords: keywords, at: l), positional)
        }
        if !isProblem {
            if locals[name] != nil || bindings.values[name] != nil || bindings.datasets[name] != nil {
                throw ScriptError("'\(name)' is not a function or a problem; it cannot be called", at: nameLocation)
            }
            if let guess = Self.likelyTypo(name, in: Functions.names + bindings.problemOrder) {
                throw ScriptError("unknown function or problem '\(name)' (did you mean '\(guess)'?)", at: nameLocation)
            }
            forwardReferences.append(Name(text: name, location: nameLocation))
            calledForwardReferences.insert(name)
        } else if name != problemName, bindings.refs[name]?.problem == nil, !bindings.problemOrder.contains(name) {
            // Called before its definition by another problem too: a forward reference all the same.
            forwardReferences.append(Name(text: name, location: nameLocation))
            calledForwardReferences.insert(name)
        }
        guard arguments.count == 1, arguments[0].label == nil else {
            throw ScriptError("a problem is called with one input: \(name)(x)", at: l)
        }
        if name != problemName { problemReads.append(Name(text: name, location: nameLocation)) }
        return (.problemCall(bindings.ref(name), nameLocation: nameLocation, at: l), [arguments[0].value])
    }

    /// A keyword argument or option value known at compile time: a number, a constant expression
    /// (`1/255`), or a word (`none`).
    func constant(_ e: Expr) throws(ScriptError) -> Constant {
        if case let .name(word, _) = e { return .word(word) }
        if let x = Self.constantNumber(e) { return .number(x) }
        throw ScriptError("expected a number or a word here", at: e.location)
    }

    static func constantNumber(_ e: Expr) -> Float? {
        switch e {
        case let .number(x, _): return x.value
        case let .unary(op, operand, _): return constantNumber(operand).map { op == "-" ? -$0 : $0 }
        case let .binary(op, a, b, _):
            guard let x = constantNumber(a), let y = constantNumber(b) else { return nil }
            return fold(op, x, y)
        default: return nil
        }
    }

    /// `x op y` for two numbers; nil for a matrix product.
    private static func fold(_ op: String, _ x: Float, _ y: Float) -> Float? {
        if op == "^" { return Float(Foundation.pow(Double(x), Double(y))) }
        return Arithmetic(op)?.numbers(x, y)
    }

    // MARK: - Arithmetic

    /// `a op b` for compiled operands. Constants fold here, from the leaves up, so each node of an
    /// expression is visited once however long it is.
    private func binary(_ op: String, _ a: Node, _ b: Node, exponentAt exponentLocation: SourceLocation,
                        at l: SourceLocation) throws(ScriptError) -> Node {
        if case let .number(x) = a, case let .number(y) = b, let folded = Self.fold(op, x, y) { return .number(folded) }
        guard op != "^" else {
            guard case let .number(p) = b else { throw ScriptError("the exponent must be a number", at: exponentLocation) }
            if case let .tensor(base) = a {
                return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in pow(try base(&env), p) }
            }
            let base = a.compiled
            return .value { (env: inout Env) throws(ScriptError) -> Value in
                switch try base(&env) {
                case let .number(x): .number(Float(Foundation.pow(Double(x), Double(p))))
                case let .tensor(t): .tensor(pow(t, p))
                }
            }
        }
        // The operator is resolved here, once, not matched as text on every evaluation; with both
        // kinds known, so is the pairing of tensor and number.
        guard let arithmetic = Arithmetic(op) else { throw ScriptError("unknown operator '\(op)'", at: l) }
        switch (a, b) {
        case let (.tensor(f), .tensor(g)):
            return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in
                let s = try f(&env), t = try g(&env)
                return try located(l) { () throws(TensorError) in try arithmetic.tensors(s, t) }
            }
        case let (.tensor(f), .number(y)):
            return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in
                let s = try f(&env)
                return try located(l) { () throws(TensorError) in try arithmetic.tensor(s, number: y) }
            }
        case let (.number(x), .tensor(g)):
            return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in
                let t = try g(&env)
                return try located(l) { () throws(TensorError) in try arithmetic.number(x, tensor: t) }
            }
        default:
            let u = a.compiled, v = b.compiled
            return .value { (env: inout Env) throws(ScriptError) -> Value in
                let x = try u(&env), y = try v(&env)
                return try located(l) { () throws(TensorError) in try arithmetic.apply(x, y) }
            }
        }
    }
}

/// The binary operators other than `^` (which takes a constant exponent).
enum Arithmetic {
    case add, subtract, multiply, divide, matmul

    init?(_ symbol: String) {
        switch symbol {
        case "+": self = .add
        case "-": self = .subtract
        case "*": self = .multiply
        case "/": self = .divide
        case "@": self = .matmul
        default: return nil
        }
    }

    /// The result for two numbers; nil for a matrix product.
    func numbers(_ x: Float, _ y: Float) -> Float? {
        switch self {
        case .add: x + y
        case .subtract: x - y
        case .multiply: x * y
        case .divide: x / y
        case .matmul: nil
        }
    }

    func apply(_ u: Value, _ v: Value) throws(TensorError) -> Value {
        switch (u, v) {
        case let (.number(x), .number(y)):
            guard let r = numbers(x, y) else { throw .invalidArgument(op: "@", message: "matrix product of two numbers") }
            return .number(r)
        case let (.tensor(t), .number(y)): return .tensor(try tensor(t, number: y))
        case let (.number(x), .tensor(t)): return .tensor(try number(x, tensor: t))
        case let (.tensor(s), .tensor(t)): return .tensor(try tensors(s, t))
        }
    }

    func tensor(_ t: Tensor, number y: Float) throws(TensorError) -> Tensor {
        switch self {
        case .add: t + y
        case .subtract: t - y
        case .multiply: t * y
        case .divide: t / y
        case .matmul: throw .invalidArgument(op: "@", message: "matrix product of a tensor \(t.shape) and a number; use *")
        }
    }

    func number(_ x: Float, tensor t: Tensor) throws(TensorError) -> Tensor {
        switch self {
        case .add: x + t
        case .subtract: x - t
        case .multiply: x * t
        case .divide: x / t
        case .matmul: throw .invalidArgument(op: "@", message: "matrix product of a number and a tensor \(t.shape); use *")
        }
    }

    func tensors(_ s: Tensor, _ t: Tensor) throws(TensorError) -> Tensor {
        switch self {
        case .add: try s + t
        case .subtract: try s - t
        case .multiply: try s * t
        case .divide: try s / t
        case .matmul: try s.matmul(t)
        }
    }
}

/// One step of compiling an expression: visit a subexpression, or build a node from the operands
/// compiled last.
private enum CompileStep {
    case visit(Expr)
    /// `-` or `+` applied to one operand.
    case sign(String)
    case binary(String, exponent: SourceLocation, at: SourceLocation)
    case function(String, arguments: Int, keywords: [String: (Constant, SourceLocation)], at: SourceLocation)
    case problemCall(ProblemRef, nameLocation: SourceLocation, at: SourceLocation)
}
