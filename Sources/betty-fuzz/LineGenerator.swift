/// Generates BettyScript lines the way a hostile user types them: statements of the real grammar with odd
/// arguments, deep nesting, very long lines, huge and malformed numbers, mutated lines and binary junk.
struct LineGenerator {
    /// A two-level program every batch starts from, so fuzzed lines meet data, problems, an engine and
    /// few-shot tasks rather than an empty session. The memory limit keeps a generated `data` line from
    /// taking gigabytes of a shared machine (a fuzzed `engine` line may lift it; that is fine too).
    static let prelude = """
        engine memory_limit="256MB"
        seed 3
        data all = logistic samples=120 features=4
        split all -> train 60, valid 60
        problem inner
          module    params 4 init=zeros
          optimizer sgd lr=0.1
          data      train batch=60 shuffle=false
          loss      bce_logits(x @ params, y) + 0.5 * sum(outer.params * params^2)
          config    type=darts unroll=5
          reset_on_start
        end
        problem outer
          module    params 4 init=ones
          optimizer sgd lr=1 momentum=0.9
          data      valid batch=60 shuffle=false
          loss      bce_logits(x @ inner.params, y)
          clamp     min=1e-8
        end
        connect outer -> inner
        data tasks = sinusoid tasks=20 shots=3 query=3
        problem fs
          module mlp 1 -> 4 -> 1
          optimizer sgd lr=0.01
          data tasks.support
          loss mse(fs(x), y)
          config type=reverse unroll=2
          reset_on_start from=fm
        end
        problem fm
          module mlp 1 -> 4 -> 1
          optimizer adam lr=0.01
          data tasks.query
          loss mse(fs(x), y)
        end
        connect fm -> fs
        """.split(separator: "\n").map(String.init)

    /// Numbers that have broken parsers: limits of Float32, Int and Int64, exact-integer edges, signed
    /// zeros, non-finite spellings and malformed literals.
    static let oddNumbers = [
        "0", "-0", "1", "-1", "2", "3", "0.5", "1e-45", "1e-38", "3.4e38", "3.5e38", "1e39", "1e308", "1e400",
        "1e-400", "16777216", "16777217", "2147483647", "2147483648", "4294967296", "9223372036854775807",
        "9223372036854775808", "1e9", "1e15", "1e18", "-1e9", "nan", "inf", "-inf", "1_000", "0x10", "1e",
        ".5", "5.", "00012", "123456789012345678901234567890", "0.1", "7", "100", "1e-8", "-0.0", "1.5e+3",
    ]
    static let names = ["inner", "outer", "fs", "fm", "all", "train", "valid", "tasks", "x", "y", "params",
                        "nosuch", "inner.params", "outer.loss", "fm.0.weight", "tasks.support", "a", "b"]
    static let functions = ["sum", "mean", "bce_logits", "mse", "softmax", "log", "exp", "relu", "sigmoid",
                            "tanh", "abs", "sqrt", "norm", "cross_entropy", "frobnicate", "max", "min"]
    static let optionKeys = ["lr", "momentum", "type", "unroll", "darts_alpha", "neumann_iterations",
                             "neumann_alpha", "cg_iterations", "cg_alpha", "warmup", "gradient_clipping",
                             "first_order", "batch", "shuffle", "seed", "train_iters", "valid_step", "roll_back",
                             "log_every", "early_stopping", "min", "max", "label", "scale",
                             "header", "samples", "features", "tasks", "shots", "query", "factor", "ratio",
                             "retain_graph", "allow_unused", "gamma", "milestones", "weight_decay", "bogus"]
    // memory_limit is not among them: a fuzzed line must not lift the prelude's cap, or what a campaign
    // does would depend on the memory of the machine it runs on (MemoryLimitTests cover the option).
    static let optionWords = ["darts", "neumann", "cg", "sama", "reverse", "true", "false", "yes", "no", "auto",
                              "maybe", "(1, 2)", "(-5, 2.7)", "()", "\"s\""]
    /// Relative names only: a fuzzed `save` must never write outside the scratch directory.
    static let paths = ["\"ck.safetensors\"", "\"nosuch/dir/ck\"", "\"\"", "\".\"", "\"ck\"", "\"t.betty\"",
                        "\"x.npy\"", "\"d.csv\""]

    private(set) var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func number() -> String { rng.pick(Self.oddNumbers) }

    mutating func expression(depth: Int = 0) -> String {
        if depth > 3 || rng.chance(0.3) {
            return rng.chance(0.5) ? number() : rng.pick(Self.names)
        }
        switch rng.below(5) {
        case 0: return "\(expression(depth: depth + 1)) \(rng.pick(["+", "-", "*", "/", "@", "^"])) \(expression(depth: depth + 1))"
        case 1: return "\(rng.pick(Self.functions))(\(expression(depth: depth + 1)))"
        case 2: return "\(rng.pick(Self.functions))(\(expression(depth: depth + 1)), \(expression(depth: depth + 1)))"
        case 3: return "(\(expression(depth: depth + 1)))"
        default: return "-\(expression(depth: depth + 1))"
        }
    }

    mutating func options() -> String {
        (0..<rng.below(4)).map { _ in
            let key = rng.pick(Self.optionKeys)
            return rng.chance(0.15) ? key : "\(key)=\(rng.chance(0.6) ? number() : rng.pick(Self.optionWords))"
        }.joined(separator: " ")
    }

    /// A statement of the grammar with random arguments.
    mutating func statement() -> String {
        let problem = rng.pick(["inner", "outer", "fs", "fm", "nosuch"])
        let lower = rng.pick(["inner", "outer", "fs", "fm"])
        let dataset = rng.pick(["all", "train", "d"])
        switch rng.below(20) {
        case 0: return "run \(rng.chance(0.8) ? rng.pick(["1", "2", "5", ""]) : number())"
        case 1: return "step \(rng.chance(0.8) ? rng.pick(["", "1", "3"]) : number())"
        case 2: return "print \(expression())"
        case 3: return "let \(rng.pick(["a", "b", "c"])) = \(expression())"
        case 4: return "expect \(expression()) \(rng.pick(["<", ">", "==", "<=", "!=", "=<"])) \(expression())"
        case 5: return "config \(problem) \(options())"
        case 6: return "engine \(options())"
        case 7:
            return "show \(rng.pick(["", "graph", "problems", "data", "engine", "memory", "metrics", "values", problem, "config \(problem)", "data garbage"]))"
        case 8:
            guard rng.chance(0.5) else { return "hypergrad \(problem)" }
            let settings = (0..<rng.below(3)).map { _ in
                "\(rng.pick(["against", "steps", "reference_steps", "stpes"]))=\(rng.chance(0.5) ? number() : rng.pick(["fd", "reverse", "exact"]))"
            }
            return (["check hypergrad \(problem)"] + settings).joined(separator: " ")
        case 9:
            let source = rng.pick(["logistic", "sinusoid", "digits", "npy", "csv", "idx", "npz", "cifar10", "cifar100", "nosuch"])
            let files = rng.pick(["", rng.pick(Self.paths), "\"x.npy\" \"y.npy\""])
            return "data \(rng.pick(["d", "all", "train", "inner"])) = \(source) \(files) \(options())"
        case 10: return "split \(dataset) -> a \(number()), b \(number()) \(options())"
        case 11: return "\(rng.pick(["imbalance", "noise", "scale", "normalize"])) \(dataset) \(options())"
        case 12: return "\(rng.pick(["connect", "disconnect"])) \(problem) -> \(lower)"
        case 13: return "validate every \(number()): m = \(expression())"
        case 14: return "validate"
        case 15: return "\(rng.pick(["save", "load", "record"])) \(rng.pick(Self.paths))"
        case 16: return "help \(rng.pick(["", "data", "problem", "expressions", "functions", "config", "run", "inspect", "nosuch"]))"
        case 17: return rng.pick(["reset", "continue", "pause", "wait", "stop", "dashboard", "end", "problem", "problem \(problem)", "seed \(number())"])
        default:
            switch rng.below(12) {
            case 0: return "  module params \(number())"
            case 1: return "  module mlp \(number()) -> \(number())"
            case 2: return "  module linear \(number()) -> \(number())"
            case 3: return "  optimizer \(rng.pick(["sgd", "adam", "adamw", "lbfgs"])) \(options())"
            case 4: return "  schedule \(rng.pick(["step", "cosine", "multistep", "constant"])) \(options())"
            case 5: return "  data \(rng.pick(["train", "tasks.support", "nosuch"])) \(options())"
            case 6: return "  loss \(expression())"
            case 7: return "  metric m = \(expression())"
            case 8: return "  clamp \(options())"
            case 9: return "  reset_on_start \(options())"
            case 10: return "  let q = \(expression())"
            default: return "  config \(options())"
            }
        }
    }

    /// Nesting and length at and far past any sane limit.
    mutating func extreme() -> String {
        let n = rng.pick([10, 100, 255, 256, 257, 1000, 4000, 20000, 100_000])
        switch rng.below(7) {
        case 0: return "print " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n)
        case 1: return "print " + String(repeating: "(", count: n) + "1"
        case 2: return "print " + Array(repeating: "1", count: n).joined(separator: "+")
        case 3: return "print " + String(repeating: "-", count: n) + "1"
        case 4: return "let " + String(repeating: "a", count: n) + " = 1"
        case 5: return "print \"" + String(repeating: "s", count: n) + "\""
        default: return "print " + String(repeating: "f(", count: n) + "1" + String(repeating: ")", count: n)
        }
    }

    /// Valid UTF-8 noise: control characters, NUL, quotes, combining marks and emoji.
    mutating func junk() -> String {
        let pool: [Unicode.Scalar] = ["\u{0}", "\u{1}", "\u{7}", "\u{8}", "\u{1B}", "\u{7F}", "\r", "\t", "\"",
                                      "'", "\\", "(", ")", "#", "=", "\u{301}", "\u{FEFF}", "\u{202E}", "\u{1F600}",
                                      "\u{FFFD}", "é", "λ", "∑", "a", "1", " ", ".", "-", ">"]
        var s = String.UnicodeScalarView()
        for _ in 0..<rng.below(60) { s.append(rng.pick(pool)) }
        return String(s)
    }

    /// `line` with a few characters deleted, inserted, replaced or swapped, or a fragment of another spliced in.
    mutating func mutated(_ line: String) -> String {
        var chars = Array(line)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789 _.,:=()-><+*@^#\"'!?[]{}\\\t")
        for _ in 0..<(1 + rng.below(3)) {
            let i = chars.isEmpty ? 0 : rng.below(chars.count)
            switch rng.below(5) {
            case 0 where !chars.isEmpty: chars.remove(at: i)
            case 1: chars.insert(rng.pick(alphabet), at: i)
            case 2 where !chars.isEmpty: chars[i] = rng.pick(alphabet)
            case 3 where chars.count > 2: chars.swapAt(i, rng.below(chars.count))
            default:
                let other = Array(rng.pick(Self.prelude))
                let cut = other.isEmpty ? 0 : rng.below(other.count)
                chars.insert(contentsOf: other[cut...], at: i)
            }
        }
        return String(chars)
    }

    mutating func line() -> String {
        while true {
            let candidate: String
            switch rng.below(20) {
            case 0..<9: candidate = statement()
            case 9..<14: candidate = mutated(rng.chance(0.5) ? statement() : rng.pick(Self.prelude))
            case 14..<16: candidate = rng.pick(Self.prelude)
            case 16: candidate = extreme()
            default: candidate = junk()
            }
            if Self.isSafe(candidate) { return candidate }
        }
    }

    /// Bytes that are not UTF-8 at all (a binary file given as a session, a corrupted paste): betty-repl
    /// must report them at their place, not refuse the batch.
    mutating func binaryJunk() -> [UInt8] {
        (0..<(1 + rng.below(40))).map { _ in
            rng.chance(0.5) ? rng.pick([0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xF0, 0xF8, 0xFE, 0xFF, 0x00, 0x0D]) : UInt8(truncatingIfNeeded: rng.next()) & 0x7F | 0x20
        }.filter { $0 != 0x0A }
    }

    /// A line as bytes: now and then binary junk, otherwise `line()`.
    mutating func lineBytes() -> [UInt8] {
        rng.below(25) == 0 ? binaryJunk() : Array(line().utf8)
    }

    /// A fuzzed line must not end the batch early (`quit`), write outside the scratch directory or lift
    /// the prelude's memory cap.
    static func isSafe(_ line: String) -> Bool {
        if line.contains("memory_limit"), line != prelude[0] { return false }
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = words.first else { return true }
        if first == "quit" || first == "exit" { return false }
        let writes = ["save", "record", "engine"].contains(first) || line.contains("csv=")
        return !(writes && (line.contains("/") || line.contains("~") || line.contains("..")))
    }
}
