import BettyTensor

/// Code that always yields a tensor.
typealias TensorCode = (inout Env) throws(ScriptError) -> Tensor

/// A compiled expression with its kind settled at compile time where it can be. Most of a loss is
/// tensor-valued (the batch, parameters, problem calls, losses): evaluated as `.tensor` code, its
/// intermediates are never wrapped in `Value` and no operator switches on kinds per step.
enum Node {
    /// A constant, folded at compile time.
    case number(Float)
    case tensor(TensorCode)
    /// A number or a tensor, known only when evaluated (a `let` value, a metric, a validation result).
    case value(Compiled)

    var compiled: Compiled {
        switch self {
        case let .number(x): { _ in .number(x) }
        case let .tensor(code): { (env: inout Env) throws(ScriptError) -> Value in .tensor(try code(&env)) }
        case let .value(code): code
        }
    }

    var tensorCode: TensorCode {
        switch self {
        case let .number(x): { _ in Tensor(x) }
        case let .tensor(code): code
        case let .value(code): { (env: inout Env) throws(ScriptError) -> Tensor in try code(&env).tensor }
        }
    }
}

/// Runs tensor code, reporting a failure at `location`.
@inline(__always)
func located<T>(_ location: SourceLocation, _ body: () throws(TensorError) -> T) throws(ScriptError) -> T {
    do { return try body() } catch { throw ScriptError("\(error)", at: location) }
}
