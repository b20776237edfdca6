import BettyTensor

/// A gradient that was not finite when the engine was about to apply it: whose, which part of it,
/// and the setting that most likely made it. Nothing of it was applied.
public struct NonFiniteGradient: Sendable, Equatable, CustomStringConvertible {
    public enum Part: Sendable, Equatable {
        /// The problem's direct gradient, the partial derivative of its own loss.
        case direct
        /// The gradient of the loss with respect to `lower`'s parameters: the vector a path's
        /// hypergradient starts from.
        case lossGradient(lower: String)
        /// The product through `lower` by `method`, from a finite vector; `setting` is the
        /// configuration of `lower` that most likely made it, with why.
        case method(lower: String, method: ProblemConfig.Method, setting: String)
        /// The direct gradient plus `paths` path hypergradients, each finite on its own.
        case total(paths: Int)
    }

    /// The problem whose parameters would have received it.
    public var problem: String
    public var localStep: Int
    public var part: Part
    /// NaN somewhere, or else only infinities.
    public var hasNaN: Bool
    /// The problem's loss at this step, finite.
    public var loss: Float

    public var description: String {
        let kind = hasNaN ? "NaN" : "infinite"
        let kept = "at local step \(localStep), so nothing was applied to its parameters or optimizer state"
        switch part {
        case .direct:
            return "problem '\(problem)': its gradient is \(kind) \(kept), although its loss is finite (\(loss)); the loss is not differentiable at this point (a sqrt or log at 0, a division by 0?)"
        case let .lossGradient(lower):
            return "problem '\(problem)': the gradient of its loss with respect to the parameters of '\(lower)' is \(kind) \(kept), although the loss is finite (\(loss)); the loss is not differentiable there (a sqrt or log at 0, a division by 0?)"
        case let .method(lower, method, setting):
            return "problem '\(problem)': the hypergradient through '\(lower)' by \(method.rawValue) is \(kind) \(kept); the likely cause is \(lower)'s \(setting)"
        case let .total(paths):
            return "problem '\(problem)': its total gradient (direct term plus \(paths) path\(paths == 1 ? "" : "s")) is \(kind) \(kept), although each part is finite: the parts are too large to add; lower the learning rates, or the step settings of the hypergradient methods"
        }
    }

    /// The configuration of `lower` that makes `method`'s product blow up, with why.
    static func likelyCause(of method: ProblemConfig.Method, in lower: Problem) -> String {
        let c = lower.config
        switch method {
        case .darts:
            return "darts_alpha=\(c.dartsAlpha) (the finite-difference step is darts_alpha / |v|; the default is 0.01)"
        case .sama:
            return "sama_alpha=\(c.samaAlpha) (the finite-difference step is sama_alpha / |v|; the default is 1)"
        case .neumann:
            return "neumann_alpha=\(c.neumannAlpha) with neumann_iterations=\(c.neumannIterations) (the series diverges when neumann_alpha times the largest curvature of its loss exceeds 2; lower neumann_alpha)"
        case .cg:
            return "cg_iterations=\(c.cgIterations) (conjugate gradient assumes its loss is convex here; use fewer iterations, or darts)"
        case .reverse:
            return "unroll_steps=\(c.unrollSteps) with learning rate \(lower.optimizer.learningRate) (the product runs back through every unrolled step; a shorter window or a smaller rate keeps it finite)"
        }
    }
}

/// Whether every element of every tensor is finite. Reads only the exponent bits, with integer
/// operations that vectorise: adding 1 to an exponent of all ones (infinity, NaN) carries into the
/// sign bit, which nothing else reaches.
func allFinite(_ tensors: [Tensor]) -> Bool {
    for t in tensors {
        let finite = t.withUnsafeBufferPointer { values in
            values.withMemoryRebound(to: UInt32.self) { bits in
                var carried: UInt32 = 0
                for b in bits { carried |= (b & 0x7f80_0000) &+ 0x0080_0000 }
                return carried & 0x8000_0000 == 0
            }
        }
        if !finite { return false }
    }
    return true
}

func containsNaN(_ tensors: [Tensor]) -> Bool {
    tensors.contains { t in t.withUnsafeBufferPointer { $0.contains { $0.isNaN } } }
}
