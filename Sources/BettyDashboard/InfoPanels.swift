/// The text panels under the charts: the program's shape and the session's last output lines.
extension RenderContext {
    func drawProgram(in rect: GridRect, on grid: inout CellGrid) {
        grid.box(rect, title: "program", unicode: unicode)
        let inner = rect.inner
        let arrow = " -> "
        var lines: [(String, Style)] = []
        if model.paths.isEmpty {
            let names = model.levels.map(\.name)
            lines.append((names.isEmpty ? "no program" : "levels " + names.joined(separator: ", "), Style(dim: true)))
        }
        for path in model.paths {
            for part in Self.wrap(path, separator: arrow, width: inner.columns - 1) { lines.append((part, Style())) }
        }
        for name in model.metricNames {
            let value = model.lastMetrics[name].map { Format.number($0) } ?? "-"
            let at = model.metrics[name]?.lastX.map { " @\($0)" } ?? ""
            lines.append(("val \(name) \(value)\(at)", Style(foreground: .cyan)))
        }
        for (i, (text, style)) in lines.prefix(inner.rows).enumerated() {
            grid.put(" " + text, in: inner, line: i, style: style)
        }
    }

    func drawOutput(in rect: GridRect, on grid: inout CellGrid) {
        grid.box(rect, title: "output", unicode: unicode)
        let inner = rect.inner
        let shown = model.output.suffix(inner.rows)
        for (i, line) in shown.enumerated() {
            grid.put(" " + line.text, in: inner, line: i, style: Self.style(of: line.kind))
        }
    }

    /// A path broken before an arrow when it is wider than the panel; continuation lines indent.
    static func wrap(_ path: [String], separator: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for (i, name) in path.enumerated() {
            let piece = i == 0 ? name : separator + name
            if !current.isEmpty, current.count + piece.count > width {
                lines.append(current)
                current = "  " + piece.drop { $0 == " " }
            } else {
                current += piece
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    static func style(of kind: OutputLine.Kind) -> Style {
        switch kind {
        case .info: Style()
        case .warning: Style(foreground: .yellow)
        case .error, .expectationFailed: Style(foreground: .red, bold: true)
        case .expectationPassed: Style(foreground: .green)
        }
    }
}
