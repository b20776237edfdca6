/// One curve of a chart and its colour.
public struct ChartLine: Sendable {
    public var series: Series
    public var color: Color
    public init(_ series: Series, color: Color) {
        self.series = series
        self.color = color
    }
}

public struct ChartOptions: Equatable, Sendable {
    public var logScale = false
    /// Draws an EMA of each curve bright over the raw curve dim.
    public var smoothing = false
    public var smoothingWeight: Float = 0.6
    /// The last this many global steps, or nil for the whole series.
    public var window: Int?
    public var unicode = true
    /// Axis labels and notes; without them the chart is a bare sparkline.
    public var axes = true
    /// Labels the y axis in bytes ("212M") rather than plain numbers.
    public var bytes = false
    public init(logScale: Bool = false, smoothing: Bool = false, window: Int? = nil, unicode: Bool = true,
                axes: Bool = true) {
        self.logScale = logScale
        self.smoothing = smoothing
        self.window = window
        self.unicode = unicode
        self.axes = axes
    }
}

/// What a chart could not show, for the panel around it to mention.
public struct ChartSummary: Equatable, Sendable {
    /// Values <= 0 left out of a log axis.
    public var hidden = 0
    /// Columns where a NaN or infinity was marked.
    public var nonFiniteColumns = 0
    public var hasData = false
}

/// Line charts at sub-cell resolution. Every drawing column shows the min..max of what fell into it
/// as a vertical run, so a one-step spike in a decimated bucket stays visible at any zoom.
public enum BrailleChart {
    static let labelWidth = 8

    @discardableResult
    public static func draw(_ lines: [ChartLine], in rect: GridRect, on grid: inout CellGrid,
                            options: ChartOptions) -> ChartSummary {
        var summary = ChartSummary()
        guard !rect.isEmpty, let (from, to) = xRange(lines, window: options.window) else {
            if options.axes { grid.putCentered("no data", in: rect, line: rect.rows / 2, style: Style(dim: true)) }
            return summary
        }
        let axes = options.axes && rect.rows >= 2 && rect.columns >= labelWidth + 4
        let labelWidth = axes ? Self.labelWidth : 0
        let plot = GridRect(column: rect.column + labelWidth, row: rect.row, columns: rect.columns - labelWidth,
                            rows: rect.rows - (axes ? 1 : 0))
        var canvas = DotCanvas(columns: plot.columns, rows: plot.rows, unicode: options.unicode)
        let dotColumns = canvas.dotColumns
        let envelopes = lines.map {
            $0.series.envelope(from: from, to: to, columns: dotColumns, positiveOnly: options.logScale)
        }
        let smoothed = options.smoothing
            ? lines.map { $0.series.smoothed(weight: options.smoothingWeight, from: from, to: to, columns: dotColumns) }
            : []
        summary.hidden = envelopes.joined().reduce(0) { $0 + $1.hidden }
        let values = envelopes.joined().flatMap { [$0.minimum, $0.maximum].compactMap { $0 } }
        let nonFiniteCells = Set(envelopes.joined().enumerated().compactMap { i, col in
            col.nonFinite ? (i % max(1, dotColumns)) / canvas.dotsPerCell.x : nil
        })
        summary.nonFiniteColumns = nonFiniteCells.count
        guard let scale = ChartScale(values: values, logScale: options.logScale) else {
            if axes {
                let note = summary.hidden > 0 ? "no data (\(hiddenNote(summary.hidden, options.unicode)))" : "no data"
                grid.putCentered(note, in: rect, line: rect.rows / 2, style: Style(dim: true))
            }
            markNonFinite(nonFiniteCells, plot: plot, on: &grid)
            return summary
        }
        summary.hasData = true
        let rawStyle: (Color) -> Style = { Style(foreground: $0, dim: options.smoothing) }
        for (line, envelope) in zip(lines, envelopes) {
            plotEnvelope(envelope, scale: scale, style: rawStyle(line.color), on: &canvas)
        }
        for (line, points) in zip(lines, smoothed) {
            plotPoints(points, scale: scale, style: Style(foreground: line.color, bold: true), on: &canvas)
        }
        canvas.render(into: &grid, at: (plot.column, plot.row))
        markNonFinite(nonFiniteCells, plot: plot, on: &grid)
        if axes {
            let last = envelopes.first?.last(where: { $0.last != nil })?.last
            drawAxes(scale, last: last, lastColor: lines.first?.color, from: from, to: to, rect: rect, plot: plot,
                     canvas: canvas, summary: summary, on: &grid, options: options)
        }
        return summary
    }

    /// The steps to draw: the window's worth up to the newest step of any line.
    static func xRange(_ lines: [ChartLine], window: Int?) -> (Int, Int)? {
        let firsts = lines.compactMap { $0.series.firstX }
        guard let first = firsts.min(), let to = lines.compactMap({ $0.series.lastX }).max() else { return nil }
        let from = window.map { max(first, to - max(1, $0) + 1) } ?? first
        return (from, to)
    }

    private static func plotEnvelope(_ columns: [EnvelopeColumn], scale: ChartScale, style: Style,
                                     on canvas: inout DotCanvas) {
        let rows = canvas.dotRows
        var previous: (x: Int, y: Int)?
        for (x, column) in columns.enumerated() {
            if let hi = column.maximum, let lo = column.minimum,
               let top = scale.dotRow(hi, dotRows: rows), let bottom = scale.dotRow(lo, dotRows: rows) {
                canvas.vertical(x, from: top, to: bottom, style: style)
            }
            if let first = column.first, let y = scale.dotRow(first, dotRows: rows), let p = previous {
                canvas.line(from: p, to: (x, y), style: style)
            }
            if let last = column.last, let y = scale.dotRow(last, dotRows: rows) { previous = (x, y) }
        }
    }

    private static func plotPoints(_ points: [Float?], scale: ChartScale, style: Style, on canvas: inout DotCanvas) {
        var previous: (x: Int, y: Int)?
        for (x, value) in points.enumerated() {
            guard let v = value, let y = scale.dotRow(v, dotRows: canvas.dotRows) else { continue }
            if let p = previous { canvas.line(from: p, to: (x, y), style: style) } else { canvas.set(x, y, style: style) }
            previous = (x, y)
        }
    }

    /// A red '!' on the plot's top row over every column where a NaN or infinity fell.
    private static func markNonFinite(_ cells: Set<Int>, plot: GridRect, on grid: inout CellGrid) {
        guard plot.rows > 0 else { return }
        for c in cells where c < plot.columns {
            grid.put("!", column: plot.column + c, row: plot.row, style: Style(foreground: .red, bold: true))
        }
    }

    static func hiddenNote(_ n: Int, _ unicode: Bool) -> String { unicode ? "\(n) ≤0 hidden" : "\(n) <=0 hidden" }
}
