import BettyTensor
import Foundation

/// A data file's bytes, read whole, with the errors a user can act on: no such file, a directory
/// or a device instead of a file, no permission, or a file larger than the memory left.
enum DataFile {
    static func bytes(at path: String) throws(DataError) -> Data {
        let size = try size(at: path)
        try DataError.checkMemory(bytes: size, for: "reading \(path)")
        guard let data = FileManager.default.contents(atPath: path) else { throw .malformed(path: path, reason: "cannot be read") }
        return data
    }

    /// The size of the regular, readable file at `path`, with `bytes(at:)`'s refusals.
    static func size(at path: String) throws(DataError) -> Int {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .fileNotFound(path: path) }
        guard !isDirectory.boolValue else { throw .unsupported(path: path, reason: "is a directory, not a data file") }
        // A device or a pipe reports no size and may never end (/dev/zero): only regular files.
        guard let attributes = try? manager.attributesOfItem(atPath: path),
              attributes[.type] as? FileAttributeType == .typeRegular,
              let size = (attributes[.size] as? NSNumber)?.intValue else {
            throw .unsupported(path: path, reason: "is not a regular file")
        }
        guard manager.isReadableFile(atPath: path) else { throw .malformed(path: path, reason: "cannot be read: permission denied") }
        return size
    }
}
