import BettyNN
import BettyTensor

/// Hugging Face's safetensors layout, so checkpoints open in Python (`safetensors.safe_open`): an
/// 8-byte little-endian header length N, N bytes of JSON giving each tensor's dtype, shape and byte
/// range in the data section (`data_offsets`, relative to the section's start) plus a `__metadata__`
/// map of strings, then the raw little-endian data, packed in header order without gaps.
///
/// The header is padded with spaces (which the format allows) so the data section starts 8-byte
/// aligned: a reader that maps the file can use the tensors in place.
///
/// Each tensor's CRC-32C is kept in the metadata as `crc32c.<tensor name>` (8 hex digits: the format
/// allows only strings there) and checked on every read. Other writers add no checksums; a tensor
/// without one is read unchecked, and `File.uncheckedTensors` lists it.
public enum SafeTensors {
    /// Writes `tensors` as F32 in the given order, replacing the file at `path` only once the new
    /// one is complete and on disk (see `FileReplacement`): a failure or a crash leaves the old file
    /// or the new one, never half of one, and a path that names anything but a regular file is
    /// refused untouched.
    public static func write(tensors: [(String, Tensor)], metadata: [String: String], to path: String) throws(CheckpointError) {
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
    /// are checked). Only F32 tensors of rank at most `Shape.maxRank` can be read; anything else
    /// is reported, as is a file that is cut short or whose data does not match its checksums.
    public static func read(path: String) throws(CheckpointError) -> (tensors: [(String, Tensor)], metadata: [String: String]) {
        let file = try File(path: path)
        var tensors: [(String, Tensor)] = []
        for entry in file.entries { tensors.append((entry.name, try file.tensor(entry))) }
        return (tensors, file.metadata)
    }

    /// Bytes per element of every dtype the format defines, so a header naming any of them is checked
    /// against the data it claims (F32 is the only one converted to a `Tensor`).
    static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
        "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4,
        "I64": 8, "U64": 8, "F64": 8,
    ]

    /// The reference (Rust) reader refuses longer headers; so do we, so that a corrupt length cannot
    /// make us allocate gigabytes.
    static let maximumHeaderSize = 100_000_000

    static let metadataKey = "__metadata__"

    /// Metadata keys starting with this hold checksums; the rest of the key is the tensor's name.
    static let checksumPrefix = "crc32c."

    static func checksumText(_ crc: UInt32) -> String {
        let hex = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// One tensor as the header describes it; `range` is relative to the start of the data section.
    struct Entry: Equatable {
        var name: String
        var dtype: String
        var shape: [Int]
        var range: Range<Int>
    }

    /// Whether `shape` fits a `Shape` (rank and 32-bit dimensions).
    static func isRepresentable(_ shape: [Int]) -> Bool {
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
