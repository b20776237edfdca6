import BettyTensor

/// Per-parameter optimizer state: named tensors (`momentum_buffer`, `exp_avg`, `exp_avg_sq`, ...)
/// and the number of updates applied. Inspectable, because Betty's SAMA reads Adam's moments.
public struct ParameterState: Sendable {
    public var tensors: [String: Tensor] = [:]
    public var step = 0

    public init(tensors: [String: Tensor] = [:], step: Int = 0) {
        self.tensors = tensors
        self.step = step
    }

    public subscript(name: String) -> Tensor? {
        get { tensors[name] }
        set { tensors[name] = newValue }
    }
}

/// An update rule over a module's parameters, with PyTorch's semantics and defaults.
///
/// Each optimizer defines one rule, `update(_:gradient:state:)`, written in tensor operations. The
/// stateful `step()` applies it in place outside gradient recording; `functionalStep` applies it to
/// given tensors and returns new ones, so gradients can flow through unrolled steps (iterative
/// problems, reverse-mode hypergradients). Both use the same rule, so they agree bit for bit.
public protocol Optimizer: AnyObject {
    var parameters: [Parameter] { get }
    var learningRate: Float { get set }
    var states: [ParameterState] { get set }

    /// The new value of one parameter and its new state, from its value, gradient and state.
    func update(_ parameter: Tensor, gradient: Tensor, state: ParameterState) throws(TensorError) -> (Tensor, ParameterState)

    /// `update` applied to the value and state in place, in one pass and without temporaries, for
    /// `step()`; false when this optimizer has no such form (nothing is changed then). The result
    /// must equal `update`'s bit for bit: `functionalStep` records `update`, and an unrolled
    /// trajectory must match the stateful one. Called outside gradient recording, with a gradient
    /// of the value's shape.
    func updateInPlace(_ value: inout Tensor, gradient: Tensor, state: inout ParameterState) -> Bool
}

extension Optimizer {
    public func updateInPlace(_ value: inout Tensor, gradient: Tensor, state: inout ParameterState) -> Bool { false }
}

extension Optimizer {
    /// Applies one update to every parameter that has a gradient (`.grad`, as left by `backward()`).
    public func step() throws(TensorError) {
        try step(gradients: parameters.map(\.grad))
    }

    /// Applies one update with the given gradients (nil skips that parameter, as PyTorch does).
    public func step(gradients: [Tensor?]) throws(TensorError) {
        guard gradients.count == parameters.count else {
            throw .invalidArgument(op: "Optimizer.step",
                message: "\(gradients.count) gradients for \(parameters.count) parameters")
        }
        // Validate everything first so that a bad gradient leaves every parameter untouched.
        for (p, g) in zip(parameters, gradients) {
            if let g, g.shape != p.value.shape {
                throw .shapeMismatch(op: "Optimizer.step", shapes: [p.value.shape, g.shape],
                                     hint: "each gradient must have its parameter's shape")
            }
        }
        // In-place updates are applied as they go (their state is taken out of `states` first, so
        // its tensors are uniquely held and not copied); results of `update` are applied at the end.
        var newValues: [(index: Int, value: Tensor, state: ParameterState)] = []
        try withoutGrad { () throws(TensorError) in
            for (i, (p, g)) in zip(parameters, gradients).enumerated() {
                guard let g else { continue }
                var state = states[i]
                states[i] = ParameterState()
                let done = updateInPlace(&p.value, gradient: g.detached(), state: &state)
                states[i] = state
                if done { continue }
                let (value, next) = try update(p.value.detached(), gradient: g.detached(), state: state)
                newValues.append((i, value, next))
            }
        }
        for (i, value, state) in newValues {
            parameters[i].assign(value)
            states[i] = state
        }
    }

    /// One update applied to `values` (recorded when gradient recording is on), leaving the
    /// optimizer and its parameters untouched.
    public func functionalStep(_ values: [Tensor], gradients: [Tensor], states: [ParameterState])
        throws(TensorError) -> (values: [Tensor], states: [ParameterState]) {
        guard values.count == gradients.count, values.count == states.count else {
            throw .invalidArgument(op: "Optimizer.functionalStep",
                message: "\(values.count) values, \(gradients.count) gradients and \(states.count) states must match")
        }
        var outValues: [Tensor] = [], outStates: [ParameterState] = []
        for i in values.indices {
            let (v, s) = try update(values[i], gradient: gradients[i], state: states[i])
            outValues.append(v)
            outStates.append(s)
        }
        return (outValues, outStates)
    }

    /// Clears every parameter's accumulated gradient.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// Forgets all state (momentum, moments, step counts).
    public func resetState() { states = Array(repeating: ParameterState(), count: parameters.count) }
}

/// Scales `gradients` so their global L2 norm is at most `maxNorm` (PyTorch's `clip_grad_norm_`);
/// returns the clipped gradients and the norm before clipping.
public func clipGradientNorm(_ gradients: [Tensor], maxNorm: Float) throws(TensorError) -> (gradients: [Tensor], norm: Float) {
    guard maxNorm > 0 else {
        throw .invalidArgument(op: "clipGradientNorm", message: "maxNorm \(maxNorm) must be positive")
    }
    var total: Float = 0
    for g in gradients { total += try (g * g).sum().scalar }
    let norm = total.squareRoot()
    // PyTorch's clip coefficient, with its 1e-6 guard against division by zero.
    let coefficient = maxNorm / (norm + 1e-6)
    guard coefficient < 1 else { return (gradients, norm) }
    return (gradients.map { $0 * coefficient }, norm)
}
