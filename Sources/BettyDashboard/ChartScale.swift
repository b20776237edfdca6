import Foundation

/// The y axis of a chart: a finite range in linear or log10 space. Built only from finite values (and
/// only positive ones on a log axis), and padded when flat, so NaN, infinities, zeros or a single
/// point can never make the scale itself non-finite.
struct ChartScale {
    let logScale: Bool
    let low: Double
    let high: Double

    init?(values: [Float], logScale: Bool) {
        self.logScale = logScale
        let usable = values.filter { $0.isFinite && (!logScale || $0 > 0) }.map { Self.transform(Double($0), logScale) }
        guard var lo = usable.min(), var hi = usable.max() else { return nil }
        if hi - lo <= 0 {
            let pad = logScale ? 0.5 : (lo == 0 ? 1 : abs(lo) * 0.1)
            lo -= pad
            hi += pad
        }
        low = lo
        high = hi
    }

    /// The dot row (0 at the top) of `value` among `dotRows` rows; nil for a value this axis cannot show.
    func dotRow(_ value: Float, dotRows: Int) -> Int? {
        guard value.isFinite, !logScale || value > 0 else { return nil }
        let t = Self.transform(Double(value), logScale)
        let fraction = (high - t) / (high - low)
        let row = Int((fraction * Double(max(0, dotRows - 1))).rounded())
        return min(max(0, row), max(0, dotRows - 1))
    }

    var maximumLabel: Double { inverse(high) }
    var minimumLabel: Double { inverse(low) }

    private func inverse(_ t: Double) -> Double { logScale ? pow(10, t) : t }

    private static func transform(_ v: Double, _ log: Bool) -> Double { log ? log10(v) : v }
}
