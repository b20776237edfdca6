/// Byte counts as people write and read them: `"512MB"`, `"1.5GiB"`, `"4.0 TB"`.
///
/// Decimal units (KB = 1000 B, as disk makers and `ls --si` use) and binary ones (KiB = 1024 B);
/// a count is printed in decimal units with one decimal, which is what a reader compares at a glance.
public enum ByteCount {
    private static let decimal: [(suffix: String, factor: Double)] = [
        ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("PB", 1e15), ("EB", 1e18),
    ]
    private static let binary: [(suffix: String, factor: Double)] = [
        ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824), ("TIB", 1_099_511_627_776),
    ]

    /// The units `parse` accepts, for help and error texts.
    public static let units = "B, KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024)"

    /// `"2GB"`, `"1.5 GiB"`, `"512mb"`, `"3e9"` or `"3e9B"` as bytes (rounded down); nil when the text is
    /// not a non-negative number with an optional unit, or the count does not fit an `Int`.
    public static func parse(_ text: String) -> Int? {
        var body = Substring(text.filter { $0 != " " && $0 != "_" })
        var factor: Double = 1
        let upper = body.uppercased()
        if let unit = (binary + decimal).first(where: { upper.hasSuffix($0.suffix) }) {
            factor = unit.factor
            body = body.dropLast(unit.suffix.count)
        } else if upper.hasSuffix("B") {
            body = body.dropLast()
        }
        guard let number = Double(body), number.isFinite, number >= 0 else { return nil }
        let bytes = (number * factor).rounded(.down)
        guard bytes < 9.2e18 else { return nil }
        return Int(bytes)
    }

    /// `"512 B"`, `"8.0 KB"`, `"21.3 GB"`, `"4.0 PB"`.
    public static func format(_ bytes: Int) -> String {
        let value = Double(bytes)
        guard let unit = decimal.last(where: { value >= $0.factor }) else { return "\(bytes) B" }
        let scaled = value / unit.factor
        // One decimal, rounded half up, without Foundation's formatter.
        let tenths = (scaled * 10).rounded()
        return "\(Int(tenths) / 10).\(Int(tenths) % 10) \(unit.suffix)"
    }

    /// An element count as a reader takes it in: exact below a million, else `1e15` or `2.5e9`
    /// (three significant digits at most).
    public static func formatCount(_ count: Int) -> String {
        guard count >= 1_000_000 else { return "\(count)" }
        var exponent = 0
        var mantissa = Double(count)
        while mantissa >= 10 {
            mantissa /= 10
            exponent += 1
        }
        var hundredths = Int((mantissa * 100).rounded())
        if hundredths >= 1000 {
            hundredths /= 10
            exponent += 1
        }
        var digits = "\(hundredths / 100)"
        let fraction = hundredths % 100
        if fraction != 0 {
            digits += fraction % 10 == 0 ? ".\(fraction / 10)" : (fraction < 10 ? ".0\(fraction)" : ".\(fraction)")
        }
        return "\(digits)e\(exponent)"
    }
}
