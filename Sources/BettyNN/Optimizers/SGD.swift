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

    /// The same rule in one pass: each element's operations in `update`'s order, so the bits agree.
    public func updateInPlace(_ value: inout Tensor, gradient: Tensor, state: inout ParameterState) -> Bool {
        let (lr, mu, wd, keep, nesterov) = (learningRate, momentum, weightDecay, 1 - dampening, nesterov)
        // Taken out of the state, not copied: a second reference would make the write below copy it.
        var previous = mu != 0 ? state.tensors.removeValue(forKey: "momentum_buffer") : nil
        let fresh = previous == nil
        // The first momentum step's buffer is d itself: the gradient when there is no decay.
        let sharesGradient = mu != 0 && fresh && wd == 0
        var buffer = mu == 0 ? nil : previous.take() ?? (sharesGradient ? gradient : Tensor.zeros(value.shape))
        let n = value.count
        gradient.withUnsafeBufferPointer { g in
            value.withUnsafeMutableBufferPointer { p in
                let (g, p) = (g.baseAddress!, p.baseAddress!)
                @inline(__always) func direction(_ block: Block8) -> SIMD8<Float> {
                    wd != 0 ? block.load(g) + block.load(p) * wd : block.load(g)
                }
                if mu == 0 || sharesGradient {
                    forEachBlock(of: n) { block in
                        let d = direction(block)
                        block.store(block.load(p) - (nesterov ? d + d * mu : d) * lr, p)
                    }
                    return
                }
                buffer!.withUnsafeMutableBufferPointer { b in
                    let b = b.baseAddress!
                    forEachBlock(of: n) { block in
                        let d = direction(block)
                        let next = fresh ? d : block.load(b) * mu + d * keep
                        block.store(next, b)
                        block.store(block.load(p) - (nesterov ? d + next * mu : next) * lr, p)
                    }
                }
            }
        }
        if let buffer { state["momentum_buffer"] = buffer }
        state.step += 1
        return true
    }
}
