/// An expression as written: every node keeps the span it covers, so an error found while
/// compiling or evaluating it can point at the exact text.
indirect enum Expr: Sendable {
    case number(NumberLiteral, SourceLocation)
    case string(String, SourceLocation)
    case name(String, SourceLocation)
    case member(Expr, String, SourceLocation)
    case call(Expr, [Argument], SourceLocation)
    case unary(String, Expr, SourceLocation)
    case binary(String, Expr, Expr, SourceLocation)
    case tuple([Expr], SourceLocation)

    /// The deepest expression the parser builds, a bracket counting as a level. Compiling and
    /// evaluating an expression recurse over its tree (so does freeing it), and at this depth they
    /// fit a secondary thread's 512 KB stack with room to spare; see DECISIONS.md.
    static let nestingLimit = 128

    var location: SourceLocation {
        switch self {
        case let .number(_, l), let .string(_, l), let .name(_, l), let .member(_, _, l), let .call(_, _, l),
             let .unary(_, _, l), let .binary(_, _, _, l), let .tuple(_, l): l
        }
    }

    /// `a.b.c` as "a.b.c" when the expression is a plain dotted name.
    var dottedName: String? {
        switch self {
        case let .name(n, _): n
        case let .member(base, m, _): base.dottedName.map { "\($0).\(m)" }
        default: nil
        }
    }
}

struct Argument: Sendable {
    var label: String?
    var labelLocation: SourceLocation?
    var value: Expr
}

/// `key=value`, or a bare `key` (a flag: true).
struct Option: Sendable {
    var key: String
    var keyLocation: SourceLocation
    var value: Expr?

    var location: SourceLocation { value.map { keyLocation.through($0.location) } ?? keyLocation }
}

struct Name: Sendable {
    var text: String
    var location: SourceLocation
}

/// One statement of a session (a line, or a line inside a `problem ... end` block).
enum Statement: Sendable {
    case seed(Expr)
    case data(name: Name, source: Name, arguments: [Expr], options: [Option])
    case split(source: Name, parts: [(Name, Expr)], options: [Option])
    case transform(kind: Name, dataset: Name, options: [Option])
    case problemStart(Name)
    case problemLine(ProblemLine)
    case end(SourceLocation)
    case connect([Name])
    case disconnect([Name])
    case engine([Option])
    case config(problem: Name, options: [Option])
    case validate(every: Expr?, metrics: [(Name, Expr)])
    case validateNow
    case letValue(Name, Expr)
    case print(Expr)
    case run(Expr?, SourceLocation)
    case step(Expr?, SourceLocation)
    case pause, resume, wait, stop
    case dashboard
    case show([Name])
    /// `hypergrad NAME [all]`: `all` prints every value at full precision, not only small tensors.
    case hypergrad(Name, all: Bool)
    /// `check hypergrad NAME [against=reverse|fd] [steps=K] [reference_steps=R]`.
    case checkHypergrad(Name, [Option])
    case save(String, SourceLocation)
    case load(String, SourceLocation)
    /// `save weights NAME "FILE.safetensors"`: problem NAME's module's state dict, PyTorch's names.
    case saveWeights(problem: Name, path: String, SourceLocation)
    /// `load weights "FILE.safetensors" into NAME`: a state dict into problem NAME's module.
    case loadWeights(path: String, problem: Name, SourceLocation)
    case record(String, SourceLocation)
    /// `export NAME.params "f.npy"`, `export NAME.PARAM "f.npy"`, `export history "f.csv"`.
    case export(Expr, String, SourceLocation)
    /// `plot ["f.svg"] [log]`.
    case plot(String?, log: Bool, SourceLocation)
    case expect(Expr, op: String, Expr, SourceLocation)
    case help(Name?)
    case reset
    case quit
}

/// A line of a `problem NAME ... end` block.
enum ProblemLine: Sendable {
    case module(kind: Name, sizes: [Expr], layers: [Expr], options: [Option])
    case optimizer(Name, [Option])
    case schedule(Name, [Option])
    /// `data SET` or `data TASKS.support` / `TASKS.query` (a part of few-shot episodes).
    case data(Name, part: Name?, [Option])
    case letBinding(Name, Expr)
    case loss(Expr)
    case metric(Name, Expr)
    case config([Option])
    case hook(Name, [Option])

    var keyword: String {
        switch self {
        case .module: "module"
        case .optimizer: "optimizer"
        case .schedule: "schedule"
        case .data: "data"
        case .letBinding: "let"
        case .loss: "loss"
        case .metric: "metric"
        case .config: "config"
        case .hook: "hook"
        }
    }
}
