import CZlib

/// Valid files of every format betty-repl reads, and the ways to break them that real files break:
/// flipped bits, truncation, spliced chunks, and headers that lie about sizes.
struct FileMutator {
    enum Format: CaseIterable {
        case npy, idx, csv, checkpoint, npz, npzDeflated, cifar10

        var fileExtension: String {
            switch self {
            case .npy: "npy"
            case .idx: "idx"
            case .csv: "csv"
            case .checkpoint: "safetensors"
            case .npz, .npzDeflated: "npz"
            case .cifar10: "bin"
            }
        }

        /// The statement that reads a file of this format (the labels file stays valid).
        func statement(reading file: String) -> String {
            switch self {
            case .npy: "data m = npy \"\(file)\" \"seed-y.npy\""
            case .idx: "data m = idx \"\(file)\" \"seed-y.idx\""
            case .csv: "data m = csv \"\(file)\" label=2"
            case .checkpoint: "load \"\(file)\""
            case .npz, .npzDeflated: "data m = npz \"\(file)\""
            case .cifar10: "data m = cifar10 \"\(file)\""
            }
        }
    }

    private(set) var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    // MARK: - Seed files

    /// A little-endian float32 NumPy array of `shape` (version 1.0 header, padded to 64 bytes).
    static func npy(shape: [Int], values: (Int) -> Float) -> [UInt8] {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        bytes += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        for i in 0..<shape.reduce(1, *) {
            withUnsafeBytes(of: values(i).bitPattern.littleEndian) { bytes += $0 }
        }
        return bytes
    }

    /// An unsigned-byte IDX file of `shape`.
    static func idx(shape: [Int], values: (Int) -> UInt8) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 0x08, UInt8(shape.count)]
        for d in shape { withUnsafeBytes(of: UInt32(d).bigEndian) { bytes += $0 } }
        bytes += (0..<shape.reduce(1, *)).map(values)
        return bytes
    }

    /// A zip archive of `.npy` members laid out as NumPy's `savez` (stored) or `savez_compressed`
    /// (deflated) writes it: each local header's sizes in a ZIP64 field, a plain central directory.
    static func npz(_ members: [(name: String, contents: [UInt8])], deflated: Bool) -> [UInt8] {
        func le(_ value: Int, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        var bytes: [UInt8] = [], central: [UInt8] = []
        for (name, contents) in members {
            let stored = deflated ? deflateRaw(contents) : contents
            let crc = contents.withUnsafeBufferPointer { Int(CZlib.crc32(0, $0.baseAddress, uInt($0.count))) }
            let method = deflated ? 8 : 0
            let offset = bytes.count
            let fixed = le(45, 2) + le(0, 2) + le(method, 2) + le(0, 2) + le(0x21, 2) + le(crc, 4)
            bytes += le(0x0403_4B50, 4) + fixed + le(0xFFFF_FFFF, 4) + le(0xFFFF_FFFF, 4) + le(name.utf8.count, 2) + le(20, 2)
            bytes += Array(name.utf8) + le(1, 2) + le(16, 2) + le(contents.count, 8) + le(stored.count, 8) + stored
            central += le(0x0201_4B50, 4) + le(0x032D, 2) + fixed + le(stored.count, 4) + le(contents.count, 4)
                + le(name.utf8.count, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0x0180_0000, 4) + le(offset, 4) + Array(name.utf8)
        }
        return bytes + central + le(0x0605_4B50, 4) + le(0, 4) + le(members.count, 2) + le(members.count, 2)
            + le(central.count, 4) + le(bytes.count, 4) + le(0, 2)
    }

    /// `bytes` as a raw deflate stream, as a zip member holds it.
    static func deflateRaw(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        precondition(betty_deflate_init_raw(&stream, 6) == Z_OK)
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

    /// CIFAR-10 binary records: a label byte, then 3072 pixel bytes.
    static func cifar10(records: Int) -> [UInt8] {
        (0..<records).flatMap { r in [UInt8(r % 10)] + (0..<3072).map { UInt8(truncatingIfNeeded: $0 * 7 + r) } }
    }

    static func csv(rows: Int) -> [UInt8] {
        var text = "a,b,label\n"
        for i in 0..<rows { text += "\(Float(i) * 0.25),\(Float(i % 7) - 3),\(i % 2)\n" }
        return Array(text.utf8)
    }

    // MARK: - Mutations

    /// A mutated copy of `seed`: one to three damages of the kinds real files suffer.
    mutating func mutate(_ seed: [UInt8]) -> [UInt8] {
        var bytes = seed
        for _ in 0..<(1 + rng.below(3)) {
            let i = bytes.isEmpty ? 0 : rng.below(bytes.count)
            switch rng.below(9) {
            case 0 where !bytes.isEmpty: bytes[i] ^= UInt8(1) << UInt8(rng.below(8))
            case 1 where !bytes.isEmpty: bytes[i] = rng.pick([0x00, 0xFF, 0x7F, 0x80, 0x20, 0x2C, 0x0A, 0x27, 0x7B])
            case 2: bytes = Array(bytes.prefix(rng.below(bytes.count + 1)))
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, i + 1 + rng.below(64))
                bytes.insert(contentsOf: bytes[i..<end], at: rng.below(bytes.count))
            case 4 where !bytes.isEmpty:
                bytes.removeSubrange(i..<min(bytes.count, i + 1 + rng.below(16)))
            case 5:
                // A big-endian or little-endian 32/64-bit size field in the header region set to an extreme.
                let at = rng.below(min(max(bytes.count, 1), 96))
                let value: UInt64 = rng.pick([0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF, 1 << 40, 1 << 62])
                let width = rng.chance(0.5) ? 4 : 8
                for k in 0..<width where at + k < bytes.count {
                    let shift = rng.chance(0.5) ? 8 * k : 8 * (width - 1 - k)
                    bytes[at + k] = UInt8(truncatingIfNeeded: value >> UInt64(shift))
                }
            case 6:
                // A number in a text header (npy dict, safetensors JSON, csv) replaced by a hostile one.
                bytes = replacingANumber(in: bytes)
            case 7 where !bytes.isEmpty:
                bytes.insert(contentsOf: (0..<rng.below(32)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: i)
            default:
                if !bytes.isEmpty { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
        return bytes
    }

    private mutating func replacingANumber(in bytes: [UInt8]) -> [UInt8] {
        let isDigit = { (b: UInt8) in b >= 0x30 && b <= 0x39 }
        let headerEnd = min(bytes.count, 512)
        let starts = (0..<headerEnd).filter { isDigit(bytes[$0]) && ($0 == 0 || !isDigit(bytes[$0 - 1])) }
        guard !starts.isEmpty else { return bytes }
        let start = rng.pick(starts)
        var end = start
        while end < bytes.count, isDigit(bytes[end]) { end += 1 }
        let replacement = rng.pick(["0", "-1", "4294967296", "99999999999999999999", "9223372036854775807",
                                    "1e9", "nan", "18446744073709551615", "65535", "3"])
        var result = Array(bytes[..<start])
        result += Array(replacement.utf8)
        result += bytes[end...]
        return result
    }
}
