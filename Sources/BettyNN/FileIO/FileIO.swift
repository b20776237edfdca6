#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and writes through POSIX calls, so every failure has an `errno` to explain it
/// (`FileIOError`) and no Foundation error text reaches a user. Every file the library and the REPL
/// write goes through `FileReplacement`; readers of user-named files can read through `read`.
public enum FileIO {
    /// Replaces `path` with `bytes`, or leaves it as it was (see `FileReplacement`).
    public static func write(_ bytes: [UInt8], to path: String) throws(FileIOError) {
        let file = try FileReplacement(replacing: path)
        try file.write(bytes)
        try file.commit()
    }

    /// Replaces `path` with `text` as UTF-8, or leaves it as it was.
    public static func write(_ text: String, to path: String) throws(FileIOError) {
        let file = try FileReplacement(replacing: path)
        try file.write(text)
        try file.commit()
    }

    /// Makes sure `path` is a directory, creating it and any missing parent as `mkdir -p` does (a
    /// symbolic link to a directory counts as one). Something other than a directory in the way is
    /// refused with what it is.
    public static func createDirectory(_ path: String) throws(FileIOError) {
        func failure(_ reason: FileIOError.Reason) -> FileIOError { FileIOError(path: path, operation: .write, reason: reason) }
        guard !path.isEmpty else { throw failure(.noFileName) }
        var prefix = path.hasPrefix("/") ? "/" : ""
        let components = path.split(separator: "/")
        for (i, component) in components.enumerated() {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o777) == 0 { continue }
            let code = errno
            var info = stat()
            if code == EEXIST || code == EACCES || code == EROFS, stat(prefix, &info) == 0 {
                // Present (a directory we may not create in, or a read-only mount, is fine too).
                let kind = FileKind(mode: info.st_mode)
                guard kind == .directory else { throw failure(i == components.count - 1 ? .notADirectory(kind) : .system(ENOTDIR)) }
                continue
            }
            throw failure(code == EEXIST ? .danglingSymbolicLink : .system(code))
        }
    }

    /// The whole of the regular file at `path` (a symbolic link to one is followed). A directory,
    /// device, FIFO or socket is refused rather than read: a FIFO could block forever and a device
    /// such as /dev/zero never ends. A file longer than `limit` bytes is refused before anything is
    /// allocated for it.
    public static func read(_ path: String, limit: Int) throws(FileIOError) -> [UInt8] {
        func failure(_ reason: FileIOError.Reason) -> FileIOError { FileIOError(path: path, operation: .read, reason: reason) }
        // Non-blocking only so that opening a FIFO returns at once and can be refused; it has no
        // effect on a regular file.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw failure(.system(errno)) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw failure(.system(errno)) }
        let kind = FileKind(mode: info.st_mode)
        guard kind == .regularFile else {
            var link = stat()
            let throughLink = lstat(path, &link) == 0 && FileKind(mode: link.st_mode) == .symbolicLink
            throw failure(.notARegularFile(kind, throughLink: throughLink))
        }
        let size = Int(info.st_size)
        guard size <= limit else { throw failure(.tooLarge(bytes: size, limit: limit)) }

        var code: Int32 = 0
        var bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            guard let start = buffer.baseAddress else { return }
            while count < size {
                let got = systemRead(descriptor, start + count, size - count)
                if got < 0, errno == EINTR { continue }
                guard got > 0 else {
                    if got < 0 { code = errno }
                    return
                }
                count += got
            }
        }
        guard code == 0 else { throw failure(.system(code)) }
        // The size is where the file ended when it was opened; one that grew since (or a kernel file
        // that reports size 0) is read to its end, still within the limit.
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress!, $0.count) }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw failure(.system(errno)) }
            guard got > 0 else { break }
            guard bytes.count <= limit - got else { throw failure(.tooLarge(bytes: bytes.count + got, limit: limit)) }
            bytes += chunk[..<got]
        }
        return bytes
    }
}

/// The C library's `read`, which `FileIO.read` hides.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
