import BettyTensor

/// How a parameter's first value is drawn. Fan-in and fan-out follow PyTorch: for a weight of shape
/// `[out, in, k...]`, fanIn = in * prod(k) and fanOut = out * prod(k).
public enum Initializer: Sendable, Equatable {
    case zeros
    case ones
    case constant(Float)
    case uniform(low: Float, high: Float)
    case normal(mean: Float, std: Float)
    /// He et al.: U(-b, b) with b = gain * sqrt(3 / fanIn), gain = sqrt(2 / (1 + a²)).
    case kaimingUniform(a: Float)
    /// He et al.: N(0, gain² / fanIn).
    case kaimingNormal(a: Float)
    /// Glorot: U(-b, b) with b = gain * sqrt(6 / (fanIn + fanOut)).
    case xavierUniform(gain: Float)
    /// Glorot: N(0, gain² * 2 / (fanIn + fanOut)).
    case xavierNormal(gain: Float)

    /// PyTorch's default for `nn.Linear` and `nn.Conv2d` weights: kaiming uniform with a = sqrt(5),
    /// which is U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    public static let torchDefault = Initializer.kaimingUniform(a: Float(5).squareRoot())

    /// PyTorch's bias initialisation for a layer with `fanIn` inputs per output:
    /// U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    public static func torchBias(fanIn: Int) -> Initializer {
        let bound = 1 / Float(Swift.max(fanIn, 1)).squareRoot()
        return .uniform(low: -bound, high: bound)
    }

    public func make(_ shape: Shape, using generator: inout RandomGenerator) -> Tensor {
        let (fanIn, fanOut) = Self.fans(shape)
        switch self {
        case .zeros: return .zeros(shape)
        case .ones: return .ones(shape)
        case let .constant(c): return .full(shape, c)
        case let .uniform(low, high): return .randomUniform(shape, low: low, high: high, using: &generator)
        case let .normal(mean, std): return .randomNormal(shape, mean: mean, std: std, using: &generator)
        case let .kaimingUniform(a):
            let bound = (2 / (1 + a * a)).squareRoot() * (3 / Float(Swift.max(fanIn, 1))).squareRoot()
            return .randomUniform(shape, low: -bound, high: bound, using: &generator)
        case let .kaimingNormal(a):
            let std = (2 / (1 + a * a)).squareRoot() / Float(Swift.max(fanIn, 1)).squareRoot()
            return .randomNormal(shape, std: std, using: &generator)
        case let .xavierUniform(gain):
            let bound = gain * (6 / Float(Swift.max(fanIn + fanOut, 1))).squareRoot()
            return .randomUniform(shape, low: -bound, high: bound, using: &generator)
        case let .xavierNormal(gain):
            let std = gain * (2 / Float(Swift.max(fanIn + fanOut, 1))).squareRoot()
            return .randomNormal(shape, std: std, using: &generator)
        }
    }

    static func fans(_ shape: Shape) -> (fanIn: Int, fanOut: Int) {
        switch shape.rank {
        case 0: return (1, 1)
        case 1: return (shape[0], shape[0])
        default:
            let receptive = shape.dropFirst(2).reduce(1, *)
            return (shape[1] * receptive, shape[0] * receptive)
        }
    }
}
