/// One error of a session: a message and where it applies. Rendered as
/// `file:line:col: error: message`, the source line, and a caret under the offending span.
public struct ScriptError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var location: SourceLocation?
    /// The text of the line the location points into, for the caret display.
    public var sourceLine: String?

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }

    public var description: String { rendered }

    /// The full report: position, message, then the line and a caret (`^~~~`) when known.
    public var rendered: String {
        guard let location else { return "error: \(message)" }
        var text = "\(location): error: \(message)"
        if let sourceLine {
            let shown = sourceLine.replacingTabs()
            let caretStart = max(0, min(location.column - 1, shown.count))
            let width = max(1, min(location.length, max(1, shown.count - caretStart)))
            text += "\n    \(shown)\n    \(String(repeating: " ", count: caretStart))^\(String(repeating: "~", count: width - 1))"
        }
        return text
    }
}

extension String {
    fileprivate func replacingTabs() -> String { String(map { $0 == "\t" ? " " : $0 }) }
}

/// The known name closest to `name` by edit distance, when it is close enough to be a likely typo.
func closest(to name: String, in candidates: some Sequence<String>) -> String? {
    let limit = max(1, name.count / 3)
    var best: (String, Int)?
    for candidate in candidates {
        let d = editDistance(name.lowercased(), candidate.lowercased())
        if d <= limit, d < (best?.1 ?? .max) { best = (candidate, d) }
    }
    return best?.0
}

/// `" (did you mean 'x'?)"` or nothing.
func didYouMean(_ name: String, in candidates: some Sequence<String>) -> String {
    closest(to: name, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions ("lsos" is one slip from "loss") each count 1.
private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[a.count][b.count]
}
