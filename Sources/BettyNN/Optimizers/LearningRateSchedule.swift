#if canImport(Glibc)
import Glibc
#endif

/// A learning rate as a function of the step count (PyTorch's schedulers, computed in closed form
/// so a schedule can be evaluated at any step, e.g. after loading a checkpoint).
public indirect enum LearningRateSchedule: Sendable, Equatable {
    case constant
    /// Multiply by `gamma` at each milestone step.
    case multiStep(milestones: [Int], gamma: Float)
    /// Multiply by `gamma` every `stepSize` steps.
    case step(stepSize: Int, gamma: Float)
    /// Cosine annealing from the base rate to `minimum` over `period` steps.
    case cosine(period: Int, minimum: Float)
    /// Linear warm-up from `startFactor * base` to `base` over `steps`, then `then`.
    case linearWarmup(steps: Int, startFactor: Float, then: LearningRateSchedule)

    /// The rate at `step` (0 is the first step) for base rate `base`.
    public func rate(at step: Int, base: Float) -> Float {
        switch self {
        case .constant:
            return base
        case let .multiStep(milestones, gamma):
            let passed = milestones.filter { step >= $0 }.count
            return base * pow(gamma, Float(passed))
        case let .step(size, gamma):
            precondition(size > 0, "step schedule: stepSize must be positive")
            return base * pow(gamma, Float(step / size))
        case let .cosine(period, minimum):
            precondition(period > 0, "cosine schedule: period must be positive")
            let t = Float(Swift.min(step, period))
            return minimum + (base - minimum) * (1 + cos(Float.pi * t / Float(period))) / 2
        case let .linearWarmup(steps, startFactor, then):
            if step < steps {
                let f = startFactor + (1 - startFactor) * Float(step) / Float(Swift.max(steps, 1))
                return base * f
            }
            return then.rate(at: step - steps, base: base)
        }
    }
}
