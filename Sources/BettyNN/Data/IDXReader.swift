import BettyTensor
import Foundation

/// Reads IDX files (the MNIST distribution format): a 4-byte magic (0, 0, element type, rank),
/// big-endian 32-bit dimensions, then big-endian elements.
///
/// Gzip-compressed files (`.gz`, as MNIST is distributed) are recognised and refused with a clear
/// error: run `gunzip` first. (zlib is linked for `.npz` archives; reading gzip here is not done yet.)
///
/// The header is not trusted: its dimensions are multiplied with overflow checks and the size they
/// declare must be exactly what the file holds before anything is allocated for the elements.
public enum IDXReader {
    public static func read(path: String) throws(DataError) -> Tensor {
        try parse(DataFile.bytes(at: path), path: path)
    }

    public static func parse(_ data: Data, path: String = "<memory>") throws(DataError) -> Tensor {
        let result = data.withUnsafeBytes { raw in
            Result { () throws(DataError) -> Tensor in try parse(raw, path: path) }
        }
        return try result.get()
    }

    /// The element types IDX defines: width in bytes and name.
    private static func elementType(_ code: UInt8) -> (width: Int, name: String)? {
        switch code {
        case 0x08: (1, "unsigned byte")
        case 0x09: (1, "signed byte")
        case 0x0B: (2, "short")
        case 0x0C: (4, "int")
        case 0x0D: (4, "float")
        case 0x0E: (8, "double")
        default: nil
        }
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws(DataError) -> Tensor {
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
            throw .unsupported(path: path, reason: "is gzip-compressed; decompress it first (gunzip)")
        }
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else {
            throw .malformed(path: path, reason: "not an IDX file (bad magic bytes)")
        }
        let code = bytes[2]
        guard let (width, typeName) = elementType(code) else {
            throw .unsupported(path: path, reason: "element type 0x\(String(code, radix: 16)) is not an IDX type")
        }
        let rank = Int(bytes[3])
        guard rank >= 1, rank <= Shape.maxRank else {
            throw .unsupported(path: path, reason: "rank \(rank) is not in 1...\(Shape.maxRank)")
        }
        let start = 4 + 4 * rank
        guard bytes.count >= start else {
            throw .malformed(path: path, reason: "truncated header: rank \(rank) needs \(start) header bytes, the file has \(bytes.count)")
        }
        var dims: [Int] = []
        for i in 0..<rank {
            let o = 4 + 4 * i
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        try DataShape.validate(dims, path: path)
        let count = MemoryBudget.product(dims)
        let declared = count.flatMap { MemoryBudget.product([$0, width]) }
        let held = bytes.count - start
        guard declared == held else {
            throw .malformed(path: path, reason: "header declares shape \(dims) of \(typeName) (\(DataShape.describe(bytes: declared)) of data) but the file holds \(held) bytes after the header")
        }
        try DataError.checkMemory(floats: count, for: "\(path): shape \(dims)")
        let elements = held / width
        var values = [Float](repeating: 0, count: elements)
        for i in 0..<elements {
            let o = start + i * width
            var raw: UInt64 = 0
            for k in 0..<width { raw = raw << 8 | UInt64(bytes[o + k]) }
            switch code {
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
