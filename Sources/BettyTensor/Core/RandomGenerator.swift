/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Explicit and a value type: every random tensor names the generator it draws from, so a seed
/// fixes every number of a run, and the state can be saved in a checkpoint and restored.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Hashable {
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// Restores a generator from a saved `state`.
    public init(state: (UInt64, UInt64, UInt64, UInt64)) { self.state = state }

    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 24 random bits (every Float32 step in [0, 1) is reachable).
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Standard normal by Box–Muller (one value per call, so the stream is simple to reason about).
    public mutating func nextNormal() -> Float {
        let u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let r = (-2 * _log(1 - u1)).squareRoot()
        return Float(r * _cos(2 * Double.pi * u2))
    }

    public static func == (a: RandomGenerator, b: RandomGenerator) -> Bool {
        a.state == b.state
    }

    public func hash(into h: inout Hasher) {
        h.combine(state.0); h.combine(state.1); h.combine(state.2); h.combine(state.3)
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#endif

extension Tensor {
    /// Normal samples with the given mean and standard deviation.
    public static func randomNormal(_ shape: Shape, mean: Float = 0, std: Float = 1,
                                    using generator: inout RandomGenerator) -> Tensor {
        let s = TensorStorage.allocate(count: shape.elementCount)
        for i in 0..<shape.elementCount { s.pointer[i] = mean + std * generator.nextNormal() }
        return Tensor(storage: s, shape: shape)
    }

    /// Uniform samples in `[low, high)`.
    public static func randomUniform(_ shape: Shape, low: Float = 0, high: Float = 1,
                                     using generator: inout RandomGenerator) -> Tensor {
        let s = TensorStorage.allocate(count: shape.elementCount)
        for i in 0..<shape.elementCount { s.pointer[i] = low + (high - low) * generator.nextUniform() }
        return Tensor(storage: s, shape: shape)
    }

    /// Ones with probability `p`, else zeros.
    public static func bernoulli(_ shape: Shape, probability p: Float,
                                 using generator: inout RandomGenerator) throws(TensorError) -> Tensor {
        guard p >= 0 && p <= 1 else {
            throw .invalidArgument(op: "bernoulli", message: "probability \(p) must be in [0, 1]")
        }
        let s = TensorStorage.allocate(count: shape.elementCount)
        for i in 0..<shape.elementCount { s.pointer[i] = generator.nextUniform() < p ? 1 : 0 }
        return Tensor(storage: s, shape: shape)
    }
}
