/// Compact text for numbers, byte counts and durations. Written without Foundation's formatters so
/// the same value prints the same on every machine and locale (the golden screens depend on it).
public enum Format {
    /// Four significant digits, trailing zeros trimmed; exponent notation ("1.23e-4") outside
    /// [0.001, 100000) where fixed notation would be long or lose every digit.
    public static func number(_ value: Double, significant: Int = 4) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == 0 { return "0" }
        let sign = value < 0 ? "-" : ""
        let magnitude = abs(value)
        let digits = max(1, significant)
        if magnitude >= 1e-3 && magnitude < 1e5 {
            let exponent = Int(log10Floor(magnitude))
            let decimals = max(0, digits - 1 - exponent)
            return sign + fixed(magnitude, decimals: decimals)
        }
        var exponent = Int(log10Floor(magnitude))
        var mantissa = magnitude / pow10(exponent)
        // Rounding can carry the mantissa to 10 (9.9996e3 -> 10.00e3): renormalise.
        let decimals = max(0, min(digits, 3) - 1)
        if (mantissa * pow10(decimals)).rounded() >= 10 * pow10(decimals) {
            mantissa /= 10
            exponent += 1
        }
        return sign + fixed(mantissa, decimals: decimals) + "e" + String(exponent)
    }

    public static func number(_ value: Float) -> String { number(Double(value)) }

    /// "512 B", "18.1 KiB", "212.4 MiB", "1.5 GiB".
    public static func bytes(_ count: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        if abs(count) < 1024 { return "\(count) B" }
        var value = Double(count) / 1024
        var unit = 0
        while abs(value) >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return fixed(abs(value), decimals: 1, trim: false).withSign(count < 0) + " " + units[unit]
    }

    /// At most seven characters for an axis label: "512B", "18.1K", "212M", "1.5G".
    public static func compactBytes(_ value: Double) -> String {
        guard value.isFinite else { return number(value) }
        let units = ["B", "K", "M", "G", "T", "P"]
        var v = abs(value)
        var unit = 0
        while v >= 1024 && unit < units.count - 1 {
            v /= 1024
            unit += 1
        }
        let digits = v >= 100 || unit == 0 ? 0 : 1
        return (value < 0 ? "-" : "") + fixed(v, decimals: digits) + units[unit]
    }

    /// "42s", "1m05s", "2h03m", "3d04h"; negative or non-finite durations print as "-".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 10 && seconds.rounded(.down) != seconds {
            return fixed(seconds, decimals: 1, trim: false) + "s"
        }
        let total = Int(seconds.rounded(.down))
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m" + twoDigits(total % 60) + "s" }
        if total < 86400 { return "\(total / 3600)h" + twoDigits(total / 60 % 60) + "m" }
        return "\(total / 86400)d" + twoDigits(total / 3600 % 24) + "h"
    }

    /// A rate in steps per second: "1234/s", "12.5/s", "0.25/s".
    public static func rate(_ perSecond: Double) -> String {
        guard perSecond.isFinite, perSecond >= 0 else { return "-" }
        if perSecond >= 100 { return "\(Int(perSecond.rounded()))/s" }
        return number(perSecond, significant: 3) + "/s"
    }

    private static func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// Fixed-point digits by integer arithmetic; magnitudes here are below 1e5 so the scaled value
    /// fits an Int comfortably.
    static func fixed(_ magnitude: Double, decimals: Int, trim: Bool = true) -> String {
        let scale = pow10(decimals)
        let scaled = Int((magnitude * scale).rounded())
        let unit = Int(scale)
        let whole = scaled / unit
        var fraction = decimals == 0 ? "" : String(scaled % unit)
        while fraction.count < decimals { fraction = "0" + fraction }
        if trim { while fraction.hasSuffix("0") { fraction.removeLast() } }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }

    static func pow10(_ n: Int) -> Double {
        var r = 1.0
        if n >= 0 { for _ in 0..<n { r *= 10 } } else { for _ in 0..<(-n) { r /= 10 } }
        return r
    }

    /// floor(log10(x)) for x > 0 by comparison, so exact powers of ten land on their own exponent.
    static func log10Floor(_ x: Double) -> Double {
        var e = 0
        var p = 1.0
        if x >= 1 {
            while p * 10 <= x { p *= 10; e += 1 }
        } else {
            while p > x { p /= 10; e -= 1 }
        }
        return Double(e)
    }
}

private extension String {
    func withSign(_ negative: Bool) -> String { negative ? "-" + self : self }
}
