import BettyTensor
import Foundation

/// Hugging Face's safetensors layout, the format of PyTorch state dicts on the Hub and of our
/// checkpoints and saved weights, so both open in Python (`safetensors.safe_open`): an
/// 8-byte little-endian header length N, N bytes of JSON giving each tensor's dtype, shape and byte
/// range in the data section (`data_offsets`, relative to the section's start) plus a `__metadata__`
/// map of strings, then the raw little-endian data, packed in header order without gaps.
///
/// The header is padded with spaces (which the format allows) so the data section starts 8-byte
/// aligned: a reader that maps the file can use the tensors in place.
///
/// Each tensor's CRC-32C is kept in the metadata as `crc32c.<tensor name>` (8 hex digits: the format
/// allows only strings there) and checked on every read. Other writers add no checksums; a tensor
/// without one is read unchecked, and `uncheckedTensors` lists it.
///
/// F32 tensors are read as they are; F16, BF16 and F64 ones are converted to `Float` (F64 rounds to
/// nearest, the two 16-bit formats convert exactly); any other dtype is refused naming the tensor.
/// The engine's checkpoint (`Betty/Checkpoint`) and `Module.loadWeights`/`saveWeights` use this.
///
/// A file opened here has had its header checked against its length and its data against its
/// checksums; tensors are converted on demand, so a loader can compare names, shapes and dtypes
/// before it converts anything.
///
/// Every count and offset in the header is checked with overflow-reporting arithmetic and
/// against the file's length before it is used: a hostile header is an error, never a trap.
public struct SafeTensorsFile: Sendable {
    public let path: String
    /// In data order.
    public let entries: [Entry]
    /// The caller's metadata, without the checksums.
    public let metadata: [String: String]
    /// The tensors, in data order, that have no stored checksum, so their data could not be
    /// checked: all of them in a file written before checkpoints had checksums or by another
    /// writer, none in a file this library wrote.
    public let uncheckedTensors: [String]
    private let bytes: [UInt8]
    private let dataStart: Int

    public init(path: String) throws(SafeTensorsError) {
        let bytes: [UInt8]
        // A file larger than memory could not be loaded anyway; this says so before allocating.
        do { bytes = try FileIO.read(path, limit: MemoryBudget.physicalMemory) } catch { throw .file(error) }
        try self.init(bytes: bytes, path: path)
    }

    public init(bytes: [UInt8], path: String) throws(SafeTensorsError) {
        func corrupt(_ reason: String) -> SafeTensorsError { .corrupt(path: path, reason: reason) }
        guard bytes.count >= 8 else {
            throw corrupt("the file has \(bytes.count) bytes, fewer than the 8-byte header length every safetensors file starts with")
        }
        let declared = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard declared <= UInt64(Self.maximumHeaderSize) else {
            throw corrupt("the header length is \(declared) bytes, more than the format's limit of \(Self.maximumHeaderSize)")
        }
        let headerSize = Int(declared)
        guard headerSize <= bytes.count - 8 else {
            throw corrupt("the header length is \(headerSize) bytes but only \(bytes.count - 8) bytes follow it")
        }
        let (fields, metadata) = try Self.parseHeader(Data(bytes[8..<(8 + headerSize)]), path: path)
        var entries: [Entry] = []
        for (name, value) in fields { entries.append(try Self.entry(name, value, path: path)) }
        // Header order is lost to the JSON parser; the data order is the same and is recovered from
        // the offsets (empty tensors, which share an offset, by name).
        entries.sort { ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name) }
        // Packed without gaps from 0 means no range overlaps another or starts past the data.
        let dataSize = bytes.count - 8 - headerSize
        var end = 0
        for entry in entries {
            guard entry.range.lowerBound == end else {
                throw corrupt("tensor '\(entry.name)' starts at byte \(entry.range.lowerBound) of the data section, expected \(end): tensors must be packed without gaps or overlaps")
            }
            guard entry.range.upperBound <= dataSize else {
                throw corrupt("tensor '\(entry.name)' ends at byte \(entry.range.upperBound) of the data section, but the file has \(dataSize) bytes after the header")
            }
            end = entry.range.upperBound
        }
        guard end == dataSize else {
            throw corrupt("\(dataSize - end) bytes follow the last tensor's data")
        }
        self.path = path
        self.entries = entries
        self.bytes = bytes
        dataStart = 8 + headerSize
        (self.metadata, uncheckedTensors) = try Self.verify(entries, metadata, bytes: bytes, dataStart: dataStart, path: path)
    }

    /// The header's tensor entries (still unchecked) and its metadata, whose values must be strings.
    private static func parseHeader(_ header: Data, path: String) throws(SafeTensorsError) -> ([(String, Any)], [String: String]) {
        func corrupt(_ reason: String) -> SafeTensorsError { .corrupt(path: path, reason: reason) }
        guard let parsed = try? JSONSerialization.jsonObject(with: header), let object = parsed as? [String: Any] else {
            throw corrupt("the \(header.count)-byte header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var fields: [(String, Any)] = []
        for (name, value) in object {
            guard name == metadataKey else {
                fields.append((name, value))
                continue
            }
            guard let map = value as? [String: Any] else { throw corrupt("\(metadataKey) is not a JSON object") }
            for (key, item) in map {
                guard let text = item as? String else { throw corrupt("\(metadataKey) entry '\(key)' is not a string") }
                metadata[key] = text
            }
        }
        return (fields, metadata)
    }

    /// Checks one header entry against the format (the data's extent is checked by the caller).
    private static func entry(_ name: String, _ value: Any, path: String) throws(SafeTensorsError) -> Entry {
        func corrupt(_ reason: String) -> SafeTensorsError { .corrupt(path: path, reason: "tensor '\(name)': \(reason)") }
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
            // A JSON number with a fraction, or beyond Int's range, does not convert to Int.
            guard let n = v as? Int, n >= 0 else { return nil }
            out.append(n)
        }
        return out
    }

    /// Compares each tensor's data with its stored CRC-32C and returns the metadata without the
    /// checksums, and the tensors that have none. A checksum that is not 8 hex digits was
    /// damaged. One for a tensor the file does not have is passed over: a tool that removed the
    /// tensor may have kept the metadata, and a loader reports the tensor as missing if it needs it.
    private static func verify(_ entries: [Entry], _ metadata: [String: String], bytes: [UInt8], dataStart: Int,
                               path: String) throws(SafeTensorsError) -> (metadata: [String: String], unchecked: [String]) {
        var stored: [String: UInt32] = [:]
        var user: [String: String] = [:]
        for (key, text) in metadata {
            guard key.hasPrefix(checksumPrefix) else {
                user[key] = text
                continue
            }
            guard text.utf8.count == 8, text.allSatisfy(\.isHexDigit), let crc = UInt32(text, radix: 16) else {
                throw .corrupt(path: path, reason: "metadata '\(key)' is not a CRC-32C checksum (8 hexadecimal digits): '\(text)'")
            }
            stored[String(key.dropFirst(checksumPrefix.count))] = crc
        }
        if let expected = stored.removeValue(forKey: metadataKey) {
            let computed = metadataChecksum(user)
            guard computed == expected else {
                throw .corrupt(path: path, reason: "its metadata (for a checkpoint: the step counters, loader positions and graph) does not match its checksum (CRC-32C stored \(checksumText(expected)), computed \(checksumText(computed))); the file was damaged or changed after it was saved, and nothing was loaded")
            }
        } else if !stored.isEmpty {
            throw .corrupt(path: path, reason: "its tensors have checksums but its metadata has none: the checksum was removed, or the metadata changed by another tool; nothing was loaded")
        }
        var unchecked: [String] = []
        for entry in entries {
            guard let expected = stored[entry.name] else {
                unchecked.append(entry.name)
                continue
            }
            let start = dataStart + entry.range.lowerBound
            let computed = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + entry.range.count)])) }
            guard computed == expected else {
                throw .checksumMismatch(path: path, tensor: entry.name, stored: expected, computed: computed)
            }
        }
        return (user, unchecked)
    }

    /// The entry named `name`, if the file has one.
    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// Every tensor, in data order, converted as `tensor(_:)` does.
    public func tensors() throws(SafeTensorsError) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for entry in entries { out.append((entry.name, try tensor(entry))) }
        return out
    }

    /// The tensor's values, copied out of the file: F32 as stored, F16, BF16 and F64 converted to
    /// `Float` (see `SafeTensorsConversion`). Any other dtype is refused naming the tensor and dtype.
    public func tensor(_ entry: Entry) throws(SafeTensorsError) -> Tensor {
        guard Self.convertibleDTypes.contains(entry.dtype) else {
            throw .unsupported(path: path, reason: "tensor '\(entry.name)' is \(entry.dtype); only F32, F16, BF16 and F64 tensors can be read (converted to F32)")
        }
        guard Self.isRepresentable(entry.shape) else {
            throw .unsupported(path: path, reason: "tensor '\(entry.name)' has shape \(entry.shape); tensors have rank at most \(Shape.maxRank) and dimensions below 2^31")
        }
        var tensor = Tensor.zeros(Shape(entry.shape))
        let start = dataStart + entry.range.lowerBound
        let dtype = entry.dtype
        withoutGrad {
            tensor.withUnsafeMutableBufferPointer { destination in
                bytes.withUnsafeBytes { all in
                    let source = UnsafeRawBufferPointer(rebasing: all[start..<(start + entry.range.count)])
                    SafeTensorsConversion.convert(source, dtype: dtype, into: destination)
                }
            }
        }
        return tensor
    }
}
