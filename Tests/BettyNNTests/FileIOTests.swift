import BettyNN
import Foundation
import Testing

/// A fresh directory under the temporary directory, removed with its contents afterwards.
private func withScratchDirectory(_ body: (String) throws -> Void) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("betty-fileio-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer {
        chmod(directory, 0o755)
        try? FileManager.default.removeItem(atPath: directory)
    }
    try body(directory)
}

private func kind(_ path: String) -> FileKind? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    switch info.st_mode & S_IFMT {
    case S_IFREG: return .regularFile
    case S_IFDIR: return .directory
    case S_IFCHR: return .characterDevice
    case S_IFIFO: return .fifo
    case S_IFLNK: return .symbolicLink
    default: return .unknown
    }
}

private func contents(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

/// Entries of `directory` whose names mark them as temporary files of a replacement.
private func leftovers(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }
}

/// The error `body` throws, if any.
private func writeError(_ body: () throws(FileIOError) -> Void) -> FileIOError? {
    do { try body() } catch { return error }
    return nil
}

@Suite struct FileIOTests {
    // MARK: - Writing

    @Test func aNewFileIsCreatedAndARegularFileReplacedKeepingItsPermissions() throws {
        try withScratchDirectory { directory in
            let path = directory + "/out.txt"
            try FileIO.write("first\n", to: path)
            #expect(contents(path) == "first\n")
            chmod(path, 0o600)
            try FileIO.write(Array("second\n".utf8), to: path)
            #expect(contents(path) == "second\n")
            var info = stat()
            #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600, "the replaced file keeps its permissions")
            #expect(try leftovers(directory) == [])
        }
    }

    @Test func aDirectoryIsRefusedAndLeftAsItWas() throws {
        try withScratchDirectory { directory in
            let target = directory + "/results"
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
            try FileIO.write("keep", to: target + "/inside.txt")
            let error = writeError { () throws(FileIOError) in try FileIO.write("x", to: target) }
            #expect(error == FileIOError(path: target, operation: .write, reason: .notARegularFile(.directory, throughLink: false)))
            #expect(error?.description == "cannot write \(target): it is a directory, not a regular file; nothing was written")
            #expect(kind(target) == .directory)
            #expect(contents(target + "/inside.txt") == "keep")
            #expect(try leftovers(directory) == [])
        }
    }

    /// As root, renaming over /dev/full replaced the device node with a regular file. The check
    /// comes before anything is created, so nothing appears in /dev either.
    @Test(arguments: ["/dev/full", "/dev/null"])
    func aDeviceIsRefusedAndStaysADevice(device: String) throws {
        try #require(kind(device) == .characterDevice)
        let error = writeError { () throws(FileIOError) in try FileIO.write("x", to: device) }
        #expect(error == FileIOError(path: device, operation: .write, reason: .notARegularFile(.characterDevice, throughLink: false)))
        #expect(error?.description == "cannot write \(device): it is a character device, not a regular file; nothing was written")
        #expect(kind(device) == .characterDevice)
        #expect(try leftovers("/dev") == [])
    }

    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        try withScratchDirectory { directory in
            let fifo = directory + "/pipe"
            try #require(mkfifo(fifo, 0o644) == 0)
            #expect(writeError { () throws(FileIOError) in try FileIO.write("x", to: fifo) }?.reason
                    == .notARegularFile(.fifo, throughLink: false))
            #expect(kind(fifo) == .fifo)
            #expect(throws: FileIOError(path: fifo, operation: .read, reason: .notARegularFile(.fifo, throughLink: false))) {
                try FileIO.read(fifo, limit: 100)
            }
        }
    }

    /// A link to a regular file stays a link and the file it names is replaced; a link to a device
    /// or to nothing is refused, and nothing is created where it points.
    @Test func symbolicLinksAreFollowedOnlyToRegularFiles() throws {
        try withScratchDirectory { directory in
            try FileIO.write("old", to: directory + "/real.txt")
            try FileManager.default.createSymbolicLink(atPath: directory + "/link.txt", withDestinationPath: "real.txt")
            try FileIO.write("new", to: directory + "/link.txt")
            #expect(kind(directory + "/link.txt") == .symbolicLink)
            #expect(contents(directory + "/real.txt") == "new")

            try FileManager.default.createSymbolicLink(atPath: directory + "/device", withDestinationPath: "/dev/full")
            let device = writeError { () throws(FileIOError) in try FileIO.write("x", to: directory + "/device") }
            #expect(device?.reason == .notARegularFile(.characterDevice, throughLink: true))
            #expect(device?.description.hasSuffix(": it is a symbolic link to a character device, not a regular file; nothing was written") == true)
            #expect(kind("/dev/full") == .characterDevice)

            try FileManager.default.createSymbolicLink(atPath: directory + "/dangling", withDestinationPath: "nowhere.txt")
            let dangling = writeError { () throws(FileIOError) in try FileIO.write("x", to: directory + "/dangling") }
            #expect(dangling?.reason == .danglingSymbolicLink)
            #expect(kind(directory + "/nowhere.txt") == nil)
            #expect(try leftovers(directory) == [])
        }
    }

    @Test func aMissingDirectoryIsNamed() throws {
        try withScratchDirectory { directory in
            let path = directory + "/no/such/out.txt"
            let error = writeError { () throws(FileIOError) in try FileIO.write("x", to: path) }
            #expect(error?.description == "cannot write \(path): the directory \(directory)/no/such does not exist")
        }
    }

    @Test func pathsWithoutAFileNameAreRefused() throws {
        #expect(writeError { () throws(FileIOError) in try FileIO.write("x", to: "") }?.description
                == "cannot write \"\": the path is empty")
        try withScratchDirectory { directory in
            let path = directory + "/new/"
            #expect(writeError { () throws(FileIOError) in try FileIO.write("x", to: path) }?.description
                    == "cannot write \(path): the path ends with '/', so it names a directory, not a file")
            #expect(kind(directory + "/new") == nil)
        }
    }

    /// Root may write into a read-only directory, so there the check cannot fail; the device and
    /// directory refusals above hold for everyone.
    @Test(.enabled(if: geteuid() != 0, "root is not bound by directory permissions"))
    func aReadOnlyDirectoryIsPermissionDeniedAndTheFileKept() throws {
        try withScratchDirectory { directory in
            let path = directory + "/kept.txt"
            try FileIO.write("previous", to: path)
            try #require(chmod(directory, 0o555) == 0)
            let error = writeError { () throws(FileIOError) in try FileIO.write("x", to: path) }
            #expect(error?.description == "cannot write \(path): permission denied")
            #expect(contents(path) == "previous")
        }
    }

    /// A write that stops part way (an error, or the writer dropped) never reaches the target.
    @Test func anUncommittedReplacementLeavesThePreviousFile() throws {
        try withScratchDirectory { directory in
            let path = directory + "/kept.txt"
            try FileIO.write("previous", to: path)
            do {
                let file = try FileReplacement(replacing: path)
                try file.write("half of the new con")
                #expect(try leftovers(directory).count == 1, "the new bytes go to a temporary file beside the target")
            }
            #expect(contents(path) == "previous")
            #expect(try leftovers(directory) == [], "the temporary file is removed")
        }
    }

    /// Something that appears at the target while the new file is written is not replaced either.
    @Test func theTargetIsCheckedAgainBeforeTheRename() throws {
        try withScratchDirectory { directory in
            let path = directory + "/late"
            let file = try FileReplacement(replacing: path)
            try file.write("x")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            #expect(throws: FileIOError(path: path, operation: .write, reason: .notARegularFile(.directory, throughLink: false))) {
                try file.commit()
            }
            #expect(kind(path) == .directory)
        }
    }

    @Test func writesAfterCommitAppendInPlace() throws {
        try withScratchDirectory { directory in
            let path = directory + "/log.csv"
            let file = try FileReplacement(replacing: path)
            try file.write("header\n")
            #expect(contents(path) == nil, "nothing is at the target before the commit")
            try file.commit()
            try file.write("row 1\n")
            #expect(contents(path) == "header\nrow 1\n")
        }
    }

    // MARK: - Messages

    /// Each reason a user can cause or fix reads as a short phrase; nothing comes from Foundation.
    @Test(arguments: [
        (ENOSPC, FileIOError.Operation.write, "no space left on device"),
        (EACCES, .write, "permission denied"),
        (EPERM, .read, "permission denied"),
        (EROFS, .write, "read-only file system"),
        (EDQUOT, .write, "disk quota exceeded"),
        (ENOENT, .read, "no such file"),
        (EISDIR, .write, "it is a directory"),
        (ENOTDIR, .read, "a part of the path is not a directory"),
        (EIO, .read, "input/output error"),
    ])
    func systemErrorsReadAsShortReasons(code: Int32, operation: FileIOError.Operation, reason: String) {
        let error = FileIOError(path: "runs/a.bin", operation: operation, reason: .system(code))
        #expect(error.description == "cannot \(operation.rawValue) runs/a.bin: \(reason)")
    }

    @Test func anUncommonErrorFallsBackToTheCLibrarysTextAndNumber() {
        let text = FileIOError(path: "x", operation: .write, reason: .system(EXDEV)).description
        #expect(text.hasPrefix("cannot write x: invalid cross-device link"), "\(text)")
        #expect(text.hasSuffix("(errno \(EXDEV))"))
    }

    // MARK: - Reading

    @Test func aRegularFileIsReadWhole() throws {
        try withScratchDirectory { directory in
            let path = directory + "/data.bin"
            let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try FileIO.write(bytes, to: path)
            #expect(try FileIO.read(path, limit: bytes.count) == bytes, "a file of exactly the limit is read")
            try FileIO.write([], to: path)
            #expect(try FileIO.read(path, limit: 0) == [])
        }
    }

    @Test func aFileOverTheLimitIsRefused() throws {
        try withScratchDirectory { directory in
            let path = directory + "/big.bin"
            try FileIO.write([UInt8](repeating: 1, count: 101), to: path)
            #expect(throws: FileIOError(path: path, operation: .read, reason: .tooLarge(bytes: 101, limit: 100))) {
                try FileIO.read(path, limit: 100)
            }
            #expect(FileIOError(path: path, operation: .read, reason: .tooLarge(bytes: 101, limit: 100)).description
                    == "cannot read \(path): it has 101 bytes, more than the 100 this reader accepts")
        }
    }

    @Test func missingFilesDirectoriesAndDevicesAreRefused() throws {
        try withScratchDirectory { directory in
            #expect(throws: FileIOError(path: directory + "/none", operation: .read, reason: .system(ENOENT))) {
                try FileIO.read(directory + "/none", limit: 100)
            }
            #expect(FileIOError(path: "none", operation: .read, reason: .system(ENOENT)).description == "cannot read none: no such file")
            #expect(throws: FileIOError(path: directory, operation: .read, reason: .notARegularFile(.directory, throughLink: false))) {
                try FileIO.read(directory, limit: 100)
            }
        }
        // /dev/zero never ends: it is refused, not read up to the limit.
        #expect(throws: FileIOError(path: "/dev/zero", operation: .read, reason: .notARegularFile(.characterDevice, throughLink: false))) {
            try FileIO.read("/dev/zero", limit: 1 << 30)
        }
    }

    /// Kernel files report size 0 and still have contents; they are read to their end.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/status")))
    func aFileLongerThanItsReportedSizeIsReadToItsEnd() throws {
        let text = String(decoding: try FileIO.read("/proc/self/status", limit: 1 << 20), as: UTF8.self)
        #expect(text.hasPrefix("Name:"))
        #expect(throws: FileIOError.self) { try FileIO.read("/proc/self/status", limit: 10) }
    }
}
