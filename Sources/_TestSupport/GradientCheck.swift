import BettyTensor

/// The worst disagreement between an analytic and a numeric derivative, scaled by the tolerance:
/// `max |analytic - numeric| / (atol + rtol * |numeric|)`; at most 1 passes.
public struct GradientCheckReport: CustomStringConvertible, Sendable {
    public var worstRatio: Float = 0
    public var worst: String = "no elements"

    public var passed: Bool { worstRatio <= 1 }
    public var description: String { "worst ratio \(worstRatio) at \(worst)" }
}

/// Finite-difference checks of gradients computed by the tape.
///
/// Float32 central differences with step `eps` carry a rounding error of about
/// `ulp(f) / eps ≈ 1e-7 |f| / 1e-2 = 1e-5 |f|` and a truncation error of `eps² |f'''| / 6 ≈ 2e-5 |f'''|`,
/// so `atol = 1e-3`, `rtol = 1e-2` separate a correct rule from a wrong one (a wrong rule is off by
/// O(1)) without flaking. Differences are taken in Double from Float32 evaluations.
public enum GradientCheck {
    /// Checks the gradient of `f` at `inputs` by projecting its output on fixed random weights
    /// (so every output element's derivative is tested) and comparing to central differences.
    public static func check(
        at inputs: [Tensor], eps: Float = 1e-2, atol: Float = 1e-3, rtol: Float = 1e-2, seed: UInt64 = 7,
        _ f: ([Tensor]) throws -> Tensor
    ) throws -> GradientCheckReport {
        let leaves = inputs.map { $0.detached().requiringGrad() }
        let probe = try f(leaves)
        var gen = RandomGenerator(seed: seed)
        let weights = Tensor.randomUniform(probe.shape, low: 0.5, high: 1.5, using: &gen)
        func objective(_ xs: [Tensor]) throws -> Double {
            let y = try f(xs)
            return zip(y.scalars, weights.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let analytic = try grad(of: (probe * weights).sum(), wrt: leaves, allowUnused: true)
        var report = GradientCheckReport()
        for (k, input) in inputs.enumerated() {
            let values = input.scalars
            let a = analytic[k].scalars
            for i in values.indices {
                var plus = values, minus = values
                plus[i] += eps
                minus[i] -= eps
                var args = inputs.map { $0.detached() }
                args[k] = try Tensor(shape: input.shape, scalars: plus)
                let fp = try withoutGrad { try objective(args) }
                args[k] = try Tensor(shape: input.shape, scalars: minus)
                let fm = try withoutGrad { try objective(args) }
                let numeric = Float((fp - fm) / (2 * Double(eps)))
                let ratio = Swift.abs(a[i] - numeric) / (atol + rtol * Swift.abs(numeric))
                if ratio > report.worstRatio || ratio.isNaN {
                    report.worstRatio = ratio.isNaN ? .infinity : ratio
                    report.worst = "input \(k) element \(i): analytic \(a[i]), numeric \(numeric)"
                }
            }
        }
        return report
    }

    /// Checks second order: the gradient of `f`, recorded with `createGraph`, is itself checked
    /// against finite differences, which exercises every backward rule's own backward rule.
    public static func checkSecondOrder(
        at inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2, seed: UInt64 = 11,
        _ f: @escaping ([Tensor]) throws -> Tensor
    ) throws -> GradientCheckReport {
        var gen = RandomGenerator(seed: seed)
        let firstProbe = try f(inputs)
        let weights = Tensor.randomUniform(firstProbe.shape, low: 0.5, high: 1.5, using: &gen)
        // g(x) = d/dx sum(f(x) * w), for all inputs, concatenated.
        return try check(at: inputs, eps: eps, atol: atol, rtol: rtol, seed: seed &+ 1) { xs in
            // Leaves in the analytic pass; fresh leaves around the perturbed copies in the numeric one.
            let leaves = xs.map { $0.requiresGrad ? $0 : $0.requiringGrad() }
            let y = try withGrad { try (f(leaves) * weights).sum() }
            let gs = try withGrad { try grad(of: y, wrt: leaves, createGraph: true, allowUnused: true) }
            return try Tensor.concat(gs.map { try $0.reshaped(to: [-1]) }, axis: 0)
        }
    }
}
