/// One benchmark row: what was measured, ours, the reference and the target.
struct Row {
    var name: String
    var ours: Double
    var unit: String
    var reference: Double?
    var referenceName: String
    var target: String

    /// How many times faster than the reference (for times) or what fraction of it (for rates).
    var ratio: String {
        guard let reference, ours > 0 else { return "" }
        let r = unit.hasSuffix("/s") ? ours / reference : reference / ours
        return format(r, 2) + "x"
    }
}

func format(_ x: Double, _ digits: Int) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let v = (x * p).rounded() / p
    var s = "\(v)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        s += "." + String(repeating: "0", count: digits)
    }
    return s
}

func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: Swift.max(0, n - s.count))
    return right ? fill + s : s + fill
}

func printTable(_ rows: [Row]) {
    let header = ["benchmark", "ours", "unit", "reference", "vs ref", "target"]
    let cells = rows.map { r in
        [r.name, format(r.ours, r.ours < 10 ? 3 : 1), r.unit,
         r.reference.map { format($0, $0 < 10 ? 3 : 1) + " " + r.referenceName } ?? r.referenceName,
         r.ratio, r.target]
    }
    let widths = (0..<header.count).map { c in ([header[c]] + cells.map { $0[c] }).map(\.count).max()! }
    let line = { (row: [String]) in
        row.enumerated().map { pad($0.element, widths[$0.offset], right: $0.offset == 1 || $0.offset == 4) }
            .joined(separator: " | ")
    }
    print(line(header))
    print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "-|-"))
    for c in cells { print(line(c)) }
}
