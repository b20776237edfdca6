import Foundation

/// Axis ticks at numbers a person would write: multiples of 1, 2 or 5 times a power of ten on a
/// linear axis, powers of ten (and their 2 and 5 multiples when the range spans less than two
/// decades) on a log axis. The dashboard's charts label only their ends, so this is the one place
/// ticks are chosen.
enum NiceTicks {
    /// The 1-2-5 number nearest above `raw` (raw > 0).
    static func niceStep(_ raw: Double) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        let exponent = (log10(raw)).rounded(.down)
        let power = pow(10, exponent)
        let fraction = raw / power
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        return nice * power
    }

    /// About `target` ticks over `low...high`; the range widened to whole steps (`extended`) so the
    /// axis ends on ticks too.
    static func linear(_ low: Double, _ high: Double, target: Int = 5) -> (ticks: [Double], step: Double, extended: ClosedRange<Double>) {
        var lo = low, hi = high
        if !(hi > lo) {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        let step = niceStep((hi - lo) / Double(max(1, target)))
        let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
        let ticks = stride(from: first, through: last, by: 1).map { clean($0 * step, step: step) }
        return (ticks, step, ticks.first!...ticks.last!)
    }

    /// Ticks for a log axis over `low...high` (both > 0), and the range in log10 units the axis covers.
    static func logarithmic(_ low: Double, _ high: Double) -> (ticks: [Double], labels: [String], extended: ClosedRange<Double>) {
        func decadeLabel(_ v: Double) -> String { label(v, step: pow(10, log10(v).rounded(.down))) }
        var a = log10(low), b = log10(high)
        if !(b > a) { a -= 0.5; b += 0.5 }
        if b - a >= 1.5 {
            // Whole decades; every second, third, ... one when there are many.
            let lo = Int(a.rounded(.down)), hi = Int(b.rounded(.up))
            let every = max(1, Int((Double(hi - lo) / 6).rounded(.up)))
            let ticks = stride(from: lo, through: hi, by: every).map { pow(10, Double($0)) }
            return (ticks, ticks.map(decadeLabel), Double(lo)...Double(hi))
        }
        var ticks: [Double] = []
        for e in Int(a.rounded(.down))...Int(b.rounded(.up)) {
            for m in [1.0, 2, 5] {
                let v = clean(m * pow(10, Double(e)), step: pow(10, Double(e)))
                if log10(v) >= a - 1e-12, log10(v) <= b + 1e-12 { ticks.append(v) }
            }
        }
        if ticks.count < 3 {
            // Less than a factor of ten or so: linear nice steps inside the range.
            let inner = linear(pow(10, a), pow(10, b)).step
            let start = (pow(10, a) / inner - 1e-9).rounded(.up), end = (pow(10, b) / inner + 1e-9).rounded(.down)
            let linearTicks = stride(from: start, through: end, by: 1).map { clean($0 * inner, step: inner) }.filter { $0 > 0 }
            if linearTicks.count >= 2 { return (linearTicks, linearTicks.map { label($0, step: inner) }, a...b) }
        }
        return (ticks, ticks.map(decadeLabel), a...b)
    }

    /// `v` rounded to the decimals its step has, so 3 * 0.1 is 0.3.
    static func clean(_ v: Double, step: Double) -> Double {
        let decimals = max(0, -Int(log10(step).rounded(.down)))
        guard decimals > 0 else { return v.rounded() == -0 ? 0 : v.rounded() }
        let scale = pow(10, Double(min(decimals, 15)))
        return (v * scale).rounded() / scale
    }

    /// The label of a tick: as many decimals as the step needs, or scientific notation for very large
    /// or very small numbers (`2e-05`, `1.5e+06`).
    static func label(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        let magnitude = abs(v)
        if magnitude >= 1e6 || magnitude < 1e-4 { return String(format: "%g", v) }
        let decimals = max(0, -Int(log10(step).rounded(.down)))
        let text = String(format: "%.*f", Int32(decimals), v)
        return text == "-0" ? "0" : text
    }
}
