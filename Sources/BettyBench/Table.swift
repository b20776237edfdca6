/// One benchmark row: what was measured, ours, PyTorch's figure on this machine, another baseline
/// (raw OpenBLAS) where one applies, and the target from the issue.
struct Row {
    var name: String
    var ours: Double
    var unit: String
    var torch: Double?
    var baseline: (name: String, value: Double)? = nil
    var target: String

    /// How many times better than `reference`: faster for times, higher for rates.
    func ratio(to reference: Double?) -> String {
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
    let header = ["benchmark", "ours", "unit", "PyTorch 2.15", "vs PyTorch", "baseline", "vs baseline", "target"]
    let number = { (x: Double) in format(x, x < 10 ? 3 : 1) }
    let cells = rows.map { r in
        [r.name, number(r.ours), r.unit, r.torch.map(number) ?? "-", r.ratio(to: r.torch),
         r.baseline.map { number($0.value) + " " + $0.name } ?? "-", r.ratio(to: r.baseline?.value), r.target]
    }
    let widths = (0..<header.count).map { c in ([header[c]] + cells.map { $0[c] }).map(\.count).max()! }
    let numeric: Set<Int> = [1, 3, 4, 6]
    let line = { (row: [String]) in
        row.enumerated().map { pad($0.element, widths[$0.offset], right: numeric.contains($0.offset)) }
            .joined(separator: " | ")
    }
    print(line(header))
    print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "-|-"))
    for c in cells { print(line(c)) }
}
