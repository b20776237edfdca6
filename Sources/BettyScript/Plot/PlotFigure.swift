import Foundation

/// One curve: y over global steps x.
struct PlotSeries {
    var name: String
    var x: [Int]
    var y: [Double]
}

/// One chart of the figure (a small multiple): its own axes, a legend of its series.
struct PlotPanel {
    var title: String
    var yLabel: String
    var series: [PlotSeries]
    /// The palette entry of the first series (each level's loss panel gets its own colour).
    var firstColor = 0
}

/// A standalone SVG of panels in a grid, two to a row: axes with ticks at nice numbers (`NiceTicks`),
/// grid lines, axis labels, a legend per panel. With `logScale` each panel's y axis is log10, except a
/// panel holding values <= 0, which stays linear and says so in `notes` (nothing is hidden).
/// Every finite point of a series is drawn, one `<path>` per series, up to `maxPointsPerSeries`;
/// beyond that each pixel column keeps its first, lowest, highest and last point, so a spike stays.
/// A NaN or infinity breaks the line (the next point starts a new piece) and is counted in `notes`.
struct PlotFigure {
    var panels: [PlotPanel]
    var logScale: Bool

    static let panelWidth = 520.0
    static let panelHeight = 320.0
    static let margin = (left: 76.0, right: 18.0, top: 56.0, bottom: 50.0)
    static let maxPointsPerSeries = 5000
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    func svg() -> (svg: String, notes: [String]) {
        let columns = min(2, max(1, panels.count))
        let rows = (panels.count + columns - 1) / columns
        let width = Double(columns) * Self.panelWidth, height = Double(max(1, rows)) * Self.panelHeight
        var notes: [String] = []
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Self.n(width))" height="\(Self.n(height))" viewBox="0 0 \(Self.n(width)) \(Self.n(height))" font-family="Helvetica, Arial, sans-serif" font-size="11">
        <rect x="0" y="0" width="\(Self.n(width))" height="\(Self.n(height))" fill="#ffffff"/>

        """
        for (i, panel) in panels.enumerated() {
            let ox = Double(i % columns) * Self.panelWidth, oy = Double(i / columns) * Self.panelHeight
            out += draw(panel, originX: ox, originY: oy, notes: &notes)
        }
        out += "</svg>\n"
        return (out, notes)
    }

    private func draw(_ panel: PlotPanel, originX: Double, originY: Double, notes: inout [String]) -> String {
        let m = Self.margin
        let left = originX + m.left, right = originX + Self.panelWidth - m.right
        let top = originY + m.top, bottom = originY + Self.panelHeight - m.bottom
        let xs = panel.series.flatMap(\.x)
        let finite = panel.series.flatMap { $0.y.filter(\.isFinite) }
        let nonPositive = finite.filter { $0 <= 0 }
        var log = logScale
        if log, !nonPositive.isEmpty {
            log = false
            notes.append("\(panel.title) stays linear: \(nonPositive.count) of its values are <= 0 (the smallest \(Self.n(nonPositive.min()!, digits: 6))), which a log scale cannot show")
        }
        for s in panel.series {
            let bad = s.y.filter { !$0.isFinite }.count
            if bad > 0 { notes.append("\(s.name): \(bad) NaN or infinite value\(bad == 1 ? "" : "s") left out (the line breaks there)") }
        }

        // x: the steps the panel covers, ticks inside them.
        let x0 = Double(xs.min() ?? 0), x1 = Double(xs.max() ?? 1)
        let xSpan = x1 > x0 ? (x0, x1) : (x0 - 1, x0 + 1)
        let xTicks = NiceTicks.linear(xSpan.0, xSpan.1, target: 6)
        let xTickList = xTicks.ticks.filter { $0 >= xSpan.0 && $0 <= xSpan.1 }
        func px(_ x: Double) -> Double { left + (x - xSpan.0) / (xSpan.1 - xSpan.0) * (right - left) }

        // y: widened to ticks at both ends.
        let yTicks: [Double], yLabels: [String], yDomain: ClosedRange<Double>
        if log {
            let t = NiceTicks.logarithmic(finite.min() ?? 1, finite.max() ?? 10)
            (yTicks, yLabels, yDomain) = (t.ticks, t.labels, t.extended)
        } else {
            let t = NiceTicks.linear(finite.min() ?? 0, finite.max() ?? 1)
            (yTicks, yLabels, yDomain) = (t.ticks, t.ticks.map { NiceTicks.label($0, step: t.step) }, t.extended)
        }
        func py(_ y: Double) -> Double {
            let v = log ? log10(y) : y
            return bottom - (v - yDomain.lowerBound) / (yDomain.upperBound - yDomain.lowerBound) * (bottom - top)
        }

        var s = "<g class=\"panel\" data-title=\"\(Self.escape(panel.title))\" data-scale=\"\(log ? "log" : "linear")\">\n"
        s += "<text class=\"title\" x=\"\(Self.n(left))\" y=\"\(Self.n(originY + 20))\" font-size=\"14\" font-weight=\"bold\">\(Self.escape(panel.title))\(log ? " (log scale)" : "")</text>\n"
        // Grid lines and ticks.
        for (t, label) in zip(yTicks, yLabels) {
            let y = py(t)
            s += "<line class=\"grid\" x1=\"\(Self.n(left))\" y1=\"\(Self.n(y))\" x2=\"\(Self.n(right))\" y2=\"\(Self.n(y))\" stroke=\"#e6e6e6\"/>\n"
            s += "<line x1=\"\(Self.n(left - 5))\" y1=\"\(Self.n(y))\" x2=\"\(Self.n(left))\" y2=\"\(Self.n(y))\" stroke=\"#333333\"/>\n"
            s += "<text class=\"ytick\" x=\"\(Self.n(left - 8))\" y=\"\(Self.n(y + 4))\" text-anchor=\"end\">\(label)</text>\n"
        }
        for t in xTickList {
            let x = px(t)
            s += "<line class=\"grid\" x1=\"\(Self.n(x))\" y1=\"\(Self.n(top))\" x2=\"\(Self.n(x))\" y2=\"\(Self.n(bottom))\" stroke=\"#e6e6e6\"/>\n"
            s += "<line x1=\"\(Self.n(x))\" y1=\"\(Self.n(bottom))\" x2=\"\(Self.n(x))\" y2=\"\(Self.n(bottom + 5))\" stroke=\"#333333\"/>\n"
            s += "<text class=\"xtick\" x=\"\(Self.n(x))\" y=\"\(Self.n(bottom + 18))\" text-anchor=\"middle\">\(NiceTicks.label(t, step: xTicks.step))</text>\n"
        }
        s += "<rect x=\"\(Self.n(left))\" y=\"\(Self.n(top))\" width=\"\(Self.n(right - left))\" height=\"\(Self.n(bottom - top))\" fill=\"none\" stroke=\"#333333\"/>\n"
        s += "<text class=\"xlabel\" x=\"\(Self.n((left + right) / 2))\" y=\"\(Self.n(bottom + 38))\" text-anchor=\"middle\">global step</text>\n"
        let labelY = (top + bottom) / 2, labelX = originX + 16
        s += "<text class=\"ylabel\" x=\"\(Self.n(labelX))\" y=\"\(Self.n(labelY))\" text-anchor=\"middle\" transform=\"rotate(-90 \(Self.n(labelX)) \(Self.n(labelY)))\">\(Self.escape(panel.yLabel))</text>\n"

        // Curves, clipped to the plot area, then the legend above it.
        let clip = "clip\(Int(originX))_\(Int(originY))"
        s += "<clipPath id=\"\(clip)\"><rect x=\"\(Self.n(left))\" y=\"\(Self.n(top))\" width=\"\(Self.n(right - left))\" height=\"\(Self.n(bottom - top))\"/></clipPath>\n"
        var legendX = left
        for (k, series) in panel.series.enumerated() {
            let color = Self.palette[(panel.firstColor + k) % Self.palette.count]
            var d = ""
            var pen = false
            for (x, y) in Self.thinned(series, columns: Int(right - left)) {
                guard y.isFinite, !log || y > 0 else { pen = false; continue }
                d += "\(pen ? "L" : "M")\(Self.n(px(Double(x)))) \(Self.n(py(y))) "
                pen = true
            }
            s += "<path class=\"series\" data-series=\"\(Self.escape(series.name))\" clip-path=\"url(#\(clip))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" stroke-linejoin=\"round\" d=\"\(d.trimmingCharacters(in: .whitespaces))\"/>\n"
            s += "<line class=\"legend\" x1=\"\(Self.n(legendX))\" y1=\"\(Self.n(originY + 38))\" x2=\"\(Self.n(legendX + 18))\" y2=\"\(Self.n(originY + 38))\" stroke=\"\(color)\" stroke-width=\"2.5\"/>\n"
            s += "<text class=\"legend\" x=\"\(Self.n(legendX + 22))\" y=\"\(Self.n(originY + 42))\">\(Self.escape(series.name))</text>\n"
            legendX += 22 + 7 * Double(series.name.count) + 16
        }
        return s + "</g>\n"
    }

    /// Every point, or when there are more than `maxPointsPerSeries`, per pixel column its first,
    /// lowest, highest and last finite point in step order (a NaN or infinity is kept once, so the
    /// line still breaks there).
    static func thinned(_ series: PlotSeries, columns: Int) -> [(Int, Double)] {
        let points = Array(zip(series.x, series.y))
        guard points.count > maxPointsPerSeries, let first = series.x.first, let last = series.x.last, last > first else { return points }
        var out: [(Int, Double)] = []
        var bucket: [(Int, Double)] = []
        var current = -1
        func flush() {
            let finite = bucket.enumerated().filter { $0.element.1.isFinite }
            if let lo = finite.min(by: { $0.element.1 < $1.element.1 }), let hi = finite.max(by: { $0.element.1 < $1.element.1 }) {
                let keep = Set([finite.first!.offset, lo.offset, hi.offset, finite.last!.offset])
                out += keep.sorted().map { bucket[$0] }
            }
            if let bad = bucket.first(where: { !$0.1.isFinite }) { out.append(bad) }
            bucket = []
        }
        for p in points {
            let c = Int(Double(p.0 - first) / Double(last - first) * Double(max(1, columns - 1)))
            if c != current { flush(); current = c }
            bucket.append(p)
        }
        flush()
        return out
    }

    /// A coordinate with at most two decimals, no trailing zeros.
    static func n(_ v: Double, digits: Int = 2) -> String {
        var text = String(format: "%.*f", Int32(digits), v)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }
}
