import BettyTensor
import Foundation

/// Reads IDX files (the MNIST distribution format): a 4-byte magic (0, 0, element type, rank),
/// big-endian 32-bit dimensions, then big-endian elements.
///
/// Gzip-compressed files (`.gz`) are recognised and refused with a clear error: decompressing would
/// need zlib, a dependency this package does not take; run `gunzip` first.
public enum IDXReader {
    public static func read(path: String) throws(DataError) -> Tensor {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path: path) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .malformed(path: path, reason: "cannot be read")
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String = "<memory>") throws(DataError) -> Tensor {
        let bytes = [UInt8](data)
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
            throw .unsupported(path: path, reason: "is gzip-compressed; decompress it first (gunzip)")
        }
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else {
            throw .malformed(path: path, reason: "not an IDX file (bad magic bytes)")
        }
        let width: Int
        switch bytes[2] {
        case 0x08, 0x09: width = 1
        case 0x0B: width = 2
        case 0x0C, 0x0D: width = 4
        case 0x0E: width = 8
        default: throw .unsupported(path: path, reason: "element type 0x\(String(bytes[2], radix: 16)) is not an IDX type")
        }
        let rank = Int(bytes[3])
        guard rank >= 1, rank <= Shape.maxRank else {
            throw .unsupported(path: path, reason: "rank \(rank) is not in 1...\(Shape.maxRank)")
        }
        guard bytes.count >= 4 + 4 * rank else { throw .malformed(path: path, reason: "truncated header") }
        var dims: [Int] = []
        for i in 0..<rank {
            let o = 4 + 4 * i
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        let count = dims.reduce(1, *), start = 4 + 4 * rank
        guard bytes.count - start == count * width else {
            throw .malformed(path: path, reason: "header says shape \(dims) (\(count * width) bytes of data) but the file holds \(bytes.count - start)")
        }
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let o = start + i * width
            var raw: UInt64 = 0
            for k in 0..<width { raw = raw << 8 | UInt64(bytes[o + k]) }
            switch bytes[2] {
            case 0x08: values[i] = Float(UInt8(raw))
            case 0x09: values[i] = Float(Int8(bitPattern: UInt8(raw)))
            case 0x0B: values[i] = Float(Int16(bitPattern: UInt16(raw)))
            case 0x0C: values[i] = Float(Int32(bitPattern: UInt32(raw)))
            case 0x0D: values[i] = Float(bitPattern: UInt32(raw))
            default: values[i] = Float(Double(bitPattern: raw))
            }
        }
        do { return try Tensor(shape: Shape(dims), scalars: values) } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
    }
}
