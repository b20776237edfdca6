import BettyTensor
import Foundation

/// Reads NumPy `.npy` files (format versions 1, 2 and 3) into Float32 tensors.
///
/// Supported element types: `f4`, `f8`, `u1`, `i4`, `i8`, little-endian (or byte-sized), C order.
/// Everything else, and any file whose header disagrees with its size, is a `DataError` naming the file:
/// nothing is half-loaded.
public enum NPYReader {
    public static func read(path: String) throws(DataError) -> Tensor {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path: path) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .malformed(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String = "<memory>") throws(DataError) -> Tensor {
        let bytes = [UInt8](data)
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
            guard bytes.count >= 12 else { throw .malformed(path: path, reason: "truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw .unsupported(path: path, reason: "format version \(major) is not supported (1, 2 or 3)")
        }
        guard bytes.count >= headerStart + headerLength else {
            throw .malformed(path: path, reason: "truncated header (\(headerLength) bytes announced)")
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw .malformed(path: path, reason: "header is not text")
        }
        let descr = try field("descr", in: header, path: path)
        let fortran = try field("fortran_order", in: header, path: path)
        let shapeText = try field("shape", in: header, path: path)
        guard fortran == "False" else {
            throw .unsupported(path: path, reason: "Fortran-order arrays are not supported; save with C order")
        }
        let dims = try parseShape(shapeText, path: path)
        guard dims.count <= Shape.maxRank else {
            throw .unsupported(path: path, reason: "rank \(dims.count) is above \(Shape.maxRank)")
        }
        let type = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        let width: Int
        switch type {
        case "<f4", "<i4": width = 4
        case "<f8", "<i8": width = 8
        case "|u1", "<u1", "|i1": width = 1
        default:
            throw .unsupported(path: path, reason: "dtype \(type) is not supported (f4, f8, u1, i1, i4, i8, little-endian)")
        }
        let count = dims.reduce(1, *)
        let payload = headerStart + headerLength
        guard bytes.count - payload == count * width else {
            throw .malformed(path: path,
                reason: "header says shape \(dims) of \(type) (\(count * width) bytes) but the file holds \(bytes.count - payload) bytes of data")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + payload
            // One loop per type: the element type is decided once, not per element.
            func convert<T>(_: T.Type, _ f: (T) -> Float) {
                for i in 0..<count { values[i] = f((base + i * width).loadUnaligned(as: T.self)) }
            }
            switch type {
            case "<f4": convert(Float.self) { $0 }
            case "<f8": convert(Double.self) { Float($0) }
            case "<i4": convert(Int32.self) { Float($0) }
            case "<i8": convert(Int64.self) { Float($0) }
            case "|i1": convert(Int8.self) { Float($0) }
            default: convert(UInt8.self) { Float($0) }
            }
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
            guard let d = Int(t), d >= 0, d <= Int(Int32.max) else {
                throw .malformed(path: path, reason: "bad shape \(text)")
            }
            dims.append(d)
        }
        return dims
    }
}
