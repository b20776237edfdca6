import CZlib
import Foundation

/// Zip archives built in memory for the reader tests, laid out as NumPy's `savez` and
/// `savez_compressed` write them (through Python's `zipfile` with `force_zip64=True`), and in the
/// other layouts a zip reader meets: no ZIP64 at all, ZIP64 in the central directory and end
/// records (what NumPy writes for members or archives past 4 GB), sizes after the data.
public enum ZipFixtures {
    public struct Entry {
        public var name: String
        public var contents: [UInt8]
        public var deflated: Bool
        /// The bytes stored for the member instead of `contents` (deflated), for damaged members.
        public var stored: [UInt8]?
        /// The uncompressed size the headers declare instead of the contents' own.
        public var declaredSize: Int?
        /// General purpose flags (bit 0: encrypted) and a compression method other than 0 or 8.
        public var flags = 0
        public var method: Int?

        public init(_ name: String, _ contents: [UInt8], deflated: Bool, stored: [UInt8]? = nil, declaredSize: Int? = nil) {
            self.name = name
            self.contents = contents
            self.deflated = deflated
            self.stored = stored
            self.declaredSize = declaredSize
        }
    }

    public enum Layout: CaseIterable, Sendable {
        /// Python 3.11's `zipfile` with `force_zip64`: the local header's sizes are 0xFFFFFFFF and
        /// its ZIP64 field holds both; the central directory and end record are plain.
        case numpy
        /// 32-bit sizes everywhere, no extra fields.
        case plain
        /// The central directory's sizes and offsets in ZIP64 fields, a ZIP64 end record and locator.
        case zip64
        /// Flag bit 3: zeros in the local header, the CRC and sizes in a data descriptor after the data.
        case dataDescriptor
    }

    /// An archive's bytes, and where its parts are, for tests that damage one of them.
    public struct Archive {
        public var bytes: [UInt8]
        /// Each member's local header and data, in order.
        public var localHeaderOffsets: [Int] = []
        public var dataOffsets: [Int] = []
        public var compressedSizes: [Int] = []
        public var centralDirectoryOffset = 0
        public var endRecordOffset = 0

        public var data: Data { Data(bytes) }
    }

    public static func archive(_ entries: [Entry], layout: Layout = .numpy) -> Archive {
        var out = Archive(bytes: [])
        var central: [UInt8] = []
        func le(_ value: Int, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        for entry in entries {
            let stored = entry.stored ?? (entry.deflated ? deflateRaw(entry.contents) : entry.contents)
            let size = entry.declaredSize ?? entry.contents.count
            let crc = Int(crc32(entry.contents))
            let name = Array(entry.name.utf8)
            let method = entry.method ?? (entry.deflated ? 8 : 0)
            let offset = out.bytes.count
            let descriptor = layout == .dataDescriptor
            let flags = entry.flags | (descriptor ? 8 : 0)
            var local = le(0x0403_4B50, 4) + le(45, 2) + le(flags, 2) + le(method, 2) + le(0, 2) + le(0x21, 2)
            var localExtra: [UInt8] = []
            switch layout {
            case .numpy:
                local += le(crc, 4) + le(0xFFFF_FFFF, 4) + le(0xFFFF_FFFF, 4)
                localExtra = le(1, 2) + le(16, 2) + le(size, 8) + le(stored.count, 8)
            case .plain, .zip64:
                local += le(crc, 4) + le(stored.count, 4) + le(size, 4)
            case .dataDescriptor:
                local += le(0, 4) + le(0, 4) + le(0, 4)
            }
            local += le(name.count, 2) + le(localExtra.count, 2) + name + localExtra
            out.localHeaderOffsets.append(offset)
            out.bytes += local
            out.dataOffsets.append(out.bytes.count)
            out.compressedSizes.append(stored.count)
            out.bytes += stored
            if descriptor { out.bytes += le(0x0807_4B50, 4) + le(crc, 4) + le(stored.count, 4) + le(size, 4) }

            var centralExtra: [UInt8] = []
            var sizes = le(stored.count, 4) + le(size, 4)
            var localOffset = le(offset, 4)
            if layout == .zip64 {
                sizes = le(0xFFFF_FFFF, 4) + le(0xFFFF_FFFF, 4)
                localOffset = le(0xFFFF_FFFF, 4)
                centralExtra = le(1, 2) + le(24, 2) + le(size, 8) + le(stored.count, 8) + le(offset, 8)
            }
            central += le(0x0201_4B50, 4) + le(0x032D, 2) + le(45, 2) + le(flags, 2) + le(method, 2)
                + le(0, 2) + le(0x21, 2) + le(crc, 4) + sizes + le(name.count, 2) + le(centralExtra.count, 2)
                + le(0, 2) + le(0, 2) + le(0, 2) + le(0x0180_0000, 4) + localOffset + name + centralExtra
        }
        out.centralDirectoryOffset = out.bytes.count
        out.bytes += central
        if layout == .zip64 {
            let record = out.bytes.count
            out.bytes += le(0x0606_4B50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4)
                + le(entries.count, 8) + le(entries.count, 8) + le(central.count, 8) + le(out.centralDirectoryOffset, 8)
            out.bytes += le(0x0706_4B50, 4) + le(0, 4) + le(record, 8) + le(1, 4)
            out.endRecordOffset = out.bytes.count
            out.bytes += le(0x0605_4B50, 4) + le(0, 2) + le(0, 2) + le(0xFFFF, 2) + le(0xFFFF, 2)
                + le(0xFFFF_FFFF, 4) + le(0xFFFF_FFFF, 4) + le(0, 2)
        } else {
            out.endRecordOffset = out.bytes.count
            out.bytes += le(0x0605_4B50, 4) + le(0, 2) + le(0, 2) + le(entries.count, 2) + le(entries.count, 2)
                + le(central.count, 4) + le(out.centralDirectoryOffset, 4) + le(0, 2)
        }
        return out
    }

    /// An `.npz` of float32 arrays, each `(name, values, shape)`, every member stored or deflated.
    public static func npz(_ arrays: [(String, [Float], [Int])], compressed: Bool, layout: Layout = .numpy) -> Archive {
        archive(arrays.map { Entry($0.0 + ".npy", npy(float32: $0.1, shape: $0.2), deflated: compressed) }, layout: layout)
    }

    /// A `.npy` file as `np.save` writes it: format 1.0, the header padded to 64 bytes.
    public static func npy(descr: String, shape: [Int], payload: [UInt8]) -> [UInt8] {
        let tuple = shape.count == 1 ? "(\(shape[0]),)" : "(\(shape.map(String.init).joined(separator: ", ")))"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(tuple), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)] + Array(header.utf8) + payload
    }

    public static func npy(float32 values: [Float], shape: [Int]) -> [UInt8] {
        npy(descr: "<f4", shape: shape, payload: values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } })
    }

    /// `bytes` as a raw deflate stream (no zlib header), as zip stores a deflated member.
    public static func deflateRaw(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        precondition(betty_deflate_init_raw(&stream, level) == Z_OK)
        defer { deflateEnd(&stream) }
        var input = bytes
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))))
        let produced = input.withUnsafeMutableBufferPointer { inBuffer in
            out.withUnsafeMutableBufferPointer { outBuffer -> Int in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return Int(stream.total_out)
            }
        }
        return Array(out[..<produced])
    }

    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(CZlib.crc32(0, $0.baseAddress, uInt($0.count))) }
    }
}
