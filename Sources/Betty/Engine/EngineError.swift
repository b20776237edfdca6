import BettyTensor
import BettyNN

/// Errors from building or running a multilevel program; each names the problem and the fix.
public enum EngineError: Error, CustomStringConvertible, Sendable {
    case graph(GraphError)
    case invalidConfig(problem: String, field: String, reason: String)
    case notImplemented(problem: String, feature: String)
    case tensor(problem: String, TensorError)
    case data(problem: String, DataError)
    case nonFiniteLoss(problem: String, step: Int, value: Float)
    /// A gradient about to be applied was not finite; nothing of it was applied.
    case nonFiniteGradient(NonFiniteGradient)
    /// With `allowUnused` off, the loss of `problem` does not depend on these of its parameters.
    case unusedParameters(problem: String, names: [String])
    /// A run or step was cancelled (`Engine.cancellation`); the state is as at the end of
    /// `interruption.stateAfterStep`.
    case cancelled(Interruption)
    case unsupportedPath(problem: String, method: String, reason: String)
    case training(problem: String, message: String)
    /// A reverse-mode problem's hypergradient was asked for while its unrolled window is closed:
    /// the steps it is taken through exist only between the problem's steps and its uppers' step.
    case closedWindow(problem: String)
    /// `reader`'s loss read `read`, a reverse-mode level, with no edge between the two: the read would
    /// differentiate into (and free) `read`'s recorded window behind the engine's back.
    case unconnectedRead(reader: String, read: String)
    /// `Engine.checkHypergradient` cannot run on `problem` now, for `reason`.
    case cannotCheck(problem: String, reason: String)
    /// `problem` would be replaced (defined again) while the unrolled window of `window`, a reverse-mode
    /// level connected to it, is open at step `steps` of `length`: the window recorded its steps with
    /// the parameters being replaced.
    case replacedUnderOpenWindow(problem: String, window: String, steps: Int, length: Int)
    /// Early stopping watches `metric`, which the validation did not return (it returned `returned`).
    case earlyStoppingMetricMissing(metric: String, returned: [String])
    /// An error thrown by code the program supplied (a training step, hook or validation closure),
    /// kept whole so a caller such as the REPL can report it with its own detail.
    case userCode(problem: String, error: any Error)

    public var description: String {
        switch self {
        case let .graph(error): return "dependency graph: \(error)"
        case let .invalidConfig(problem, field, reason): return "problem '\(problem)': config \(field) \(reason)"
        case let .notImplemented(problem, feature): return "problem '\(problem)': \(feature) is not implemented yet"
        case let .tensor(problem, error): return "problem '\(problem)': \(error)"
        case let .data(problem, error): return "problem '\(problem)': \(error)"
        case let .nonFiniteLoss(problem, step, value):
            return "problem '\(problem)': loss is \(value) at local step \(step); lower the learning rate or check the data"
        case let .nonFiniteGradient(detail): return detail.description
        case let .unusedParameters(problem, names):
            let list = names.map { "'\($0)'" }.joined(separator: ", ")
            return "problem '\(problem)': its loss does not depend on parameter\(names.count == 1 ? "" : "s") \(list) (allow_unused is off); use \(names.count == 1 ? "it" : "them") in the loss, or turn allow_unused on to take \(names.count == 1 ? "its gradient" : "their gradients") as zero"
        case let .cancelled(interruption):
            return "cancelled \(interruption); the state is as after global step \(interruption.stateAfterStep)"
        case let .unsupportedPath(problem, method, reason): return "problem '\(problem)': \(method) \(reason)"
        case let .training(problem, message): return "problem '\(problem)': \(message)"
        case let .closedWindow(problem):
            return "problem '\(problem)' is reverse mode: a hypergradient through it runs back through its unrolled steps, which are recorded only while its window is open (from its first step of the window until its uppers step)"
        case let .unconnectedRead(reader, read):
            return "problem '\(reader)' reads '\(read)', a reverse-mode level whose parameters are recorded through its unrolled steps, but the two are not connected: add u2l[\"\(reader)\"] ∋ \"\(read)\" and l2u[\"\(read)\"] ∋ \"\(reader)\" if '\(reader)' is the upper level (connect \(reader) -> \(read)), or u2l[\"\(read)\"] ∋ \"\(reader)\" and l2u[\"\(reader)\"] ∋ \"\(read)\" if '\(read)' is (connect \(read) -> \(reader))"
        case let .replacedUnderOpenWindow(problem, window, steps, length):
            let left = length - steps
            return "problem '\(problem)' cannot be replaced now: the unrolled window of '\(window)' is open (step \(steps) of \(length)) and recorded its steps with the parameters of '\(problem)'; replace it after \(left) more step\(left == 1 ? "" : "s") of '\(window)', when the window has closed"
        case let .cannotCheck(problem, reason): return "cannot check the hypergradient of '\(problem)': \(reason)"
        case let .earlyStoppingMetricMissing(metric, returned):
            return "early stopping watches the validation metric '\(metric)', but the validation returned \(returned.isEmpty ? "no metrics" : "only " + returned.joined(separator: ", ")); set early stopping to one of its metrics or off, or have the validation return '\(metric)'"
        case let .userCode(problem, error): return "problem '\(problem)': \(error)"
        }
    }
}
