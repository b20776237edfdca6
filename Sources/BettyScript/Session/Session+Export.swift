import BettyNN
import BettyTensor

/// `export` (a parameter tensor as `.npy`, the run's history as CSV) and `plot` (the history as an
/// SVG). Each reads the state at a step boundary and writes one file by rename: an error leaves the
/// file as it was and changes nothing in the session.
extension Session {
    static let defaultPlotPath = "betty-plot.svg"

    func export(_ what: Expr, to path: String, at location: SourceLocation) throws(ScriptError) {
        if case .name("history", _) = what {
            try exportHistory(to: path, at: location)
            return
        }
        let usage = "export takes NAME.params or NAME.PARAM (a problem's parameter tensor, such as net.0.weight) and a .npy file, or history and a .csv file"
        guard case let .member(base, _, _) = what, let dotted = what.dottedName, let dot = dotted.firstIndex(of: ".") else {
            throw ScriptError(usage, at: what.location)
        }
        let problemName = String(dotted[..<dot])
        guard program.bindings.refs[problemName]?.problem != nil else {
            if program.bindings.datasets[problemName] != nil {
                throw ScriptError("'\(problemName)' is a data set; \(usage)", at: base.location)
            }
            throw ScriptError("unknown problem '\(problemName)'\(didYouMean(problemName, in: program.bindings.problemOrder)); \(usage)", at: base.location)
        }
        let member = String(dotted[dotted.index(after: dot)...])
        if ["loss", "mean_loss"].contains(member) {
            throw ScriptError("'\(dotted)' is a number, not a parameter tensor; \(usage)", at: what.location)
        }
        guard case let .tensor(tensor) = try evaluate(what) else {
            throw ScriptError("'\(dotted)' is a number (a metric), not a parameter tensor; \(usage)", at: what.location)
        }
        do {
            try NPYWriter.write(tensor, to: path)
        } catch {
            throw ScriptError("\(error)", at: location)
        }
        output.text("exported \(dotted), shape \(tensor.shape) (\(tensor.count) float32 values), to \(path)")
    }

    private func exportHistory(to path: String, at location: SourceLocation) throws(ScriptError) {
        let history = program.history
        guard !history.isEmpty else { throw ScriptError("nothing to export: no step has been taken yet ('run' first)", at: location) }
        do {
            try FileIO.write(history.csv(), to: path)
        } catch {
            throw ScriptError("\(error)", at: location)
        }
        let rows = history.order.reduce(0) { $0 + history.columns[$1]!.count }
        output.text("exported \(history.order.count) series (\(rows) rows: series,global_step,local_step,value) to \(path)")
    }

    func plot(to path: String?, log: Bool, at location: SourceLocation) throws(ScriptError) {
        let history = program.history
        guard !history.isEmpty else { throw ScriptError("nothing to plot: no step has been taken yet ('run' first)", at: location) }
        let path = path ?? Self.defaultPlotPath
        let figure = HistoryPlot.figure(history, order: program.bindings.problemOrder, logScale: log)
        let rendered = figure.svg()
        do {
            try FileIO.write(rendered.svg, to: path)
        } catch {
            throw ScriptError("\(error)", at: location)
        }
        let series = figure.panels.reduce(0) { $0 + $1.series.count }
        let lines = ["plotted \(figure.panels.count) panel\(figure.panels.count == 1 ? "" : "s") (\(series) series\(log ? ", log scale" : "")) to \(path)"]
            + rendered.notes.map { "note: \($0)" }
        output.text(lines.joined(separator: "\n"))
    }
}

/// Which panels `plot` draws from the history: each problem's loss, the hypergradient norms, the
/// validation metrics.
enum HistoryPlot {
    /// Problems in `order` (the program's) first, then any other that stepped.
    static func figure(_ history: RunHistory, order: [String], logScale: Bool) -> PlotFigure {
        let problems = order.filter(history.problems.contains) + history.problems.filter { !order.contains($0) }
        func series(_ tag: String, named name: String) -> PlotSeries? {
            guard let c = history.columns[tag], c.count > 0 else { return nil }
            return PlotSeries(name: name, x: c.steps, y: c.values)
        }
        var panels: [PlotPanel] = []
        for (i, p) in problems.enumerated() {
            if let s = series(RunHistory.lossTag(p), named: "\(p) loss") {
                panels.append(PlotPanel(title: "\(p): loss", yLabel: "loss", series: [s], firstColor: i))
            }
        }
        let norms = problems.compactMap { series(RunHistory.hypergradientTag($0), named: $0) }
        if !norms.isEmpty { panels.append(PlotPanel(title: "hypergradient norm", yLabel: "norm", series: norms)) }
        let metrics = history.order.filter { $0.hasPrefix("validation/") }
            .compactMap { series($0, named: String($0.dropFirst("validation/".count))) }
        if !metrics.isEmpty { panels.append(PlotPanel(title: "validation", yLabel: "metric", series: metrics)) }
        return PlotFigure(panels: panels, logScale: logScale)
    }
}
