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

    /// The same rule in one pass: each element's operations in `update`'s order, so the bits agree.
    public func updateInPlace(_ value: inout Tensor, gradient: Tensor, state: inout ParameterState) -> Bool {
        state.step += 1
        let t = Float(state.step)
        let (b1, b2, eps, lr, amsgrad) = (beta1, beta2, epsilon, learningRate, amsgrad)
        let decay = decoupledWeightDecay ? 0 : weightDecay
        let shrink = decoupledWeightDecay && weightDecay != 0 ? 1 - learningRate * weightDecay : 1
        let step = lr / (1 - pow(b1, t)), rootCorrection2 = 1 / (1 - pow(b2, t)).squareRoot()
        // Missing moments start at zero, as `update`'s zerosLike() + ... does (so -0 becomes +0).
        var m = state.tensors.removeValue(forKey: "exp_avg") ?? Tensor.zeros(value.shape)
        var v = state.tensors.removeValue(forKey: "exp_avg_sq") ?? Tensor.zeros(value.shape)
        // Taken out of the state, not copied: a second reference would make the writes below copy them.
        var previousMax = amsgrad ? state.tensors.removeValue(forKey: "max_exp_avg_sq") : nil
        let hasMax = previousMax != nil
        let n = value.count
        var maximum = previousMax.take() ?? (amsgrad ? Tensor.zeros(value.shape) : Tensor(0))
        gradient.withUnsafeBufferPointer { g in
        value.withUnsafeMutableBufferPointer { p in
        m.withUnsafeMutableBufferPointer { m in
        v.withUnsafeMutableBufferPointer { v in
        maximum.withUnsafeMutableBufferPointer { top in
            let (g, p, m, v, top) = (g.baseAddress!, p.baseAddress!, m.baseAddress!, v.baseAddress!, top.baseAddress!)
            forEachBlock(of: n) { block in
                let p0 = block.load(p), g0 = block.load(g)
                let gi = decay != 0 ? g0 + p0 * decay : g0
                let pi = shrink != 1 ? p0 * shrink : p0
                let mi = block.load(m) * b1 + gi * (1 - b1)
                let vi = block.load(v) * b2 + gi * gi * (1 - b2)
                block.store(mi, m)
                block.store(vi, v)
                var second = vi
                if amsgrad {
                    if hasMax {
                        let previous = block.load(top)
                        second = vi.replacing(with: previous, where: previous .> vi)
                    }
                    block.store(second, top)
                }
                block.store(pi - mi / (second.squareRoot() * rootCorrection2 + eps) * step, p)
            }
        }}}}}
        state["exp_avg"] = m
        state["exp_avg_sq"] = v
        state["last_grad"] = gradient
        if amsgrad { state["max_exp_avg_sq"] = maximum }
        return true
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
