import BettyTensor

/// Errors loading or preparing data; each names the file or parameter and what was expected.
public enum DataError: Error, Equatable, CustomStringConvertible, Sendable {
    case fileNotFound(path: String)
    case malformed(path: String, reason: String)
    case unsupported(path: String, reason: String)
    case invalidArgument(String)
    /// The data would not fit in memory (or under `MemoryBudget.limit`); nothing was allocated.
    case tooLarge(MemoryBudget.Exceeded)

    public var description: String {
        switch self {
        case let .fileNotFound(path): "\(path): no such file"
        case let .malformed(path, reason): "\(path): \(reason)"
        case let .unsupported(path, reason): "\(path): \(reason)"
        case let .invalidArgument(message): message
        case let .tooLarge(exceeded): exceeded.description
        }
    }

    /// The file the error is about, when it is about one.
    public var path: String? {
        switch self {
        case let .fileNotFound(path), let .malformed(path, _), let .unsupported(path, _): path
        case .invalidArgument, .tooLarge: nil
        }
    }
}

extension DataError {
    /// `MemoryBudget.check` with its refusal as a `DataError`.
    static func checkMemory(floats: Int?, for purpose: @autoclosure () -> String) throws(DataError) {
        do { try MemoryBudget.check(floats: floats, for: purpose()) } catch { throw .tooLarge(error) }
    }

    static func checkMemory(bytes: Int?, for purpose: @autoclosure () -> String) throws(DataError) {
        do { try MemoryBudget.check(bytes: bytes, for: purpose()) } catch { throw .tooLarge(error) }
    }
}
