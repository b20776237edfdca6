import BettyTensor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Hugging Face's safetensors layout, so checkpoints open in Python (`safetensors.safe_open`): an
/// 8-byte little-endian header length N, N bytes of JSON giving each tensor's dtype, shape and byte
/// range in the data section (`data_offsets`, relative to the section's start) plus a `__metadata__`
/// map of strings, then the raw little-endian data, packed in header order without gaps.
///
/// The header is padded with spaces (which the format allows) so the data section starts 8-byte
/// aligned: a reader that maps the file can use the tensors in place.
public enum SafeTensors {
    /// Writes `tensors` as F32 in the given order, replacing any file at `path` atomically: the bytes
    /// go to a temporary file in the same directory, which is flushed to disk and then renamed over
    /// `path`, so a crash leaves either the old file or the new one, never half of one.
    public static func write(tensors: [(String, Tensor)], metadata: [String: String], to path: String) throws(CheckpointError) {
        try writeAtomically(encode(tensors: tensors, metadata: metadata), to: path)
    }

    /// Every tensor of the file in data order, with the metadata. Only F32 tensors of rank at most
    /// `Shape.maxRank` can be read; anything else is reported, as is a file that is cut short.
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

    /// One tensor as the header describes it; `range` is relative to the start of the data section.
    struct Entry: Equatable {
        var name: String
        var dtype: String
        var shape: [Int]
        var range: Range<Int>
    }

    /// A file whose header has been checked against its length; tensors are converted on demand, so
    /// a loader can compare names, shapes and dtypes before it converts anything.
    struct File {
        let path: String
        /// In data order.
        let entries: [Entry]
        let metadata: [String: String]
        private let bytes: Data
        private let dataStart: Int

        init(path: String) throws(CheckpointError) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw .fileNotFound(path: path)
            }
            guard !isDirectory.boolValue else { throw .io(path: path, operation: "read", reason: "it is a directory") }
            let bytes: Data
            do {
                bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw .io(path: path, operation: "read", reason: "\(error)")
            }
            try self.init(bytes: bytes, path: path)
        }

        init(bytes input: Data, path: String) throws(CheckpointError) {
            func corrupt(_ reason: String) -> CheckpointError { .corrupt(path: path, reason: reason) }
            // Offsets below count from 0.
            let bytes = input.startIndex == 0 ? input : Data(input)
            guard bytes.count >= 8 else {
                throw corrupt("the file has \(bytes.count) bytes, fewer than the 8-byte header length every safetensors file starts with")
            }
            let declared = bytes.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard declared <= UInt64(maximumHeaderSize) else {
                throw corrupt("the header length is \(declared) bytes, more than the format's limit of \(maximumHeaderSize)")
            }
            let headerSize = Int(declared)
            guard headerSize <= bytes.count - 8 else {
                throw corrupt("the header length is \(headerSize) bytes but only \(bytes.count - 8) bytes follow it")
            }
            let header = bytes.subdata(in: 8..<(8 + headerSize))
            guard let parsed = try? JSONSerialization.jsonObject(with: header), let object = parsed as? [String: Any] else {
                throw corrupt("the \(headerSize)-byte header is not a JSON object")
            }
            var metadata: [String: String] = [:]
            var entries: [Entry] = []
            for (name, value) in object {
                if name == metadataKey {
                    guard let map = value as? [String: Any] else { throw corrupt("\(metadataKey) is not a JSON object") }
                    for (key, item) in map {
                        guard let text = item as? String else { throw corrupt("\(metadataKey) entry '\(key)' is not a string") }
                        metadata[key] = text
                    }
                    continue
                }
                entries.append(try Self.entry(name, value, path: path))
            }
            // Header order is lost to the JSON parser; the data order is the same and is recovered from
            // the offsets (empty tensors, which share an offset, by name).
            entries.sort { ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name) }
            let dataSize = bytes.count - 8 - headerSize
            var end = 0
            for entry in entries {
                guard entry.range.lowerBound == end else {
                    throw corrupt("tensor '\(entry.name)' starts at byte \(entry.range.lowerBound) of the data section, expected \(end): tensors must be packed without gaps or overlaps")
                }
                end = entry.range.upperBound
            }
            guard end <= dataSize else {
                throw corrupt("the header's tensors need \(end) bytes of data but the file has \(dataSize) after the header")
            }
            guard end == dataSize else {
                throw corrupt("\(dataSize - end) bytes follow the last tensor's data")
            }
            self.path = path
            self.entries = entries
            self.metadata = metadata
            self.bytes = bytes
            dataStart = 8 + headerSize
        }

        /// Checks one header entry against the format (the data's extent is checked by the caller).
        private static func entry(_ name: String, _ value: Any, path: String) throws(CheckpointError) -> Entry {
            func corrupt(_ reason: String) -> CheckpointError { .corrupt(path: path, reason: "tensor '\(name)': \(reason)") }
            guard let info = value as? [String: Any] else { throw corrupt("its header entry is not a JSON object") }
            guard let dtype = info["dtype"] as? String else { throw corrupt("its header entry has no dtype string") }
            guard let size = elementSizes[dtype] else { throw corrupt("unknown dtype '\(dtype)'") }
            guard let dims = info["shape"] as? [Any], let shape = integers(dims) else {
                throw corrupt("its shape is not a list of non-negative integers")
            }
            guard let offsets = info["data_offsets"] as? [Any], let pair = integers(offsets), pair.count == 2, pair[0] <= pair[1] else {
                throw corrupt("its data_offsets are not two non-negative integers [begin, end] with begin <= end")
            }
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw corrupt("shape \(shape) has too many elements") }
                count = product
            }
            let (needed, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, needed == pair[1] - pair[0] else {
                throw corrupt("data_offsets [\(pair[0]), \(pair[1])] span \(pair[1] - pair[0]) bytes but \(dtype) \(shape) needs \(overflow ? "more than Int.max" : String(needed))")
            }
            return Entry(name: name, dtype: dtype, shape: shape, range: pair[0]..<pair[1])
        }

        private static func integers(_ values: [Any]) -> [Int]? {
            var out: [Int] = []
            for v in values {
                // A JSON number with a fraction does not convert to Int.
                guard let n = v as? Int, n >= 0 else { return nil }
                out.append(n)
            }
            return out
        }

        /// The tensor's values, copied out of the file.
        func tensor(_ entry: Entry) throws(CheckpointError) -> Tensor {
            guard entry.dtype == "F32" else {
                throw .unsupported(path: path, reason: "tensor '\(entry.name)' is \(entry.dtype); only F32 tensors can be read")
            }
            guard isRepresentable(entry.shape) else {
                throw .unsupported(path: path, reason: "tensor '\(entry.name)' has shape \(entry.shape); tensors have rank at most \(Shape.maxRank) and dimensions below 2^31")
            }
            var tensor = Tensor.zeros(Shape(entry.shape))
            let start = dataStart + entry.range.lowerBound
            withoutGrad {
                tensor.withUnsafeMutableBufferPointer { destination in
                    bytes.withUnsafeBytes { source in
                        UnsafeMutableRawBufferPointer(destination)
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + entry.range.count)]))
                    }
                    #if _endian(big)
                    for i in destination.indices { destination[i] = Float(bitPattern: UInt32(littleEndian: destination[i].bitPattern)) }
                    #endif
                }
            }
            return tensor
        }
    }

    /// Whether `shape` fits a `Shape` (rank and 32-bit dimensions).
    static func isRepresentable(_ shape: [Int]) -> Bool {
        shape.count <= Shape.maxRank && shape.allSatisfy { $0 <= Int(Int32.max) }
    }

    /// The whole file: length, header (keys in tensor order, metadata keys sorted, so equal inputs
    /// give equal bytes), padding, data.
    static func encode(tensors: [(String, Tensor)], metadata: [String: String]) throws(CheckpointError) -> Data {
        var seen = Set<String>()
        var duplicates: [String] = []
        for (name, _) in tensors where !seen.insert(name).inserted { duplicates.append(name) }
        guard duplicates.isEmpty else {
            throw .invalidContents(reason: "tensor names must be unique; repeated: \(duplicates.map { "'\($0)'" }.joined(separator: ", "))")
        }
        guard !seen.contains(metadataKey) else {
            throw .invalidContents(reason: "'\(metadataKey)' is the format's metadata entry and cannot name a tensor")
        }
        var header = "{" + jsonString(metadataKey) + ":{"
        header += metadata.sorted { $0.key < $1.key }.map { jsonString($0.key) + ":" + jsonString($0.value) }.joined(separator: ",")
        header += "}"
        var offset = 0
        for (name, tensor) in tensors {
            let end = offset + tensor.count * MemoryLayout<Float>.size
            let dims = tensor.shape.map(String.init).joined(separator: ",")
            header += "," + jsonString(name) + ":{\"dtype\":\"F32\",\"shape\":[\(dims)],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var headerBytes = Data(header.utf8)
        headerBytes.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))
        var out = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        for (_, tensor) in tensors {
            tensor.withUnsafeBufferPointer { values in
                #if _endian(little)
                out.append(contentsOf: UnsafeRawBufferPointer(values))
                #else
                for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                #endif
            }
        }
        return out
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Temporary file in the target's directory (a rename is atomic only within one file system),
    /// fsynced before the rename, and the directory fsynced after it so the rename itself survives a
    /// power loss.
    static func writeAtomically(_ bytes: Data, to path: String) throws(CheckpointError) {
        let target = URL(fileURLWithPath: path)
        let directory = target.deletingLastPathComponent().path
        let temporary = directory + "/." + target.lastPathComponent + ".tmp-" + UUID().uuidString
        func failure(_ operation: String) -> CheckpointError {
            .io(path: path, operation: operation, reason: String(cString: strerror(errno)))
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("create a temporary file in '\(directory)'") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: bytes)
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            unlink(temporary)
            throw .io(path: path, operation: "write '\(temporary)'", reason: "\(error)")
        }
        guard rename(temporary, path) == 0 else {
            let error = failure("rename '\(temporary)' over it")
            unlink(temporary)
            throw error
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            // The file is complete and in place; a directory that cannot be synced only weakens the
            // guarantee on power loss, so it is not an error.
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}
