import BettyTensor

/// Splits one line into tokens. Comments start at `#` outside a string.
enum Lexer {
    private static let twoCharacterSymbols: Set<String> = ["->", "**", "<=", ">=", "==", "!="]
    private static let symbols: Set<Character> = ["+", "-", "*", "/", "@", "^", "(", ")", "[", "]", ",", "=", ":", ".", "<", ">"]

    static func tokens(of line: String, file: String, lineNumber: Int) throws(ScriptError) -> [Token] {
        let chars = Array(line)
        var tokens: [Token] = []
        var i = 0
        func location(_ start: Int, _ end: Int) -> SourceLocation {
            SourceLocation(file: file, line: lineNumber, column: start + 1, length: end - start)
        }
        while i < chars.count {
            let c = chars[i]
            if c == "#" { break }
            if c == " " || c == "\t" || c == "\r" { i += 1; continue }
            let start = i
            // After a dot, digits name a member (`classifier.0.weight`, a Sequential layer).
            let adjacent = tokens.last.map { $0.location.column + $0.location.length - 1 == start } ?? false
            let afterDot = adjacent && tokens.last!.is(".")
            // Right after a name, `.` is member access even before digits (`meta.2.bias`), not `.2`.
            let afterName = adjacent && tokens.last!.kind == .name
            if c.isLetter || c == "_" || (afterDot && c.isNumber) {
                while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" { i += 1 }
                tokens.append(Token(kind: .name, text: String(chars[start..<i]), location: location(start, i)))
            } else if c.isNumber || (c == "." && !afterName && i + 1 < chars.count && chars[i + 1].isNumber) {
                while i < chars.count, chars[i].isNumber || chars[i] == "." { i += 1 }
                if i < chars.count, chars[i] == "e" || chars[i] == "E" {
                    var j = i + 1
                    if j < chars.count, chars[j] == "+" || chars[j] == "-" { j += 1 }
                    if j < chars.count, chars[j].isNumber {
                        i = j
                        while i < chars.count, chars[i].isNumber { i += 1 }
                    }
                }
                // A number running into letters (`1e`, `3x`, `2.5.1`) is malformed, not two tokens.
                while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == "." { i += 1 }
                let text = String(chars[start..<i])
                // Decimal only: Float() also reads hex (0x10, 0x1p1), which the integer reader would not.
                let decimal = text.allSatisfy { $0.isASCII && ($0.isNumber || ".eE+-".contains($0)) }
                guard decimal, Float(text) != nil, text.filter({ $0 == "." }).count <= 1 else {
                    // A size typed bare (memory_limit=512MB) is the likely slip: say how to write it.
                    if text.lowercased().hasPrefix("0x") {
                        throw ScriptError("malformed number '\(text)'; numbers are decimal", at: location(start, i))
                    }
                    let isSize = text.contains(where: \.isLetter) && ByteCount.parse(text) != nil
                    throw ScriptError("malformed number '\(text)'\(isSize ? "; a size with a unit goes in quotes: \"\(text)\"" : "")",
                                      at: location(start, i))
                }
                tokens.append(Token(kind: .number, text: text, location: location(start, i)))
            } else if c == "\"" {
                i += 1
                var text = ""
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                    text.append(chars[i])
                    i += 1
                }
                guard i < chars.count else { throw ScriptError("unterminated string", at: location(start, chars.count)) }
                i += 1
                tokens.append(Token(kind: .string, text: text, location: location(start, i)))
            } else if i + 1 < chars.count, twoCharacterSymbols.contains(String(chars[i...i + 1])) {
                i += 2
                tokens.append(Token(kind: .symbol, text: String(chars[start..<i]), location: location(start, i)))
            } else if symbols.contains(c) {
                i += 1
                tokens.append(Token(kind: .symbol, text: String(c), location: location(start, i)))
            } else {
                throw ScriptError("unexpected character '\(c)'", at: location(start, start + 1))
            }
        }
        return tokens
    }
}
