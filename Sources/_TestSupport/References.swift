import Testing
import BettyTensor
import Foundation

/// Direct definitions, in Double, that tests compare the library against.
public enum Reference {
    /// Cross-correlation over `[N, C, H, W]` with weight `[O, C, kh, kw]` and an optional bias `[O]`,
    /// zero padding outside the image, straight from the definition.
    public static func conv2d(_ x: Tensor, _ w: Tensor, bias: Tensor? = nil,
                              stride: (Int, Int), padding: (Int, Int)) -> [Double] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let oh = (h + 2 * padding.0 - kh) / stride.0 + 1, ow = (wd + 2 * padding.1 - kw) / stride.1 + 1
        let xs = x.scalars, ws = w.scalars, bs = bias?.scalars
        var out: [Double] = []
        for b in 0..<n { for f in 0..<o { for i in 0..<oh { for j in 0..<ow {
            var s = bs.map { Double($0[f]) } ?? 0
            for ch in 0..<c { for dy in 0..<kh { for dx in 0..<kw {
                let y = i * stride.0 - padding.0 + dy, xx = j * stride.1 - padding.1 + dx
                guard y >= 0, y < h, xx >= 0, xx < wd else { continue }
                s += Double(xs[((b * c + ch) * h + y) * wd + xx]) * Double(ws[((f * c + ch) * kh + dy) * kw + dx])
            } } }
            out.append(s)
        } } } }
        return out
    }
}

/// The library's elementwise functions of one tensor, each with its Double reference, so forward and
/// gradient tests iterate over the same list.
public enum UnaryFunction: String, CaseIterable, Sendable {
    case neg, exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu, softplus

    public func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .neg: -x
        case .exp: BettyTensor.exp(x)
        case .log: BettyTensor.log(x)
        case .sqrt: BettyTensor.sqrt(x)
        case .abs: BettyTensor.abs(x)
        case .sin: BettyTensor.sin(x)
        case .cos: BettyTensor.cos(x)
        case .tanh: BettyTensor.tanh(x)
        case .sigmoid: BettyTensor.sigmoid(x)
        case .relu: BettyTensor.relu(x)
        case .softplus: BettyTensor.softplus(x)
        }
    }

    public func reference(_ x: Double) -> Double {
        switch self {
        case .neg: -x
        case .exp: Foundation.exp(x)
        case .log: Foundation.log(x)
        case .sqrt: x.squareRoot()
        case .abs: Swift.abs(x)
        case .sin: Foundation.sin(x)
        case .cos: Foundation.cos(x)
        case .tanh: Foundation.tanh(x)
        case .sigmoid: 1 / (1 + Foundation.exp(-x))
        case .relu: Swift.max(x, 0)
        case .softplus: Foundation.log1p(Foundation.exp(x))
        }
    }
}

/// The batched-matmul layouts tests cover: which operand carries a batch dimension (at least one),
/// and which is transposed.
public struct BatchedMatmulLayout: Sendable, CustomTestStringConvertible {
    public let aBatched: Bool, bBatched: Bool, tA: Bool, tB: Bool

    public var testDescription: String {
        "rank \(aBatched ? 3 : 2)\(tA ? "ᵀ" : "") × rank \(bBatched ? 3 : 2)\(tB ? "ᵀ" : "")"
    }

    public static let all: [BatchedMatmulLayout] = [(true, true), (true, false), (false, true)].flatMap { ab in
        [(false, false), (true, false), (false, true), (true, true)].map {
            BatchedMatmulLayout(aBatched: ab.0, bBatched: ab.1, tA: $0.0, tB: $0.1)
        }
    }
}
