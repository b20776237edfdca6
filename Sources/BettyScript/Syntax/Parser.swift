/// Parses one line's tokens into a statement. Statements are one line each; `problem NAME` opens
/// a block whose lines (`inBlock`) are problem lines until `end`.
struct Parser {
    static let commands = ["seed", "data", "split", "imbalance", "noise", "scale", "normalize", "problem", "connect", "disconnect",
                           "engine", "config", "validate", "let", "print", "run", "step", "pause", "continue", "wait", "stop", "dashboard",
                           "show", "hypergrad", "check", "save", "load", "record", "export", "plot", "expect", "help", "reset", "quit", "exit"]
    static let blockCommands = ["module", "optimizer", "schedule", "data", "let", "loss", "metric", "config",
                                "reset_on_start", "clamp", "end"]
    static let comparisons: Set<String> = ["<", ">", "<=", ">=", "==", "!="]

    let tokens: [Token]
    var index = 0
    let endOfLine: SourceLocation

    init(tokens: [Token], endOfLine: SourceLocation) {
        self.tokens = tokens
        self.endOfLine = endOfLine
    }

    /// nil for an empty (or comment-only) line.
    static func statement(_ tokens: [Token], inBlock: Bool, endOfLine: SourceLocation) throws(ScriptError) -> Statement? {
        guard !tokens.isEmpty else { return nil }
        var parser = Parser(tokens: tokens, endOfLine: endOfLine)
        let statement = inBlock ? try parser.blockLine() : try parser.command()
        try parser.expectEnd()
        return statement
    }

    // MARK: - Top-level commands

    private mutating func command() throws(ScriptError) -> Statement {
        let word = try name("a command")
        switch word.text {
        case "seed": return .seed(try expression())
        case "data":
            let target = try name("a data set name")
            try expect("=")
            let source = try name("a data source (digits, mnist5k, logistic, sinusoid, npy, npz, csv, idx, cifar10, cifar100)")
            var arguments: [Expr] = []
            while let argument = literal() { arguments.append(argument) }
            return .data(name: target, source: source, arguments: arguments, options: try options())
        case "split":
            let source = try name("the data set to split")
            try expect("->")
            var parts: [(Name, Expr)] = []
            repeat {
                let part = try name("a name for the part")
                parts.append((part, try expression(.signed)))
            } while accept(",")
            return .split(source: source, parts: parts, options: try options())
        case "imbalance", "noise", "scale", "normalize":
            return .transform(kind: word, dataset: try name("a data set"), options: try options())
        case "problem": return .problemStart(try name("a problem name"))
        case "end": return .end(word.location)
        case "connect", "disconnect":
            var names = [try name("a problem")]
            try expect("->")
            repeat { names.append(try name("a problem")) } while accept("->")
            return word.text == "connect" ? .connect(names) : .disconnect(names)
        case "engine": return .engine(try options())
        case "config": return .config(problem: try name("a problem"), options: try options())
        case "validate":
            if atEnd { return .validateNow }
            var every: Expr?
            if acceptWord("every") { every = try expression() }
            try expect(":")
            var metrics: [(Name, Expr)] = []
            repeat {
                let metric = try name("a metric name")
                try expect("=")
                metrics.append((metric, try expression()))
            } while accept(",")
            return .validate(every: every, metrics: metrics)
        case "let":
            let target = try name("a name")
            try expect("=")
            return .letValue(target, try expression())
        case "print": return .print(try expression())
        case "run": return .run(atEnd ? nil : try expression(), word.location)
        case "step": return .step(atEnd ? nil : try expression(), word.location)
        case "pause": return .pause
        case "continue": return .resume
        case "wait": return .wait
        case "stop": return .stop
        case "dashboard": return .dashboard
        case "show":
            var words: [Name] = []
            while !atEnd { words.append(try name("what to show")) }
            return .show(words)
        case "hypergrad":
            let problem = try name("a problem")
            guard let more = peek else { return .hypergrad(problem, all: false) }
            guard more.text == "all" else {
                throw ScriptError("hypergrad takes a problem and optionally 'all' (every value at full precision), got '\(more.text)'", at: more.location)
            }
            index += 1
            return .hypergrad(problem, all: true)
        case "check":
            let what = try name("what to check (hypergrad)")
            guard what.text == "hypergrad" else {
                throw ScriptError("check takes 'hypergrad NAME [against=reverse|fd] [steps=K] [reference_steps=R]', got '\(what.text)'", at: what.location)
            }
            return .checkHypergrad(try name("a problem"), try options())
        case "save", "load", "record":
            if word.text != "record", let weights = try weightsStatement(word) { return weights }
            let (path, location) = try pathArgument()
            switch word.text {
            case "save": return .save(path, location)
            case "load": return .load(path, location)
            default: return .record(path, location)
            }
        case "export":
            let what = try expression(.postfix)
            let (path, location) = try pathArgument()
            return .export(what, path, what.location.through(location))
        case "plot":
            var path: String?, log = false
            while let t = peek {
                if t.kind == .string, path == nil { path = t.text } else if t.isWord("log"), !log { log = true } else {
                    throw ScriptError("plot takes an optional \"FILE.svg\" and optionally 'log', got '\(t.text)'", at: t.location)
                }
                index += 1
            }
            return .plot(path, log: log, word.location)
        case "expect":
            let lhs = try expression()
            guard let op = peek, op.kind == .symbol, Self.comparisons.contains(op.text) else {
                throw ScriptError("expected a comparison (<, >, <=, >=, ==, !=) after the expression", at: peek?.location ?? endOfLine)
            }
            index += 1
            let rhs = try expression()
            return .expect(lhs, op: op.text, rhs, lhs.location.through(rhs.location))
        case "help": return .help(atEnd ? nil : try name("a topic"))
        case "reset": return .reset
        case "quit", "exit": return .quit
        default:
            throw ScriptError("unknown command '\(word.text)'\(didYouMean(word.text, in: Self.commands)); type 'help' for the list",
                              at: word.location)
        }
    }

    /// `save weights NAME "FILE"` and `load weights "FILE" into NAME`, when the word after `save` or
    /// `load` is `weights` followed by a name (save) or a string (load); otherwise nil, and the line is
    /// a checkpoint path as before (`save weights` alone saves a checkpoint to the file "weights").
    private mutating func weightsStatement(_ word: Name) throws(ScriptError) -> Statement? {
        guard let first = peek, first.isWord("weights"), index + 1 < tokens.count else { return nil }
        let next = tokens[index + 1]
        if word.text == "save" {
            guard next.kind == .name else { return nil }
            index += 1
            let problem = try name("a problem whose module's weights to save")
            guard !atEnd else { throw ScriptError("expected the file to write: save weights \(problem.text) \"FILE.safetensors\"", at: endOfLine) }
            let (path, location) = try pathArgument()
            return .saveWeights(problem: problem, path: path, location)
        }
        guard next.kind == .string else { return nil }
        index += 2
        guard acceptWord("into") else {
            let found = peek.map { "found '\($0.text)'" } ?? "the line ended"
            throw ScriptError("expected 'into' and a problem after the file: load weights \"FILE.safetensors\" into NAME; \(found)", at: peek?.location ?? endOfLine)
        }
        let problem = try name("the problem whose module takes the weights")
        return .loadWeights(path: next.text, problem: problem, next.location)
    }

    // MARK: - Problem block lines

    private mutating func blockLine() throws(ScriptError) -> Statement {
        let word = try name("a problem line (module, optimizer, data, loss, ...)")
        switch word.text {
        case "end": return .end(word.location)
        case "module":
            let kind = try name("a module kind (linear, mlp, params, sequential)")
            var sizes: [Expr] = [], layers: [Expr] = []
            switch kind.text {
            case "linear", "mlp":
                sizes.append(try expression(.signed))
                while accept("->") { sizes.append(try expression(.signed)) }
            case "params":
                sizes.append(try expression(.signed))
                while accept(",") { sizes.append(try expression(.signed)) }
            case "sequential":
                layers.append(try expression(.postfix))
                while accept(",") { layers.append(try expression(.postfix)) }
            default:
                throw ScriptError("unknown module kind '\(kind.text)'\(didYouMean(kind.text, in: ["linear", "mlp", "params", "sequential"]))",
                                  at: kind.location)
            }
            return .problemLine(.module(kind: kind, sizes: sizes, layers: layers, options: try options()))
        case "optimizer": return .problemLine(.optimizer(try name("an optimizer (sgd, adam, adamw)"), try options()))
        case "schedule": return .problemLine(.schedule(try name("a schedule (constant, step, multistep, cosine, warmup)"), try options()))
        case "data":
            let set = try name("a data set")
            let part: Name? = accept(".") ? try name("support or query") : nil
            return .problemLine(.data(set, part: part, try options()))
        case "let":
            let target = try name("a name")
            try expect("=")
            return .problemLine(.letBinding(target, try expression()))
        case "loss": return .problemLine(.loss(try expression()))
        case "metric":
            let metric = try name("a metric name")
            try expect("=")
            return .problemLine(.metric(metric, try expression()))
        case "config": return .problemLine(.config(try options()))
        case "reset_on_start", "clamp": return .problemLine(.hook(word, try options()))
        default:
            let known = Self.blockCommands
            throw ScriptError("'\(word.text)' is not a problem line\(didYouMean(word.text, in: known)); one of \(known.joined(separator: ", "))",
                              at: word.location)
        }
    }

    // MARK: - Options and paths

    /// `key=value` pairs and bare flags until the end of the line.
    private mutating func options() throws(ScriptError) -> [Option] {
        var result: [Option] = []
        while !atEnd {
            let key = try name("an option (key=value)")
            if accept("=") {
                result.append(Option(key: key.text, keyLocation: key.location, value: try expression()))
            } else {
                result.append(Option(key: key.text, keyLocation: key.location, value: nil))
            }
        }
        return result
    }

    /// A quoted path, or the rest of the line taken as a path.
    private mutating func pathArgument() throws(ScriptError) -> (String, SourceLocation) {
        guard let first = peek else { throw ScriptError("expected a file path", at: endOfLine) }
        if first.kind == .string {
            index += 1
            return (first.text, first.location)
        }
        let rest = tokens[index...]
        index = tokens.count
        return (rest.map(\.text).joined(), first.location.through(rest.last!.location))
    }

    // MARK: - Token helpers

    var peek: Token? { index < tokens.count ? tokens[index] : nil }
    var atEnd: Bool { index >= tokens.count }

    mutating func accept(_ symbol: String) -> Bool {
        if let t = peek, t.is(symbol) { index += 1; return true }
        return false
    }

    mutating func acceptWord(_ word: String) -> Bool {
        if let t = peek, t.isWord(word) { index += 1; return true }
        return false
    }

    mutating func expect(_ symbol: String, opening: Token? = nil) throws(ScriptError) {
        guard accept(symbol) else {
            if let opening, symbol == ")" {
                throw ScriptError("'(' is never closed", at: peek?.location ?? opening.location)
            }
            let found = peek.map { "found '\($0.text)'" } ?? "the line ended"
            throw ScriptError("expected '\(symbol)', \(found)", at: peek?.location ?? endOfLine)
        }
    }

    mutating func name(_ what: String) throws(ScriptError) -> Name {
        guard let t = peek else { throw ScriptError("expected \(what)", at: endOfLine) }
        guard t.kind == .name else { throw ScriptError("expected \(what), found '\(t.text)'", at: t.location) }
        index += 1
        return Name(text: t.text, location: t.location)
    }

    private func expectEnd() throws(ScriptError) {
        if let t = peek { throw ScriptError("unexpected '\(t.text)' after the end of the statement", at: t.location) }
    }
}
