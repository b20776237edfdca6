import BettyDashboard
import BettyNN
import BettyScript
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a session file the way a shell reads a script: a regular file, or a pipe (`betty-repl
/// /dev/stdin`, `<(generate)`) read to its end.
enum SessionFile {
    /// Far beyond any session anyone types; a bound so that a wrong path (a disk image) fails at once.
    static let limit = 256 << 20

    /// The first byte of a line that is not UTF-8.
    struct InvalidByte: Sendable, Equatable {
        /// 1-based.
        var line: Int
        /// 1-based, in characters (as the lexer counts them for every other error): the characters
        /// before the byte on its line, plus one.
        var column: Int
        var byte: UInt8

        func error(file: String, what: String = "the session file") -> ScriptError {
            ScriptError("\(what) is not UTF-8 text (byte 0x\(String(byte, radix: 16)))",
                        at: SourceLocation(file: file, line: line, column: column))
        }
    }

    /// A file's lines, and the lines that hold a byte that is not UTF-8.
    struct Contents: Sendable {
        var lines: [String]
        /// The first bad byte of each line that has one, in line order.
        var invalid: [InvalidByte]
    }

    /// The file's lines (cut as `Session.lines(of:)` cuts them). Bytes that are not UTF-8 become U+FFFD
    /// in `lines`; `invalid` says where they stand.
    static func read(_ path: String) throws(ScriptError) -> Contents {
        let bytes: [UInt8]
        do {
            bytes = try readBytes(path)
        } catch {
            throw ScriptError("\(error)")
        }
        let text: String
        let invalid: [InvalidByte]
        if let valid = String(validating: bytes, as: UTF8.self) {
            text = valid
            invalid = []
        } else {
            text = String(decoding: bytes, as: UTF8.self)
            invalid = invalidBytes(in: bytes)
        }
        return Contents(lines: Session.lines(of: text), invalid: invalid)
    }

    private static func readBytes(_ path: String) throws(FileIOError) -> [UInt8] {
        var info = stat()
        if stat(path, &info) == 0, FileKind(mode: info.st_mode) == .fifo, let handle = FileHandle(forReadingAtPath: path) {
            let data = handle.readData(ofLength: limit + 1)
            guard data.count <= limit else {
                throw FileIOError(path: path, operation: .read, reason: .tooLarge(bytes: data.count, limit: limit))
            }
            return [UInt8](data)
        }
        return try FileIO.read(path, limit: limit)
    }

    /// The first byte that is not UTF-8 on each line that has one. Lines end at LF, as in
    /// `Session.lines(of:)` (a CR before it is part of the line and valid), and an invalid sequence never
    /// takes an LF with it, so the line numbers are the replay's.
    static func invalidBytes(in bytes: [UInt8]) -> [InvalidByte] {
        var found: [InvalidByte] = []
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        var line = 1
        var lineStart = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case let .valid(scalar):
                if scalar.count == 1, scalar.first == UInt8(ascii: "\n") {
                    line += 1
                    lineStart = offset + 1
                }
                offset += scalar.count
            case let .error(length):
                if found.last?.line != line {
                    let before = String(decoding: bytes[lineStart..<offset], as: UTF8.self).count
                    found.append(InvalidByte(line: line, column: before + 1, byte: bytes[offset]))
                }
                offset += length
            case .emptyInput:
                return found
            }
        }
    }

    /// Standard input's lines as they arrive, checked as a file's are: a line with a byte that is not
    /// UTF-8 is reported with its line and column and runs not at all; the replay stops there unless
    /// `keepGoing`, where it goes on with the next line. `reported` turns true at such a line.
    static func standardInputLines(session: Session, keepGoing: Bool, reported: Locked<Bool>) -> AnySequence<String> {
        AnySequence { () -> AnyIterator<String> in
            var number = 0
            var stopped = false
            let input = InputLines()
            return AnyIterator {
                guard !stopped else { return nil }
                guard let bytes = input.next() else {
                    if let failure = input.failure {
                        reported.withLock { $0 = true }
                        session.output.error(ScriptError(failure))
                        // What could not be read is not the end of a problem block.
                        session.abandonBlock()
                    }
                    return nil
                }
                number += 1
                if let text = String(validating: bytes, as: UTF8.self) { return text }
                var bad = invalidBytes(in: bytes)[0]
                bad.line = number
                reported.withLock { $0 = true }
                session.output.error(bad.error(file: "<stdin>", what: "standard input"))
                guard keepGoing else {
                    // The replay ends here: a block open at this line was not left open by the input.
                    stopped = true
                    session.abandonBlock()
                    return nil
                }
                return ""
            }
        }
    }

    /// Standard input's lines without their LF (or CR LF), as bytes, read as they arrive. A line longer
    /// than a session file may be, or a read that fails, ends the input with the reason in `failure`.
    private final class InputLines {
        private var buffer: [UInt8] = []
        private var start = 0
        /// Where the search for the next LF resumes: the bytes before it hold none.
        private var scanned = 0
        private var ended = false
        private(set) var failure: String?

        func next() -> [UInt8]? {
            while true {
                if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                    var line = Array(buffer[start..<newline])
                    start = newline + 1
                    scanned = start
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    return line
                }
                scanned = buffer.count
                if ended {
                    guard start < buffer.count else { return nil }
                    defer { start = buffer.count }
                    return Array(buffer[start...])
                }
                guard buffer.count - start <= SessionFile.limit else {
                    failure = "a line of standard input is longer than \(SessionFile.limit >> 20) MB"
                    ended = true
                    buffer = []
                    start = 0
                    scanned = 0
                    return nil
                }
                buffer.removeFirst(start)
                scanned -= start
                start = 0
                var chunk = [UInt8](repeating: 0, count: 65536)
                let count = chunk.withUnsafeMutableBytes { Glibc.read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count > 0 {
                    buffer += chunk[..<count]
                } else if count == 0 {
                    ended = true
                } else if errno != EINTR {
                    failure = "cannot read standard input: \(String(cString: strerror(errno)))"
                    ended = true
                }
            }
        }
    }

    /// The lines for `Session.replay(_:file:keepGoing: true)`: a line with a byte that is not UTF-8 is
    /// reported in its turn (after the lines before it ran) and replaced by an empty line, so nothing of
    /// it runs, even what a comment hides, and the lines after it keep their numbers. `reported` turns
    /// true once such a line is reached (a `quit` before it stops the replay first).
    static func replayLines(_ contents: Contents, file: String, session: Session,
                            reported: Locked<Bool>) -> AnySequence<String> {
        let invalid = Dictionary(contents.invalid.map { ($0.line, $0) }, uniquingKeysWith: { first, _ in first })
        let lines = contents.lines
        return AnySequence { () -> AnyIterator<String> in
            var index = 0
            return AnyIterator {
                guard index < lines.count else { return nil }
                defer { index += 1 }
                guard let bad = invalid[index + 1] else { return lines[index] }
                reported.withLock { $0 = true }
                session.output.error(bad.error(file: file))
                return ""
            }
        }
    }
}
