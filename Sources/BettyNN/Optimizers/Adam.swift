import BettyTensor

/// Adam (Kingma & Ba) with PyTorch's bias correction and options; `decoupledWeightDecay` makes it
/// AdamW (Loshchilov & Hutter). State per parameter: `exp_avg`, `exp_avg_sq`, `last_grad` (the raw
/// gradient of the latest step) and, with amsgrad, `max_exp_avg_sq`:
///
///     g = g + weightDecay * p                    (Adam's L2 term)
///     p = p * (1 - lr * weightDecay)             (AdamW's decoupled decay, instead)
///     m = β1 m + (1 - β1) g,  v = β2 v + (1 - β2) g²
///     v̂ = amsgrad ? max(v̂, v) : v
///     p = p - (lr / (1 - β1^t)) * m / (sqrt(v̂) / sqrt(1 - β2^t) + eps)
public class Adam: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    public var amsgrad: Bool
    public let decoupledWeightDecay: Bool
    public var states: [ParameterState]

    public init(_ parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0, amsgrad: Bool = false,
                decoupledWeightDecay: Bool = false) {
        precondition(learningRate >= 0, "Adam: learning rate must be >= 0")
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "Adam: betas must be in [0, 1)")
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.decoupledWeightDecay = decoupledWeightDecay
        states = Array(repeating: ParameterState(), count: parameters.count)
    }

    public func update(_ p: Tensor, gradient: Tensor, state: ParameterState) throws(TensorError) -> (Tensor, ParameterState) {
        var state = state
        state.step += 1
        let t = Float(state.step)
        var p = p, g = gradient
        if weightDecay != 0 {
            if decoupledWeightDecay {
                p = p * (1 - learningRate * weightDecay)
            } else {
                g = try g + weightDecay * p
            }
        }
        let m = try (state["exp_avg"].map { beta1 * $0 } ?? g.zerosLike()) + (1 - beta1) * g
        let v = try (state["exp_avg_sq"].map { beta2 * $0 } ?? g.zerosLike()) + (1 - beta2) * (g * g)
        state["exp_avg"] = m
        state["exp_avg_sq"] = v
        // Betty's SAMA reads the last raw gradient beside the moments.
        state["last_grad"] = gradient
        var second = v
        if amsgrad {
            if let previous = state["max_exp_avg_sq"] {
                second = try Tensor.where(previous .> v, previous, v)
            }
            state["max_exp_avg_sq"] = second
        }
        let correction1 = 1 - pow(beta1, t), correction2 = 1 - pow(beta2, t)
        let denominator = sqrt(second) / correction2.squareRoot() + epsilon
        return (try p - (learningRate / correction1) * (m / denominator), state)
    }
}

/// AdamW: Adam with decoupled weight decay, PyTorch's default decay 1e-2.
public final class AdamW: Adam {
    public init(_ parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false) {
        super.init(parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                   weightDecay: weightDecay, amsgrad: amsgrad, decoupledWeightDecay: true)
    }
}

#if canImport(Glibc)
import Glibc
#endif
