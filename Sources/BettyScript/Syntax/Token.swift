/// Where a piece of a session came from: file, 1-based line, and the 1-based column span of the
/// token or expression an error points at.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var length: Int

    public init(file: String, line: Int, column: Int, length: Int = 1) {
        self.file = file
        self.line = line
        self.column = column
        self.length = max(1, length)
    }

    public var description: String { "\(file):\(line):\(column)" }

    /// The span from the start of `self` to the end of `other` (same line).
    func through(_ other: SourceLocation) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column, length: other.column + other.length - column)
    }
}

struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case name, number, string
        /// Operators and punctuation, by their text: + - * / @ ^ ** ( ) [ ] , = -> : . < > <= >= == !=
        case symbol
    }

    var kind: Kind
    var text: String
    var location: SourceLocation

    func `is`(_ symbol: String) -> Bool { kind == .symbol && text == symbol }
    func isWord(_ word: String) -> Bool { kind == .name && text == word }
}
