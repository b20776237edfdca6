/// Reads a statement's `key=value` options through its `OptionTable`: each value is parsed as its
/// declared type (integers exactly, never through Float) and checked against its range, and a key
/// the table does not have is refused with a "did you mean" among the keys it has.
struct OptionReader {
    private var remaining: [String: Option] = [:]
    private let table: OptionTable
    /// Every option read, given or defaulted, in the order read: what `show` prints back.
    private(set) var values: [(key: String, value: OptionValue)] = []

    init(_ options: [Option], table: OptionTable) throws(ScriptError) {
        self.table = table
        for option in options {
            if remaining[option.key] != nil { throw ScriptError("\(option.key) is given twice", at: option.keyLocation) }
            remaining[option.key] = option
        }
    }

    /// The table's declaration of `key`; a key read but not declared is a bug in the caller.
    private func spec(_ key: String) -> OptionSpec {
        guard let spec = table[key] else { preconditionFailure("option '\(key)' is not declared for \(table.statement)") }
        return spec
    }

    private mutating func take(_ key: String) -> Option? { remaining.removeValue(forKey: key) }

    private mutating func note(_ key: String, _ value: OptionValue?) {
        if let value { values.append((key, value)) }
    }

    /// The given option's value, or nil when it was not given; `key` alone (no `=`) is refused.
    private mutating func given(_ key: String) throws(ScriptError) -> (Option, Expr)? {
        guard let option = take(key) else { return nil }
        guard let expr = option.value else {
            throw ScriptError("\(key) needs a value: \(key)=...\(Self.range(spec(key)))", at: option.keyLocation)
        }
        return (option, expr)
    }

    private static func range(_ spec: OptionSpec) -> String {
        switch spec.type {
        case .integer, .real, .integers: " (\(spec.type.description))"
        default: ""
        }
    }

    // MARK: - Integers

    mutating func optionalInteger(_ key: String) throws(ScriptError) -> Int? {
        guard case let .integer(range) = spec(key).type else { preconditionFailure("\(key) is not an integer") }
        guard let (_, expr) = try given(key) else { return nil }
        // A range of one value is a limitation, and its summary says which.
        let why = range.lowerBound == range.upperBound ? spec(key).summary : ""
        let n = try Self.integer(expr, key: key, in: range, why: why)
        note(key, .integer(n))
        return n
    }

    /// The given value, or the table's default.
    mutating func integer(_ key: String) throws(ScriptError) -> Int {
        guard case let .integer(n) = spec(key).defaultValue else { preconditionFailure("\(key) has no integer default") }
        return try integer(key, default: n)
    }

    /// The given value, or `value` (a default that depends on the session).
    mutating func integer(_ key: String, default value: Int) throws(ScriptError) -> Int {
        if let n = try optionalInteger(key) { return n }
        note(key, .integer(value))
        return value
    }

    /// An exact integer in `range`, or an error that names the range.
    static func integer(_ expr: Expr, key: String, in range: ClosedRange<Int>, why: String = "") throws(ScriptError) -> Int {
        let wanted = "\(key) must be an integer \(OptionType.describe(range))\(why.isEmpty ? "" : " (\(why))")"
        switch ExpressionCompiler.constantInteger(expr) {
        case let .integer(n):
            guard range.contains(n) else { throw ScriptError("\(wanted), got \(n)", at: expr.location) }
            return n
        case let .fractional(x):
            // A literal as typed: 0.1e-400 is not an integer, though its Double is 0.
            let got = if case .number = expr { written(expr) } else { ExpressionCompiler.written(x) }
            throw ScriptError("\(wanted), got \(got)", at: expr.location)
        case .tooLarge: throw ScriptError("\(wanted), got \(written(expr))", at: expr.location)
        case .notConstant: throw ScriptError("\(wanted), not \(written(expr))", at: expr.location)
        }
    }

    mutating func integers(_ key: String) throws(ScriptError) -> [Int]? {
        guard case let .integers(range) = spec(key).type else { preconditionFailure("\(key) is not a list of integers") }
        guard let (_, expr) = try given(key) else { return nil }
        let items: [Expr]
        if case let .tuple(list, _) = expr { items = list } else { items = [expr] }
        var result: [Int] = []
        for item in items { result.append(try Self.integer(item, key: key, in: range)) }
        note(key, .integers(result))
        return result
    }

    // MARK: - Reals

    mutating func optionalReal(_ key: String) throws(ScriptError) -> Float? {
        guard case let .real(range) = spec(key).type else { preconditionFailure("\(key) is not a real") }
        guard let (_, expr) = try given(key) else { return nil }
        guard let x = ExpressionCompiler.constantNumber(expr) else {
            throw ScriptError("\(key) must be a number, not \(Self.written(expr))", at: expr.location)
        }
        guard x.isFinite else { throw ScriptError("\(key) must be finite, got \(formatNumber(x))", at: expr.location) }
        guard range.contains(x) else { throw ScriptError("\(key) must be \(range), got \(formatNumber(x))", at: expr.location) }
        note(key, .real(x))
        return x
    }

    mutating func real(_ key: String) throws(ScriptError) -> Float {
        guard case let .real(x) = spec(key).defaultValue else { preconditionFailure("\(key) has no real default") }
        return try real(key, default: x)
    }

    mutating func real(_ key: String, default value: Float) throws(ScriptError) -> Float {
        if let x = try optionalReal(key) { return x }
        note(key, .real(value))
        return value
    }

    // MARK: - Flags and words

    mutating func optionalFlag(_ key: String) throws(ScriptError) -> Bool? {
        guard case .flag = spec(key).type else { preconditionFailure("\(key) is not a flag") }
        guard let option = take(key) else { return nil }
        guard let expr = option.value else {
            note(key, .flag(true))
            return true
        }
        var value: Bool?
        if case let .name(word, _) = expr {
            switch word {
            case "true", "yes", "on": value = true
            case "false", "no", "off": value = false
            default: break
            }
        } else if case let .integer(n) = ExpressionCompiler.constantInteger(expr), n == 0 || n == 1 {
            value = n == 1
        }
        guard let value else {
            throw ScriptError("\(key) must be true or false (or yes/no, on/off, 1/0), not \(Self.written(expr))", at: expr.location)
        }
        note(key, .flag(value))
        return value
    }

    mutating func flag(_ key: String) throws(ScriptError) -> Bool {
        guard case let .flag(b) = spec(key).defaultValue else { preconditionFailure("\(key) has no flag default") }
        return try flag(key, default: b)
    }

    mutating func flag(_ key: String, default value: Bool) throws(ScriptError) -> Bool {
        if let b = try optionalFlag(key) { return b }
        note(key, .flag(value))
        return value
    }

    /// One of the table's words, written bare; `allowed` replaces them for a name known only while
    /// the session runs (a validation metric), and `meaning` says what the words are.
    mutating func optionalWord(_ key: String, from allowed: [String]? = nil, meaning: String = "") throws(ScriptError) -> String? {
        let allowed: [String] = switch spec(key).type {
        case let .choice(words): allowed ?? words
        case .name: allowed ?? []
        default: preconditionFailure("\(key) is not a word")
        }
        guard let option = take(key) else { return nil }
        let choices = "\(key) must be \(allowed.count == 1 ? "" : "one of ")\(allowed.joined(separator: ", "))\(meaning)"
        guard let expr = option.value else {
            throw ScriptError("\(choices); write \(key)=\(allowed.first ?? "...")", at: option.keyLocation)
        }
        guard case let .name(word, l) = expr else {
            let unquote = if case let .string(text, _) = expr, allowed.contains(text) { " (a word, without quotes: \(key)=\(text))" } else { "" }
            throw ScriptError("\(choices), not \(Self.written(expr))\(unquote)", at: expr.location)
        }
        guard allowed.contains(word) else {
            let why = spec(key).refusalNote.map { " (\($0))" } ?? ""
            throw ScriptError("\(choices), not '\(word)'\(didYouMean(word, in: allowed))\(why)", at: l)
        }
        note(key, .word(word))
        return word
    }

    /// The given word, or the table's default.
    mutating func word(_ key: String) throws(ScriptError) -> String {
        guard case let .word(w) = spec(key).defaultValue else { preconditionFailure("\(key) has no word default") }
        if let word = try optionalWord(key) { return word }
        note(key, .word(w))
        return w
    }

    /// A bare name (`from=meta`).
    mutating func name(_ key: String) throws(ScriptError) -> Name? {
        guard case .name = spec(key).type else { preconditionFailure("\(key) is not a name") }
        guard let option = take(key) else { return nil }
        guard case let .name(text, l)? = option.value else {
            throw ScriptError("\(key) needs a name: \(key)=NAME", at: option.value?.location ?? option.keyLocation)
        }
        note(key, .word(text))
        return Name(text: text, location: l)
    }

    /// A quoted value (`csv="run.csv"`) and where it stands.
    mutating func path(_ key: String) throws(ScriptError) -> (String, SourceLocation)? {
        guard case .path = spec(key).type else { preconditionFailure("\(key) is not a path") }
        guard let option = take(key) else { return nil }
        guard case let .string(text, l)? = option.value else {
            throw ScriptError("\(key) needs a quoted value: \(key)=\"...\"", at: option.value?.location ?? option.keyLocation)
        }
        note(key, .text(text))
        return (text, l)
    }

    /// The option as written, for the types the caller reads itself (`.source`, `.size`).
    mutating func raw(_ key: String) throws(ScriptError) -> (Option, Expr)? {
        switch spec(key).type {
        case .source, .size: return try given(key)
        default: preconditionFailure("\(key) is read by type")
        }
    }

    /// Records what the caller made of a `raw` option, for `show`.
    mutating func record(_ key: String, _ value: OptionValue) { note(key, value) }

    /// An option's value as the user wrote it, for "not ..." in a message.
    static func written(_ e: Expr) -> String {
        switch e {
        case let .name(word, _): "'\(word)'"
        case let .string(text, _): "\"\(text)\""
        case let .number(literal, _): literal.text
        case let .unary("-", .number(literal, _), _): "-" + literal.text
        default: ExpressionCompiler.constantNumber(e).map(formatNumber) ?? "an expression"
        }
    }

    /// Fails on the first option the table does not have, or that this statement did not read
    /// (`warmup_start` without `warmup`).
    func finish(unusedBecause reason: String = "") throws(ScriptError) {
        guard let option = remaining.values.min(by: { $0.keyLocation.column < $1.keyLocation.column }) else { return }
        if let spec = table[option.key] {
            let why = reason.isEmpty ? spec.requires.map { " without \($0)" } ?? "" : " " + reason
            throw ScriptError("\(option.key) does nothing here\(why)", at: option.keyLocation)
        }
        let keys = table.options.filter { $0.aliasOf == nil }.map(\.key)
        let list = keys.isEmpty ? "it takes no options" : "options: \(keys.joined(separator: ", "))"
        throw ScriptError("\(table.statement) has no option '\(option.key)'\(didYouMean(option.key, in: table.keys)); \(list)",
                          at: option.keyLocation)
    }


    /// `key=value ...` for every option read, in the table's order: the statement as it took effect.
    var canonical: String {
        let order = table.keys
        return values.sorted { (order.firstIndex(of: $0.key) ?? 0) < (order.firstIndex(of: $1.key) ?? 0) }
            .map { "\($0.key)=\($0.value.text)" }.joined(separator: " ")
    }
}
