import BettyNN
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a session file the way a shell reads a script: a regular file, or a pipe (`betty-repl
/// /dev/stdin`, `<(generate)`) read to its end.
enum SessionFile {
    /// Far beyond any session anyone types; a bound so that a wrong path (a disk image) fails at once.
    static let limit = 256 << 20

    /// The file's text. Bytes that are not UTF-8 become U+FFFD, which the lexer then reports with its
    /// line and column, instead of the whole file being refused for one bad byte.
    static func read(_ path: String) throws(FileIOError) -> String {
        var info = stat()
        if stat(path, &info) == 0, FileKind(mode: info.st_mode) == .fifo, let handle = FileHandle(forReadingAtPath: path) {
            let data = handle.readData(ofLength: limit + 1)
            guard data.count <= limit else {
                throw FileIOError(path: path, operation: .read, reason: .tooLarge(bytes: data.count, limit: limit))
            }
            return String(decoding: data, as: UTF8.self)
        }
        return String(decoding: try FileIO.read(path, limit: limit), as: UTF8.self)
    }
}
