/// The chart's labels: max at the top, min at the bottom, the last value at its own row, the first
/// and last global step under the plot, and between them what the plot could not show.
extension BrailleChart {
    static func drawAxes(_ scale: ChartScale, last: Float?, lastColor: Color?, from: Int, to: Int, rect: GridRect,
                         plot: GridRect, canvas: DotCanvas, summary: ChartSummary, on grid: inout CellGrid,
                         options: ChartOptions) {
        let unicode = options.unicode
        let dim = Style(dim: true)
        let width = labelWidth - 1
        let label: (Double) -> String = {
            options.bytes ? Format.compactBytes($0) : Format.number($0, significant: 3)
        }
        grid.put(rightAligned(label(scale.maximumLabel), width), column: rect.column, row: plot.row, style: dim, limit: width)
        if plot.rows > 1 {
            grid.put(rightAligned(label(scale.minimumLabel), width), column: rect.column, row: plot.maxRow - 1, style: dim,
                     limit: width)
        }
        if let last, let dot = scale.dotRow(last, dotRows: canvas.dotRows) {
            let row = dot / canvas.dotsPerCell.y
            if row > 0 && row < plot.rows - 1 {
                grid.put(rightAligned(label(Double(last)), width), column: rect.column,
                         row: plot.row + row, style: Style(foreground: lastColor, bold: true), limit: width)
            }
        }
        let axisRow = plot.maxRow
        let first = String(from)
        let end = grid.put(first, column: plot.column, row: axisRow, style: dim)
        let lastLabel = String(to)
        let lastStart = rect.maxColumn - lastLabel.count
        if to != from, lastStart > end { grid.put(lastLabel, column: lastStart, row: axisRow, style: dim) }
        var notes: [String] = []
        if summary.hidden > 0 { notes.append(hiddenNote(summary.hidden, unicode)) }
        if summary.nonFiniteColumns > 0 { notes.append("! NaN/inf") }
        let note = notes.joined(separator: ", ")
        let room = (to != from ? lastStart : rect.maxColumn) - end - 2
        if !note.isEmpty, note.unicodeScalars.count <= room {
            let start = end + 1 + (room - note.unicodeScalars.count) / 2
            grid.put(note, column: start, row: axisRow, style: Style(foreground: .yellow))
        }
    }

    static func rightAligned(_ text: String, _ width: Int) -> String {
        let n = text.unicodeScalars.count
        return n >= width ? text : String(repeating: " ", count: width - n) + text
    }
}
