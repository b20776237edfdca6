import Betty
import BettyNN
import BettyTensor

/// What an expression evaluates to: a plain number (kept out of tensors so constant arithmetic
/// costs nothing per step) or a tensor.
enum Value {
    case number(Float)
    case tensor(Tensor)

    var tensor: Tensor {
        switch self {
        case let .number(x): Tensor(x)
        case let .tensor(t): t
        }
    }

    /// The value as one number, if it is a number or a one-element tensor.
    var scalar: Float? {
        switch self {
        case let .number(x): x
        case let .tensor(t): t.count == 1 ? t.scalar : nil
        }
    }

    var summary: String {
        switch self {
        case let .number(x): formatNumber(x)
        case let .tensor(t): t.count == 1 ? formatNumber(t.scalar) : "tensor of shape \(t.shape)"
        }
    }
}

/// sqrt(sum(t²)), recorded like any other expression (the `norm` function and `hypergrad` share it).
func euclideanNorm(_ t: Tensor) -> Tensor { sqrt(pow(t, 2).sum()) }

func formatNumber(_ x: Float) -> String {
    // A NaN's sign bit means nothing; Swift would print "-nan" for some.
    if x.isNaN { return "nan" }
    if x == x.rounded(), abs(x) < 1e7 { return String(Int(x)) }
    return "\(x)"
}

/// The evaluation environment of a compiled expression: the problem whose training step runs (nil
/// at the top level), its batch, and the slots of its `let` bindings.
struct Env {
    var problem: Problem?
    var batch: Batch?
    var locals: [Value]

    static let topLevel = Env(problem: nil, batch: nil, locals: [])
}

/// An expression compiled once into a closure over the Swift API.
typealias Compiled = (inout Env) throws(ScriptError) -> Value

/// A problem referred to by name, bound late: a loss may call a problem defined after it, and
/// `reset` rebuilds problems, so compiled code holds this box rather than a `Problem`.
final class ProblemRef {
    let name: String
    var problem: Problem?
    /// Named parameters of the bound problem, for `name.param` lookups.
    var parameterIndex: [String: Int] = [:]
    /// The losses of the bound problem's latest steps (a ring of at most `recentCapacity`), for
    /// `name.mean_loss`: one minibatch's loss is noisy, their mean is what a user compares.
    private var recentLosses: [Float] = []
    private var nextSlot = 0
    static let recentCapacity = 100

    func record(loss: Float) {
        if recentLosses.count < Self.recentCapacity {
            recentLosses.append(loss)
        } else {
            recentLosses[nextSlot] = loss
        }
        nextSlot = (nextSlot + 1) % Self.recentCapacity
    }

    /// The ring as it stands, to put back when the engine undoes a cancelled step.
    var recentLossState: (losses: [Float], nextSlot: Int) {
        get { (recentLosses, nextSlot) }
        set { (recentLosses, nextSlot) = (newValue.losses, newValue.nextSlot) }
    }

    var meanRecentLoss: Float? {
        recentLosses.isEmpty ? nil : recentLosses.reduce(0, +) / Float(recentLosses.count)
    }

    init(name: String) { self.name = name }

    /// The problem last bound before the current one, and its recent losses: a definition or `reset`
    /// that fails binds it back, and then it has them back (a failed statement changes nothing).
    private weak var replaced: Problem?
    private var replacedLosses: (losses: [Float], nextSlot: Int) = ([], 0)

    func bind(_ p: Problem?) {
        let previous = (problem, recentLossState)
        if let p, p === replaced {
            recentLossState = replacedLosses
        } else {
            recentLosses = []
            nextSlot = 0
        }
        (replaced, replacedLosses) = previous
        problem = p
        parameterIndex = [:]
        if let p {
            for (i, entry) in p.module.namedParameters.enumerated() { parameterIndex[entry.name] = i }
        }
    }

    func resolved(at location: SourceLocation) throws(ScriptError) -> Problem {
        guard let problem else { throw ScriptError("problem '\(name)' is not defined", at: location) }
        return problem
    }
}

/// A top-level name's current value (`let`, data sets), boxed so compiled code sees redefinitions.
final class Slot<T> {
    var value: T
    init(_ value: T) { self.value = value }
}
