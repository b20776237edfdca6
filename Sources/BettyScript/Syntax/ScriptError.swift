import Betty

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
            let line = Array(sourceLine.replacingTabs())
            let caretStart = max(0, min(location.column - 1, line.count))
            // A long line is shown as an excerpt around the caret, so the report stays a few lines.
            let first = line.count <= Self.widestLine ? 0 : max(0, min(caretStart - Self.contextBeforeCaret, line.count - Self.widestLine))
            let last = min(line.count, first + Self.widestLine)
            let lead = first > 0 ? "..." : ""
            let shown = lead + String(line[first..<last]) + (last < line.count ? "..." : "")
            let column = lead.count + caretStart - first
            let width = max(1, min(location.length, last - caretStart))
            text += "\n    \(shown)\n    \(String(repeating: " ", count: column))^\(String(repeating: "~", count: width - 1))"
        }
        return text
    }

    /// Longer source lines are cut to this many characters around the caret.
    static let widestLine = 120
    static let contextBeforeCaret = 40
}

extension String {
    fileprivate func replacingTabs() -> String { String(map { $0 == "\t" ? " " : $0 }) }
}

/// The likely intended name for a typo. Stricter than the engine's default (a third of the name,
/// rounded down): an unknown name in an expression may be a problem defined later, and a loose
/// guess ("outer" -> "huber") would turn that forward reference into an error.
func closest(to name: String, in candidates: some Sequence<String>) -> String? {
    closestName(to: name, in: candidates, maxDistance: max(1, name.count / 3))
}

/// `" (did you mean 'x'?)"` or nothing.
func didYouMean(_ name: String, in candidates: some Sequence<String>) -> String {
    closest(to: name, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
}
