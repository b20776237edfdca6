/// Errors loading or preparing data; each names the file or parameter and what was expected.
public enum DataError: Error, Equatable, CustomStringConvertible, Sendable {
    case fileNotFound(path: String)
    case malformed(path: String, reason: String)
    case unsupported(path: String, reason: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .fileNotFound(path): "\(path): no such file"
        case let .malformed(path, reason): "\(path): \(reason)"
        case let .unsupported(path, reason): "\(path): \(reason)"
        case let .invalidArgument(message): message
        }
    }
}
