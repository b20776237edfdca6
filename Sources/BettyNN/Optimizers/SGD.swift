import BettyTensor

/// Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight decay:
///
///     d = g + weightDecay * p
///     buf = d                                  (first step)
///     buf = momentum * buf + (1 - dampening) * d   (later steps)
///     d = nesterov ? d + momentum * buf : buf
///     p = p - lr * d
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public var momentum: Float
    public var dampening: Float
    public var weightDecay: Float
    public var nesterov: Bool
    public var states: [ParameterState]

    public init(_ parameters: [Parameter], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) {
        precondition(learningRate >= 0, "SGD: learning rate must be >= 0")
        precondition(!nesterov || (momentum > 0 && dampening == 0),
                     "SGD: Nesterov momentum requires a momentum and zero dampening")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        states = Array(repeating: ParameterState(), count: parameters.count)
    }

    public func update(_ p: Tensor, gradient g: Tensor, state: ParameterState) throws(TensorError) -> (Tensor, ParameterState) {
        var state = state
        var d = weightDecay != 0 ? try g + weightDecay * p : g
        if momentum != 0 {
            let buffer: Tensor
            if let previous = state["momentum_buffer"] {
                buffer = try momentum * previous + (1 - dampening) * d
            } else {
                buffer = d
            }
            state["momentum_buffer"] = buffer
            d = nesterov ? try d + momentum * buffer : buffer
        }
        state.step += 1
        return (try p - learningRate * d, state)
    }
}
