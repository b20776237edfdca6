#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be read or written, in words a user understands: the operating system's
/// error number becomes a short reason ("permission denied", "no space left on device"), so no
/// Foundation error text (NSCocoaErrorDomain, "The file couldn't be saved") ever reaches a user.
///
/// The description is one line: `cannot write out/run.csv: permission denied`.
public struct FileIOError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Operation: String, Sendable {
        case read, write
    }

    public enum Reason: Equatable, Sendable {
        /// The path names a directory, device, FIFO or socket (`throughLink`: a symbolic link to one).
        /// Writes refuse these before anything is created, so a device node is never replaced.
        case notARegularFile(FileKind, throughLink: Bool)
        /// A directory was wanted (a log directory to create or write into) and something else is there.
        case notADirectory(FileKind)
        /// A symbolic link whose target does not exist: writing through it would create a file
        /// somewhere the user did not name.
        case danglingSymbolicLink
        /// The directory a new file would go into does not exist.
        case directoryMissing(String)
        /// An empty path, or one ending in "/", which can only name a directory.
        case noFileName
        case tooLarge(bytes: Int, limit: Int)
        /// An `errno` value from the system call that failed.
        case system(Int32)
    }

    /// As the user gave it.
    public var path: String
    public var operation: Operation
    public var reason: Reason

    public init(path: String, operation: Operation, reason: Reason) {
        self.path = path
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "cannot \(operation.rawValue) \(path.isEmpty ? "\"\"" : path): \(reasonText)" }

    /// The part after the colon, for callers that name the file themselves.
    public var reasonText: String {
        switch reason {
        case let .notARegularFile(kind, throughLink):
            let what = throughLink ? "a symbolic link to a \(kind)" : "a \(kind)"
            return operation == .write
                ? "it is \(what), not a regular file; nothing was written"
                : "it is \(what), not a regular file"
        case let .notADirectory(kind):
            return "it is a \(kind), not a directory"
        case .danglingSymbolicLink:
            return "it is a symbolic link to a file that does not exist"
        case let .directoryMissing(directory):
            return "the directory \(directory) does not exist"
        case .noFileName:
            return path.isEmpty ? "the path is empty" : "the path ends with '/', so it names a directory, not a file"
        case let .tooLarge(bytes, limit):
            return "it has \(bytes) bytes, more than the \(limit) this reader accepts"
        case let .system(code):
            return Self.text(errno: code, operation: operation)
        }
    }

    /// Short, lower-case reasons for the errors a user can cause or fix; anything else falls back to
    /// the C library's text (not Foundation's), with the number for a search.
    static func text(errno code: Int32, operation: Operation) -> String {
        switch code {
        case ENOENT: return operation == .read ? "no such file" : "a directory on the path does not exist"
        case EACCES, EPERM: return "permission denied"
        case ENOSPC: return "no space left on device"
        case EDQUOT: return "disk quota exceeded"
        case EROFS: return "read-only file system"
        case EISDIR: return "it is a directory"
        case ENOTDIR: return "a part of the path is not a directory"
        case ENAMETOOLONG: return "the name is too long"
        case ELOOP: return "too many levels of symbolic links"
        case EIO: return "input/output error"
        case EFBIG: return "the file would be larger than allowed (by the file system or a limit on this process)"
        case EMFILE, ENFILE: return "too many open files"
        case ETXTBSY: return "the file is busy"
        case EBUSY: return "the file or device is busy"
        default:
            let text = String(cString: strerror(code))
            return text.prefix(1).lowercased() + text.dropFirst() + " (errno \(code))"
        }
    }
}

/// What a path names, for a refusal that says what is in the way.
public enum FileKind: String, Sendable, CustomStringConvertible {
    case regularFile = "regular file"
    case directory
    case characterDevice = "character device"
    case blockDevice = "block device"
    case fifo = "FIFO (named pipe)"
    case socket
    case symbolicLink = "symbolic link"
    case unknown = "file of unknown type"

    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regularFile
        case S_IFDIR: self = .directory
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        case S_IFLNK: self = .symbolicLink
        default: self = .unknown
        }
    }

    public var description: String { rawValue }
}
