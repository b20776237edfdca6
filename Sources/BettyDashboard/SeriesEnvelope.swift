/// What one drawing column holds of a series: the finite extremes (so a spike inside a decimated
/// bucket still shows as a vertical run), the values to connect to the neighbouring columns, and
/// whether a NaN or infinity fell there.
public struct EnvelopeColumn: Sendable, Equatable {
    public var minimum: Float?
    public var maximum: Float?
    public var first: Float?
    public var last: Float?
    public var nonFinite = false
    /// Values a log axis cannot show (<= 0) that fell in this column.
    public var hidden = 0
    public init() {}
}

extension Series {
    /// The column of step `x` when steps `from...to` are spread over `columns` columns, first and
    /// last step on the edge columns.
    public static func column(of x: Int, from: Int, to: Int, columns: Int) -> Int {
        guard to > from, columns > 1 else { return 0 }
        let c = Int((Double(x - from) * Double(columns - 1) / Double(to - from)).rounded(.down))
        return Swift.min(columns - 1, Swift.max(0, c))
    }

    /// Per column min/max/first/last over steps `from...to`. With `positiveOnly` (a log axis),
    /// values <= 0 are left out and counted in `hidden`.
    public func envelope(from: Int, to: Int, columns: Int, positiveOnly: Bool = false) -> [EnvelopeColumn] {
        guard columns > 0 else { return [] }
        var out = Array(repeating: EnvelopeColumn(), count: columns)
        forEachItem { b in
            guard b.hi >= from, b.lo <= to else { return }
            let c0 = Self.column(of: Swift.max(b.lo, from), from: from, to: to, columns: columns)
            let c1 = Self.column(of: Swift.min(b.hi, to), from: from, to: to, columns: columns)
            if b.nonFinite > 0 { out[c0].nonFinite = true }
            guard b.finite > 0 else { return }
            let low = positiveOnly ? b.minimumPositive : b.minimum
            let high = b.maximum
            let usable: (Float) -> Float? = { v in (!positiveOnly || v > 0) ? v : nil }
            if positiveOnly { out[c0].hidden += Int(b.nonPositive) }
            if low.isFinite, usable(high) != nil {
                for c in c0...c1 {
                    out[c].minimum = Swift.min(out[c].minimum ?? low, low)
                    out[c].maximum = Swift.max(out[c].maximum ?? high, high)
                }
            }
            if out[c0].first == nil, let f = usable(b.first) { out[c0].first = f }
            if let l = usable(b.last) { out[c1].last = l }
        }
        return out
    }

    /// An exponential moving average over steps `from...to`, debiased like TensorBoard's smoothing
    /// slider, sampled at the end of each column (nil where a column holds no finite value). A bucket
    /// of n points with mean m advances the average as n points of value m would.
    public func smoothed(weight: Float, from: Int, to: Int, columns: Int) -> [Float?] {
        guard columns > 0 else { return [] }
        let w = Double(Swift.min(Swift.max(weight, 0), 0.999))
        var out = [Float?](repeating: nil, count: columns)
        var accumulated = 0.0
        var decay = 1.0  // w^(points seen): 1 - decay debiases the average
        forEachItem { b in
            guard b.hi >= from, b.lo <= to, b.finite > 0 else { return }
            let n = Int(b.finite)
            let wn = n == 1 ? w : integerPower(w, n)
            accumulated = accumulated * wn + (1 - wn) * (b.sum / Double(n))
            decay *= wn
            let c = Self.column(of: Swift.min(b.hi, to), from: from, to: to, columns: columns)
            let value = decay < 1 ? accumulated / (1 - decay) : b.sum / Double(n)
            out[c] = Float(value)
        }
        return out
    }
}

/// w^n by squaring; avoids importing Foundation for one function.
func integerPower(_ w: Double, _ n: Int) -> Double {
    var result = 1.0
    var base = w
    var e = n
    while e > 0 {
        if e & 1 == 1 { result *= base }
        base *= base
        e >>= 1
    }
    return result
}
