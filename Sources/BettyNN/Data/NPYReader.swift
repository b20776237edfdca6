import BettyTensor
import Foundation

/// Reads NumPy `.npy` files (format versions 1, 2 and 3) into Float32 tensors.
///
/// Supported element types: `f4`, `f8`, `u1`, `i1`, `i4`, `i8`, little-endian (or byte-sized), C order.
/// Everything else, and any file whose header disagrees with its size, is a `DataError` naming the file:
/// nothing is half-loaded. The header is not trusted: its length is capped, its shape multiplied with
/// overflow checks and compared with the file's size before the elements are allocated.
public enum NPYReader {
    /// NumPy's own default cap on a header's length (`max_header_size`): a longer one is not a
    /// plain array's header, and parsing it would only cost time.
    static let maxHeaderLength = 10_000

    public static func read(path: String) throws(DataError) -> Tensor {
        try parse(DataFile.bytes(at: path), path: path)
    }

    public static func parse(_ data: Data, path: String = "<memory>") throws(DataError) -> Tensor {
        let result = data.withUnsafeBytes { raw in
            Result { () throws(DataError) -> Tensor in try parse(raw, path: path) }
        }
        return try result.get()
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws(DataError) -> Tensor {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw .malformed(path: path, reason: "not a .npy file (bad magic bytes)")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw .malformed(path: path, reason: "truncated header (the file ends at byte \(bytes.count))") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw .unsupported(path: path, reason: "format version \(major) is not supported (1, 2 or 3)")
        }
        guard headerLength <= maxHeaderLength else {
            throw .malformed(path: path, reason: "header length \(headerLength) is above \(maxHeaderLength) bytes, NumPy's own limit for a header")
        }
        guard bytes.count >= headerStart + headerLength else {
            throw .malformed(path: path, reason: "truncated header (\(headerLength) bytes announced, \(bytes.count - headerStart) in the file)")
        }
        guard let header = String(validating: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self) else {
            throw .malformed(path: path, reason: "header is not text (not valid UTF-8)")
        }
        let descr = try field("descr", in: header, path: path)
        let fortran = try field("fortran_order", in: header, path: path)
        let shapeText = try field("shape", in: header, path: path)
        switch fortran {
        case "False": break
        case "True": throw .unsupported(path: path, reason: "Fortran-order arrays are not supported; save with C order")
        default: throw .malformed(path: path, reason: "fortran_order is \(fortran), not True or False")
        }
        let dims = try parseShape(shapeText, path: path)
        guard dims.count <= Shape.maxRank else {
            throw .unsupported(path: path, reason: "rank \(dims.count) is above \(Shape.maxRank)")
        }
        try DataShape.validate(dims, path: path)
        let type = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        let width: Int
        switch type {
        case "<f4", "<i4": width = 4
        case "<f8", "<i8": width = 8
        case "|u1", "<u1", "|i1": width = 1
        default:
            throw .unsupported(path: path, reason: "dtype \(type) is not supported (f4, f8, u1, i1, i4, i8, little-endian)")
        }
        let count = MemoryBudget.product(dims)
        let declared = count.flatMap { MemoryBudget.product([$0, width]) }
        let payload = headerStart + headerLength
        let held = bytes.count - payload
        guard declared == held else {
            throw .malformed(path: path,
                reason: "header declares shape \(dims) of \(type) (\(DataShape.describe(bytes: declared))) but the file holds \(held) bytes of data")
        }
        try DataError.checkMemory(floats: count, for: "\(path): shape \(dims)")
        let elements = held / width
        var values = [Float](repeating: 0, count: elements)
        let base = bytes.baseAddress! + payload
        // One loop per type: the element type is decided once, not per element.
        func convert<T>(_: T.Type, _ f: (T) -> Float) {
            for i in 0..<elements { values[i] = f((base + i * width).loadUnaligned(as: T.self)) }
        }
        switch type {
        case "<f4": convert(Float.self) { $0 }
        case "<f8": convert(Double.self) { Float($0) }
        case "<i4": convert(Int32.self) { Float($0) }
        case "<i8": convert(Int64.self) { Float($0) }
        case "|i1": convert(Int8.self) { Float($0) }
        default: convert(UInt8.self) { Float($0) }
        }
        do { return try Tensor(shape: Shape(dims), scalars: values) } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
    }

    /// The text of `'key': value` in the header's Python dict literal.
    private static func field(_ key: String, in header: String, path: String) throws(DataError) -> String {
        guard let keyRange = header.range(of: "'\(key)':") else {
            throw .malformed(path: path, reason: "header has no '\(key)' entry")
        }
        var rest = header[keyRange.upperBound...].drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else {
                throw .malformed(path: path, reason: "unterminated \(key)")
            }
            return String(rest[...close])
        }
        if let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) { rest = rest[..<end] }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    private static func parseShape(_ text: String, path: String) throws(DataError) -> [Int] {
        let inner = text.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        if inner.isEmpty { return [] }
        var dims: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            // Sign and range are `DataShape.validate`'s to judge, with the shape in the message.
            guard let d = Int(t) else {
                throw .malformed(path: path, reason: "shape \(text) is not a tuple of integers")
            }
            dims.append(d)
        }
        return dims
    }
}
