import Betty
import BettyNN
import BettyTensor

/// The lines of a `problem NAME ... end` block, kept so the problem can be rebuilt (`reset`) from
/// the same definition and the same seed.
struct ProblemSpec {
    var name: Name
    var module: ProblemLine?
    var optimizer: (Name, [Option])?
    var schedule: (Name, [Option])?
    var data: [(set: Name, part: Name?, options: [Option])] = []
    var lets: [(Name, Expr)] = []
    var loss: Expr?
    var metrics: [(Name, Expr)] = []
    var config: [Option] = []
    /// Later `config NAME ...` commands, applied in order over the block's config.
    var configChanges: [[Option]] = []
    var hooks: [(Name, [Option])] = []

    init(name: Name) { self.name = name }

    mutating func add(_ line: ProblemLine) throws(ScriptError) {
        switch line {
        case let .module(kind, _, _, _):
            if module != nil { throw ScriptError("problem '\(name.text)' already has a module", at: kind.location) }
            module = line
        case let .optimizer(kind, options):
            if optimizer != nil { throw ScriptError("problem '\(name.text)' already has an optimizer", at: kind.location) }
            optimizer = (kind, options)
        case let .schedule(kind, options):
            if schedule != nil { throw ScriptError("problem '\(name.text)' already has a schedule", at: kind.location) }
            schedule = (kind, options)
        case let .data(set, part, options):
            // The engine draws every batch from a problem's first data line: a second would never be read.
            if let first = data.first {
                throw ScriptError("problem '\(name.text)' already has a data line (data \(first.set.text)\(first.part.map { "." + $0.text } ?? "")); a problem reads one data set", at: set.location)
            }
            data.append((set, part, options))
        case let .letBinding(n, e):
            if lets.contains(where: { $0.0.text == n.text }) { throw ScriptError("'\(n.text)' is already bound in this problem", at: n.location) }
            lets.append((n, e))
        case let .loss(e):
            if loss != nil { throw ScriptError("problem '\(name.text)' already has a loss", at: e.location) }
            loss = e
        case let .metric(n, e):
            if metrics.contains(where: { $0.0.text == n.text }) { throw ScriptError("metric '\(n.text)' is defined twice", at: n.location) }
            metrics.append((n, e))
        case let .config(options): config += options
        case let .hook(kind, options):
            // A second line would replace the first (`clamp min=0` then `clamp max=1` let parameters go
            // negative): one line says all of it.
            if hooks.contains(where: { $0.0.text == kind.text }) {
                let whole = kind.text == "clamp" ? "; give both bounds on one line: clamp min=A max=B" : ""
                throw ScriptError("problem '\(name.text)' already has a \(kind.text) line\(whole)", at: kind.location)
            }
            hooks.append((kind, options))
        }
    }
}

/// Stable across runs and platforms (Swift's Hasher is seeded per process).
func stableHash(_ text: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        h ^= UInt64(byte)
        h = h &* 0x100_0000_01b3
    }
    return h
}
