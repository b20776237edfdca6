/// Why a safetensors file could not be written or read; the description is one line.
public enum SafeTensorsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be read or written (no such file, permissions, a full disk, a directory
    /// or device in the way); a failed write leaves any earlier file as it was.
    case file(FileIOError)
    /// The bytes are not a complete safetensors file: cut short, or a header that does not add up.
    case corrupt(path: String, reason: String)
    /// A tensor's data differs from the CRC-32C stored when it was written: the file was damaged or
    /// edited since.
    case checksumMismatch(path: String, tensor: String, stored: UInt32, computed: UInt32)
    /// A well-formed file holding what `Tensor` cannot represent (a dtype other than F32, F16, BF16
    /// and F64, a rank above `Shape.maxRank`).
    case unsupported(path: String, reason: String)
    /// Names or metadata keys that cannot be written (duplicates, reserved names).
    case invalidContents(reason: String)

    public var description: String {
        switch self {
        case let .file(error):
            return error.description
        case let .corrupt(path, reason):
            return "'\(path)' is truncated or corrupt: \(reason)"
        case let .checksumMismatch(path, tensor, stored, computed):
            return "'\(path)' is corrupt: the data of tensor '\(tensor)' does not match its checksum "
                + "(CRC-32C stored \(SafeTensorsFile.checksumText(stored)), computed \(SafeTensorsFile.checksumText(computed))); "
                + "the file was damaged or changed after it was saved, and nothing was loaded"
        case let .unsupported(path, reason):
            return "'\(path)': \(reason)"
        case let .invalidContents(reason):
            return "cannot write safetensors file: \(reason)"
        }
    }
}
