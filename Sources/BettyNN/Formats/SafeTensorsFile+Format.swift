import BettyTensor

/// Writing, and the format's constants.
extension SafeTensorsFile {
    /// Writes `tensors` as F32 in the given order, replacing the file at `path` only once the new
    /// one is complete and on disk (see `FileReplacement`): a failure or a crash leaves the old file
    /// or the new one, never half of one, and a path that names anything but a regular file is
    /// refused untouched.
    public static func write(tensors: [(String, Tensor)], metadata: [String: String], to path: String) throws(SafeTensorsError) {
        let header = try header(tensors: tensors, metadata: metadata)
        do {
            let file = try FileReplacement(replacing: path)
            try file.write(header)
            for (_, tensor) in tensors { try withLittleEndianBytes(tensor) { (bytes) throws(FileIOError) in try file.write(bytes) } }
            try file.commit()
        } catch {
            throw .file(error)
        }
    }

    /// Every tensor of the file in data order, with the metadata (without the checksums, which
    /// are checked). F32, F16, BF16 and F64 tensors of rank at most `Shape.maxRank` can be read;
    /// anything else is reported, as is a file that is cut short or whose data does not match its
    /// checksums.
    public static func read(path: String) throws(SafeTensorsError) -> (tensors: [(String, Tensor)], metadata: [String: String]) {
        let file = try SafeTensorsFile(path: path)
        return (try file.tensors(), file.metadata)
    }

    /// Bytes per element of every dtype the format defines, so a header naming any of them is checked
    /// against the data it claims (`convertibleDTypes` are the ones read into a `Tensor`).
    public static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
        "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4,
        "I64": 8, "U64": 8, "F64": 8,
    ]

    /// The reference (Rust) reader refuses longer headers; so do we, so that a corrupt length cannot
    /// make us allocate gigabytes.
    /// The dtypes `tensor(_:)` reads: F32 as it is, the others converted to `Float`.
    public static let convertibleDTypes: Set<String> = ["F32", "F16", "BF16", "F64"]

    static let maximumHeaderSize = 100_000_000

    public static let metadataKey = "__metadata__"

    /// Metadata keys starting with this hold checksums; the rest of the key is the tensor's name.
    public static let checksumPrefix = "crc32c."

    public static func checksumText(_ crc: UInt32) -> String {
        let hex = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// One tensor as the header describes it; `range` is relative to the start of the data section.
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var range: Range<Int>
    }

    /// Whether `shape` fits a `Shape` (rank and 32-bit dimensions).
    public static func isRepresentable(_ shape: [Int]) -> Bool {
        shape.count <= Shape.maxRank && shape.allSatisfy { $0 <= Int(Int32.max) }
    }

    /// The tensor's elements as the file stores them, little-endian.
    static func withLittleEndianBytes<R, E: Error>(_ tensor: Tensor, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        #if _endian(little)
        return try tensor.withUnsafeBufferPointer { (values) throws(E) -> R in try body(UnsafeRawBufferPointer(values)) }
        #else
        let swapped = tensor.scalars.map { $0.bitPattern.littleEndian }
        return try swapped.withUnsafeBytes { (bytes) throws(E) -> R in try body(bytes) }
        #endif
    }
}
