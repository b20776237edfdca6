#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A new file that takes the place of `path` only when it is complete: the bytes go to a temporary
/// file in the same directory (a rename is atomic only within one file system), which `commit`
/// flushes to disk and renames over the target. A failure at any point, or dropping the value
/// without committing, removes the temporary file and leaves the target as it was.
///
/// Only an absent target or a regular file is replaced. A directory, device, FIFO or socket is
/// refused before anything is created: renaming over `/dev/full` as root would swap the device node
/// for a regular file. A symbolic link to a regular file is followed, so the link stays and the
/// file it names is replaced; a link to anything else, or to nothing, is refused.
///
/// After `commit` the file stays open and further writes append to the target in place, which is
/// what a log written row by row needs.
public final class FileReplacement {
    /// As the caller gave it; every error names this.
    public let path: String
    /// `path`, or the file a symbolic link at `path` points to.
    private let target: String
    private let directory: String
    private let temporary: String
    private let descriptor: Int32
    private var committed = false

    public init(replacing path: String) throws(FileIOError) {
        func failure(_ reason: FileIOError.Reason) -> FileIOError { FileIOError(path: path, operation: .write, reason: reason) }
        guard !path.isEmpty, !path.hasSuffix("/") else { throw failure(.noFileName) }
        let (target, existing) = try Self.checkedTarget(path)
        let directory = Self.directory(of: target)
        let name = String(target[(target.lastIndex(of: "/").map { target.index(after: $0) } ?? target.startIndex)...])

        // A short prefix of the name keeps the temporary name under the file-name limit whatever
        // the target's length; the name tells a user who finds one after a crash what it was for.
        let base = (directory == "/" ? "/" : directory + "/") + "." + String(decoding: name.utf8.prefix(32), as: UTF8.self) + ".tmp-"
        var candidate = ""
        var opened: Int32 = -1
        for _ in 0..<8 where opened < 0 {
            candidate = base + String(UInt32.random(in: .min ... .max), radix: 16)
            opened = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            guard opened >= 0 || errno == EEXIST else { break }
        }
        guard opened >= 0 else {
            let code = errno
            throw failure(code == ENOENT ? .directoryMissing(directory) : .system(code))
        }
        self.path = path
        self.target = target
        self.directory = directory
        temporary = candidate
        descriptor = opened
        // A replaced file keeps its permissions, as an edit in place would.
        if let existing { _ = fchmod(opened, existing.st_mode & 0o7777) }
    }

    deinit {
        close(descriptor)
        if !committed { unlink(temporary) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileIOError) {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(descriptor, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileIOError(path: path, operation: .write, reason: .system(errno))
            }
            next += written
            remaining -= written
        }
    }

    public func write(_ bytes: [UInt8]) throws(FileIOError) {
        // withUnsafeBytes rethrows untyped errors, so the error is carried out by hand.
        let failure = bytes.withUnsafeBytes { raw -> FileIOError? in
            do throws(FileIOError) { try write(raw) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    public func write(_ text: String) throws(FileIOError) {
        try write(Array(text.utf8))
    }

    /// Flushes the file to disk, then renames it over the target, then flushes the directory so the
    /// rename itself survives a power loss; a crash at any point leaves the old file or the new one.
    /// The target is checked again just before the rename, in case something else appeared there.
    public func commit() throws(FileIOError) {
        precondition(!committed, "FileReplacement.commit: \(path) is committed already")
        func failure(_ reason: FileIOError.Reason) -> FileIOError { FileIOError(path: path, operation: .write, reason: reason) }
        guard fsync(descriptor) == 0 else { throw failure(.system(errno)) }
        var info = stat()
        if lstat(target, &info) == 0, FileKind(mode: info.st_mode) != .regularFile {
            throw failure(.notARegularFile(FileKind(mode: info.st_mode), throughLink: target != path))
        }
        guard rename(temporary, target) == 0 else { throw failure(.system(errno)) }
        committed = true
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            // The file is complete and in place; a directory that cannot be synced only weakens the
            // guarantee on power loss, so it is not an error.
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    /// Where the bytes go, and the existing file's status when there is one to keep permissions of.
    private static func checkedTarget(_ path: String) throws(FileIOError) -> (target: String, existing: stat?) {
        func failure(_ reason: FileIOError.Reason) -> FileIOError { FileIOError(path: path, operation: .write, reason: reason) }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let code = errno
            // Absent: created. Anything else (a part of the path that is a file, no permission to
            // look) would fail again when the temporary file is created, with a vaguer path.
            guard code == ENOENT else { throw failure(.system(code)) }
            return (path, nil)
        }
        switch FileKind(mode: info.st_mode) {
        case .regularFile:
            return (path, info)
        case .symbolicLink:
            guard stat(path, &info) == 0 else {
                let code = errno
                throw failure(code == ENOENT ? .danglingSymbolicLink : .system(code))
            }
            let kind = FileKind(mode: info.st_mode)
            guard kind == .regularFile else { throw failure(.notARegularFile(kind, throughLink: true)) }
            guard let resolved = realpath(path, nil) else { throw failure(.system(errno)) }
            defer { free(resolved) }
            return (String(cString: resolved), info)
        case let kind:
            throw failure(.notARegularFile(kind, throughLink: false))
        }
    }

    /// The directory part of `path`: "." for a bare name, "/" for a name in the root.
    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }
}

/// The C library's `write`, which the methods named `write` above hide.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
