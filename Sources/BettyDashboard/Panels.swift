/// The boxed chart panels: a level's loss, the hypergradient norms, memory, validation metrics.
/// Each draws a stats line on top of its chart so the current values read without the axis.
extension RenderContext {
    func drawLevelPanel(_ level: LevelState, in rect: GridRect, on grid: inout CellGrid) {
        let color = color(ofLevel: level.name)
        grid.box(rect, title: level.name, unicode: unicode, titleStyle: Style(foreground: color, bold: true))
        let inner = rect.inner
        var stats = ["step \(level.localStep)"]
        if let loss = level.lastLoss { stats.append("loss " + Format.number(loss)) }
        if let rate = level.stepsPerSecond { stats.append(Format.rate(rate)) }
        let x = grid.put(stats.joined(separator: "  "), in: inner, line: 0) - inner.column
        if let bad = level.firstNonFinite {
            // The long form when it fits after the stats, else a short one over their right end.
            let long = "loss \(Format.number(bad.value)) at step \(bad.globalStep)"
            let short = "\(Format.number(bad.value))@\(bad.globalStep)"
            let fits = x + 2 + long.count <= inner.columns
            let note = fits ? long : short
            let column = fits ? x + 2 : max(0, inner.columns - note.count)
            if !fits { grid.put(" ", in: inner, line: 0, column: column - 1) }
            grid.put(note, in: inner, line: 0, column: column, style: Style(foreground: .red, bold: true))
        }
        let (_, chart) = inner.splitTop(1)
        BrailleChart.draw([ChartLine(level.loss, color: color)], in: chart, on: &grid, options: chartOptions)
    }

    /// Levels with paths, one colour each; `only` restricts it to one level (the focus view).
    func drawHypergradientPanel(in rect: GridRect, only: String? = nil, on grid: inout CellGrid) {
        let title = only.map { "hypergradient norm · \($0)" } ?? "hypergradient norm"
        grid.box(rect, title: unicode ? title : title.replacingDot(), unicode: unicode)
        let inner = rect.inner
        var lines: [ChartLine] = []
        var x = 0
        for level in model.levels where only == nil || level.name == only {
            guard let series = level.hypergradientNorm else { continue }
            let color = color(ofLevel: level.name)
            lines.append(ChartLine(series, color: color))
            let text = level.name + " " + (level.lastHypergradientNorm.map { Format.number($0) } ?? "-")
            x = grid.put(text + "  ", in: inner, line: 0, column: x, style: Style(foreground: color)) - inner.column
        }
        BrailleChart.draw(lines, in: inner.splitTop(1).1, on: &grid, options: chartOptions)
    }

    func drawMemoryPanel(in rect: GridRect, on grid: inout CellGrid) {
        grid.box(rect, title: "memory", unicode: unicode)
        let inner = rect.inner
        let curves: [(String, Series, Color)] = [
            ("rss", model.resident, .yellow), ("live", model.live, .green), ("peak", model.peak, .red),
        ].filter { !$0.1.isEmpty }
        let values = curves.map { name, series, _ in (name, series.lastFinite.map { Format.bytes(Int($0.y)) } ?? "-") }
        // "rss 212.4 MiB  live 18.1 MiB", or "rss 212.4MiB live 18.1MiB" in a narrow panel.
        let wide = values.map { "\($0) \($1)" }.joined(separator: "  ").count <= inner.columns
        var x = 0
        for ((name, value), (_, _, color)) in zip(values, curves) {
            let text = wide ? "\(name) \(value)  " : "\(name) \(value.replacingOccurrences(" ", "")) "
            x = grid.put(text, in: inner, line: 0, column: x, style: Style(foreground: color)) - inner.column
        }
        var options = chartOptions
        options.bytes = true
        BrailleChart.draw(curves.map { ChartLine($0.1, color: $0.2) }, in: inner.splitTop(1).1, on: &grid,
                          options: options)
    }

    func drawValidationPanel(in rect: GridRect, on grid: inout CellGrid) {
        grid.box(rect, title: "validation", unicode: unicode)
        let inner = rect.inner
        let palette: [Color] = [.cyan, .yellow, .green, .magenta, .blue, .red]
        var x = 0
        var lines: [ChartLine] = []
        for (i, name) in model.metricNames.enumerated() {
            guard let series = model.metrics[name] else { continue }
            let color = palette[i % palette.count]
            lines.append(ChartLine(series, color: color))
            let value = model.lastMetrics[name].map { Format.number($0) } ?? "-"
            x = grid.put("\(name) \(value)  ", in: inner, line: 0, column: x, style: Style(foreground: color))
                - inner.column
        }
        BrailleChart.draw(lines, in: inner.splitTop(1).1, on: &grid, options: chartOptions)
    }

    /// Many levels: one line each with a sparkline, when a panel per level would not fit.
    func drawLevelList(_ levels: [LevelState], in rect: GridRect, on grid: inout CellGrid) {
        grid.box(rect, title: "levels", unicode: unicode)
        let inner = rect.inner
        let nameWidth = min(14, max(6, inner.columns / 4))
        let shown = levels.count > inner.rows ? max(0, inner.rows - 1) : levels.count
        for (row, level) in levels.prefix(shown).enumerated() {
            let color = color(ofLevel: level.name)
            grid.put(level.name, in: inner, line: row, style: Style(foreground: color, bold: true))
            let loss = level.lastLoss.map { Format.number($0) } ?? "-"
            let stats = BrailleChart.rightAligned("\(level.localStep)", 7) + " " + BrailleChart.rightAligned(loss, 9)
            let end = grid.put(stats, in: inner, line: row, column: nameWidth) - inner.column
            let spark = GridRect(column: inner.column + end + 2, row: inner.row + row,
                                 columns: inner.columns - end - 2, rows: 1)
            var options = chartOptions
            options.axes = false
            BrailleChart.draw([ChartLine(level.loss, color: color)], in: spark, on: &grid, options: options)
            if level.firstNonFinite != nil { grid.put("!", in: inner, line: row, column: nameWidth - 1, style: Style(foreground: .red, bold: true)) }
        }
        if shown < levels.count {
            grid.put("+\(levels.count - shown) more (tab to focus)", in: inner, line: shown, style: Style(dim: true))
        }
    }
}

extension String {
    /// ASCII terminals get '-' for the middle dot used in titles.
    func replacingDot() -> String { String(String.UnicodeScalarView(unicodeScalars.map { $0 == "·" ? "-" : $0 })) }

    func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
