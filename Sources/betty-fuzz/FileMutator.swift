import _TestSupport

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
    /// (deflated) writes it, as the reader tests build theirs.
    static func npz(_ members: [(name: String, contents: [UInt8])], deflated: Bool) -> [UInt8] {
        ZipFixtures.archive(members.map { ZipFixtures.Entry($0.name, $0.contents, deflated: deflated) }).bytes
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
