/// Reads `key=value` options by name and type, then rejects whatever was not asked for (with a
/// "did you mean" among the keys that were).
struct OptionReader {
    private var remaining: [String: Option] = [:]
    private var asked: [String] = []
    private let context: String

    init(_ options: [Option], context: String) throws(ScriptError) {
        self.context = context
        for option in options {
            if remaining[option.key] != nil { throw ScriptError("\(option.key) is given twice", at: option.keyLocation) }
            remaining[option.key] = option
        }
    }

    private mutating func take(_ key: String) -> Option? {
        asked.append(key)
        return remaining.removeValue(forKey: key)
    }

    mutating func number(_ key: String, default value: Float, minimum: Float = -.infinity) throws(ScriptError) -> Float {
        let location = remaining[key]?.location
        let x = try optionalNumber(key) ?? value
        guard x >= minimum else { throw ScriptError("\(key) must be at least \(formatNumber(minimum)), got \(formatNumber(x))", at: location) }
        return x
    }

    mutating func optionalNumber(_ key: String) throws(ScriptError) -> Float? {
        guard let option = take(key) else { return nil }
        guard let expr = option.value else { throw ScriptError("\(key) needs a value: \(key)=...", at: option.keyLocation) }
        guard let x = ExpressionCompiler.constantNumber(expr) else {
            throw ScriptError("\(key) must be a number, not \(Self.written(expr))", at: expr.location)
        }
        guard x.isFinite else { throw ScriptError("\(key) must be finite", at: expr.location) }
        return x
    }

    mutating func integer(_ key: String, default value: Int, minimum: Int = Int.min) throws(ScriptError) -> Int {
        try optionalInteger(key, minimum: minimum) ?? value
    }

    mutating func optionalInteger(_ key: String, minimum: Int = Int.min) throws(ScriptError) -> Int? {
        let location = remaining[key]?.location
        guard let x = try optionalNumber(key) else { return nil }
        guard x == x.rounded(), abs(x) < 1e15 else { throw ScriptError("\(key) must be an integer, got \(x)", at: location) }
        guard Int(x) >= minimum else { throw ScriptError("\(key) must be at least \(minimum), got \(Int(x))", at: location) }
        return Int(x)
    }

    mutating func bool(_ key: String, default value: Bool) throws(ScriptError) -> Bool {
        guard let option = take(key) else { return value }
        guard let expr = option.value else { return true }
        if case let .name(word, _) = expr {
            switch word {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        if let x = ExpressionCompiler.constantNumber(expr), x == 0 || x == 1 { return x == 1 }
        throw ScriptError("\(key) must be true or false (or yes/no, on/off, 1/0), not \(Self.written(expr))", at: expr.location)
    }

    /// One of `allowed`, written as a bare word; `meaning` says what the words are when the list
    /// alone would not (`early_stopping` names a metric).
    mutating func word(_ key: String, from allowed: [String], default value: String?, meaning: String = "") throws(ScriptError) -> String? {
        guard let option = take(key) else { return value }
        let choices = "\(key) must be \(allowed.count == 1 ? "" : "one of ")\(allowed.joined(separator: ", "))\(meaning)"
        guard let expr = option.value else {
            throw ScriptError("\(choices); write \(key)=\(allowed[0])", at: option.keyLocation)
        }
        guard case let .name(word, l) = expr else {
            let unquote = if case let .string(text, _) = expr, allowed.contains(text) { " (a word, without quotes: \(key)=\(text))" } else { "" }
            throw ScriptError("\(choices), not \(Self.written(expr))\(unquote)", at: expr.location)
        }
        guard allowed.contains(word) else {
            throw ScriptError("\(choices), not '\(word)'\(didYouMean(word, in: allowed))", at: l)
        }
        return word
    }

    /// An option's value as the user wrote it, for "not ..." in a message.
    private static func written(_ e: Expr) -> String {
        switch e {
        case let .name(word, _): "'\(word)'"
        case let .string(text, _): "\"\(text)\""
        default: ExpressionCompiler.constantNumber(e).map(formatNumber) ?? "an expression"
        }
    }

    /// A bare name (`from=meta`).
    mutating func name(_ key: String) throws(ScriptError) -> Name? {
        guard let option = take(key) else { return nil }
        guard case let .name(text, l)? = option.value else {
            throw ScriptError("\(key) needs a name: \(key)=NAME", at: option.value?.location ?? option.keyLocation)
        }
        return Name(text: text, location: l)
    }

    /// The option's value as written (an expression), or nil when it is not given; the caller reads it.
    mutating func expression(_ key: String) throws(ScriptError) -> Expr? {
        guard let option = take(key) else { return nil }
        guard let expr = option.value else { throw ScriptError("\(key) needs a value: \(key)=...", at: option.keyLocation) }
        return expr
    }

    /// A quoted value (`csv="run.csv"`) and where it stands.
    mutating func string(_ key: String) throws(ScriptError) -> (String, SourceLocation)? {
        guard let option = take(key) else { return nil }
        guard case let .string(text, l)? = option.value else {
            throw ScriptError("\(key) needs a quoted value: \(key)=\"...\"", at: option.value?.location ?? option.keyLocation)
        }
        return (text, l)
    }

    mutating func numbers(_ key: String) throws(ScriptError) -> [Float]? {
        guard let option = take(key) else { return nil }
        guard let expr = option.value else { throw ScriptError("\(key) needs values: \(key)=(a, b, ...)", at: option.keyLocation) }
        let items: [Expr]
        if case let .tuple(list, _) = expr { items = list } else { items = [expr] }
        var result: [Float] = []
        for item in items {
            guard let x = ExpressionCompiler.constantNumber(item) else { throw ScriptError("\(key): expected numbers", at: item.location) }
            result.append(x)
        }
        return result
    }

    /// Fails on the first option nobody asked for.
    func finish() throws(ScriptError) {
        guard let option = remaining.values.min(by: { $0.keyLocation.column < $1.keyLocation.column }) else { return }
        throw ScriptError("\(context) has no option '\(option.key)'\(didYouMean(option.key, in: asked)); options: \(asked.joined(separator: ", "))",
                          at: option.keyLocation)
    }
}
