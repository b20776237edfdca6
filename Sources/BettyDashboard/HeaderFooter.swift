/// The status line on top and the key line at the bottom.
extension RenderContext {
    func drawHeader(in rect: GridRect, on grid: inout CellGrid) {
        var x = grid.put(" betty ", in: rect, line: 0, style: Style(bold: true, reverse: true)) - rect.column
        let (state, color) = stateText
        x = grid.put(" " + state, in: rect, line: 0, column: x, style: Style(foreground: color, bold: true)) - rect.column
        var parts: [String] = []
        if let s = model.status, s.total > 0 {
            parts.append("step \(s.completed)/\(s.total)")
            // The engine's counter differs from the run's once a second `run` continues a program.
            if s.globalStep != s.completed { parts.append("global \(s.globalStep)") }
        } else {
            parts.append("step \(model.globalStep)")
        }
        if let s = model.status, s.elapsed > 0 { parts.append("elapsed " + Format.duration(s.elapsed)) }
        if let eta = model.eta { parts.append("eta " + Format.duration(eta)) }
        if let rate = model.stepsPerSecond { parts.append(Format.rate(rate)) }
        x = grid.put("  " + parts.joined(separator: "  "), in: rect, line: 0, column: x) - rect.column
        if model.dropped > 0 {
            x = grid.put("  dropped \(model.dropped)", in: rect, line: 0, column: x, style: Style(foreground: .yellow))
                - rect.column
        }
        var flags: [String] = []
        if view.logScale { flags.append("log") }
        if view.smoothing { flags.append("smooth") }
        flags.append(view.window.map { "last \($0)" } ?? "all steps")
        let right = flags.joined(separator: "  ") + " "
        if x + right.count + 2 < rect.columns { grid.putRight(right, in: rect, line: 0, style: Style(dim: true)) }
    }

    var stateText: (String, Color?) {
        guard let s = model.status else { return ("idle", nil) }
        switch s.state {
        case .idle: return ("idle", nil)
        case .running: return ("running", .green)
        case .paused: return ("paused", .yellow)
        case .done: return ("done", .cyan)
        case .failed(let message): return ("failed: " + message, .red)
        }
    }

    static let keys: [(String, String)] = [
        ("p", "pause"), ("s", "step"), ("l", "log"), ("m", "smooth"), ("+/-", "window"), ("tab", "focus"),
        ("q", "prompt"), ("?", "help"),
    ]

    /// The same keys in fewer columns, so every key still shows at the minimum width.
    static let shortKeys: [(String, String)] = [
        ("p", "pause"), ("s", "step"), ("l", "log"), ("m", "ema"), ("+-", "win"), ("tab", "focus"),
        ("q", "prompt"), ("?", "help"),
    ]

    func drawFooter(in rect: GridRect, on grid: inout CellGrid) {
        let wide = 1 + Self.keys.reduce(0) { $0 + $1.0.count + $1.1.count + 3 } <= rect.columns
        var x = 1
        for (key, action) in wide ? Self.keys : Self.shortKeys {
            x = grid.put(key, in: rect, line: 0, column: x, style: Style(bold: true, reverse: true)) - rect.column
            x = grid.put(" " + action + (wide ? "  " : " "), in: rect, line: 0, column: x, style: Style(dim: true))
                - rect.column
        }
    }

    static let help: [(String, String)] = [
        ("p", "pause / resume the run"), ("s", "one global step while paused"), ("l", "log scale on / off"),
        ("m", "smoothing (EMA) on / off"), ("+ -", "wider / narrower step window"),
        ("tab", "focus a level, then back to all"), ("q", "back to the prompt"), ("?", "this help"),
        ("Ctrl-C", "pause the run"),
    ]

    func drawHelp(in screen: GridRect, on grid: inout CellGrid) {
        let width = min(screen.columns - 2, 44)
        let height = min(screen.rows - 2, Self.help.count + 4)
        let rect = GridRect(column: (screen.columns - width) / 2, row: (screen.rows - height) / 2,
                            columns: width, rows: height)
        grid.fill(rect)
        grid.box(rect, title: "keys", unicode: unicode, style: Style(bold: true))
        let inner = rect.inner.inset(0)
        for (i, (key, text)) in Self.help.enumerated() {
            grid.put(key, in: inner, line: i + 1, column: 1, style: Style(bold: true))
            grid.put(text, in: inner, line: i + 1, column: 9)
        }
    }
}
