import Foundation

/// A zip archive held in memory, as NumPy's `savez` (members stored) and `savez_compressed`
/// (members deflated) write it: the central directory (with its ZIP64 records, which NumPy forces
/// on every member), each member's local header checked against it, and a member's bytes inflated
/// and checked against its CRC-32 only when asked for.
///
/// Nothing in the archive is trusted before it is checked against the file: every offset and size
/// must lie inside the file, a member's entry in the central directory and its local header must
/// agree, the member count is bounded by the directory's size, and an inflated size is bounded by
/// what deflate can expand (1032 times) and by `MemoryBudget` before anything is allocated for it.
/// Every refusal is a `DataError` naming the file (and the member) and what is wrong.
struct ZipArchive: Sendable {
    struct Member: Sendable {
        var name: String
        /// 0: stored, 8: deflated.
        var method: Int
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        /// Where the member's data starts in the file.
        var dataOffset: Int
    }

    let path: String
    let members: [Member]
    private let data: Data

    // Signatures (little-endian "PK\x01\x02" and so on).
    private static let localHeader: UInt32 = 0x0403_4B50
    private static let centralHeader: UInt32 = 0x0201_4B50
    private static let endRecord: UInt32 = 0x0605_4B50
    private static let zip64EndRecord: UInt32 = 0x0606_4B50
    private static let zip64Locator: UInt32 = 0x0706_4B50
    /// Deflate emits at least one bit per 258 bytes of output: no stream expands more than this.
    static let deflateMaxRatio = 1032

    init(data: Data, path: String) throws(DataError) {
        self.path = path
        self.data = data
        let result = data.withUnsafeBytes { raw in
            Result { () throws(DataError) -> [Member] in try Reader(bytes: raw, path: path).members() }
        }
        members = try result.get()
    }

    /// The member's bytes: stored ones as a slice of the file, deflated ones inflated into a buffer
    /// of the declared size; either way checked against the recorded CRC-32.
    func contents(of member: Member) throws(DataError) -> Data {
        func fail(_ reason: String) -> DataError { .malformed(path: path, reason: "member \(member.name): \(reason)") }
        let start = data.startIndex + member.dataOffset
        let stored = data[start..<(start + member.compressedSize)]
        let contents: Data
        if member.method == 0 {
            contents = stored
        } else {
            try DataError.checkMemory(bytes: member.size, for: "\(path): member \(member.name) inflated")
            // One byte of room past the declared size: a stream that fills it says more than declared.
            var output = Data(count: member.size + 1)
            let outcome = stored.withUnsafeBytes { input in
                output.withUnsafeMutableBytes { out in Zlib.inflateRaw(input, into: out) }
            }
            switch outcome {
            case let .ended(consumed, produced):
                guard produced == member.size else {
                    throw fail(produced > member.size
                        ? "inflates to more than the \(member.size) bytes the archive declares"
                        : "inflates to \(produced) bytes, but the archive declares \(member.size)")
                }
                guard consumed == member.compressedSize else {
                    throw fail("its deflate stream ends after \(consumed) of its \(member.compressedSize) compressed bytes")
                }
            case .overflows:
                throw fail("inflates to more than the \(member.size) bytes the archive declares")
            case let .unterminated(produced):
                throw fail("its deflate stream does not end: its \(member.compressedSize) compressed bytes stop mid-stream after inflating to \(produced) bytes (a truncated or damaged member)")
            case let .corrupt(message):
                throw fail("its deflated data is corrupt (zlib: \(message))")
            }
            output.count = member.size
            contents = output
        }
        let crc = contents.withUnsafeBytes { Zlib.crc32($0) }
        guard crc == member.crc else {
            throw fail("damaged: its CRC-32 is \(Self.hex(crc)), the archive records \(Self.hex(member.crc))")
        }
        return contents
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// Reads the directory out of the raw bytes.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        let path: String

        func fail(_ reason: String) -> DataError { .malformed(path: path, reason: reason) }

        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func sig(_ o: Int) -> UInt32 { UInt32(u32(o)) }
        /// A 64-bit field; nil when it does not fit an Int (no file is that large, so it is a lie).
        func u64(_ o: Int) -> Int? {
            let low = UInt64(u32(o)), high = UInt64(u32(o + 4))
            return Int(exactly: high << 32 | low)
        }

        /// Where the end of central directory record starts: the last one whose comment ends the file.
        func endRecordOffset() throws(DataError) -> Int {
            let n = bytes.count
            if n >= 22 {
                var o = n - 22
                let lowest = max(0, n - 22 - 0xFFFF)
                while o >= lowest {
                    if bytes[o] == 0x50, sig(o) == ZipArchive.endRecord, o + 22 + u16(o + 20) == n { return o }
                    o -= 1
                }
            }
            // Say what the file is, when it is something else a user may have.
            if n >= 4, sig(0) == ZipArchive.localHeader {
                throw fail("truncated zip archive: it has no end of central directory record (the file ends at byte \(n), cut short while it was written or copied)")
            }
            if n >= 6, Array(bytes[0..<6]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] {
                throw fail("is a .npy file, not an .npz archive (read it with npy)")
            }
            if n >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B {
                throw fail("is gzip-compressed, not an .npz (zip) archive")
            }
            throw fail(n == 0 ? "is empty, not an .npz archive" : "not an .npz archive (not a zip file: no end of central directory record)")
        }

        func members() throws(DataError) -> [Member] {
            let end = try endRecordOffset()
            var entries = u16(end + 10), entriesHere = u16(end + 8)
            var directorySize = u32(end + 12), directoryOffset = u32(end + 16)
            var disk = u16(end + 4), directoryDisk = u16(end + 6)
            // Where the directory must end: the first end record.
            var directoryLimit = end
            let locator = end - 20
            if locator >= 0, sig(locator) == ZipArchive.zip64Locator {
                guard let record = u64(locator + 8), record <= locator - 56, sig(record) == ZipArchive.zip64EndRecord else {
                    throw fail("corrupt zip archive: its ZIP64 end record is missing or damaged")
                }
                guard let e = u64(record + 32), let eh = u64(record + 24), let size = u64(record + 40), let offset = u64(record + 48) else {
                    throw fail("corrupt zip archive: its ZIP64 end record declares sizes past 2^63 bytes")
                }
                (entries, entriesHere, directorySize, directoryOffset) = (e, eh, size, offset)
                (disk, directoryDisk) = (u32(record + 16), u32(record + 20))
                directoryLimit = record
            } else if entries == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
                throw fail("corrupt zip archive: its end record defers to a ZIP64 record that is not there")
            }
            guard disk == 0, directoryDisk == 0, entriesHere == entries else {
                throw .unsupported(path: path, reason: "is one part of a split (multi-disk) zip archive, which is not supported")
            }
            guard directoryOffset <= directoryLimit, directorySize <= directoryLimit - directoryOffset else {
                throw fail("truncated or corrupt zip archive: its central directory (\(directorySize) bytes at offset \(directoryOffset)) does not fit before its end record at byte \(directoryLimit)")
            }
            // Each entry takes at least 46 bytes: the count cannot make us allocate more than the file.
            guard entries <= directorySize / 46 else {
                throw fail("corrupt zip archive: it declares \(entries) members, but its central directory of \(directorySize) bytes holds at most \(directorySize / 46)")
            }
            var result: [Member] = []
            result.reserveCapacity(entries)
            var names: Set<String> = []
            var o = directoryOffset
            let directoryEnd = directoryOffset + directorySize
            for index in 0..<entries {
                guard o + 46 <= directoryEnd, sig(o) == ZipArchive.centralHeader else {
                    throw fail("corrupt zip archive: central directory entry \(index + 1) of \(entries) is damaged (no entry signature at byte \(o))")
                }
                let nameLength = u16(o + 28), extraLength = u16(o + 30), commentLength = u16(o + 32)
                let next = o + 46 + nameLength + extraLength + commentLength
                guard next <= directoryEnd else {
                    throw fail("corrupt zip archive: central directory entry \(index + 1) runs past the directory's end")
                }
                let nameBytes = bytes[(o + 46)..<(o + 46 + nameLength)]
                let name = String(decoding: nameBytes, as: UTF8.self)
                func failMember(_ reason: String) -> DataError { .malformed(path: path, reason: "member \(name): \(reason)") }
                let flags = u16(o + 8), method = u16(o + 10)
                var compressed = u32(o + 20), size = u32(o + 24), local = u32(o + 42)
                let memberDisk = u16(o + 34)
                // ZIP64: each field at its 32-bit maximum is in the extra field, in this order.
                if size == 0xFFFF_FFFF || compressed == 0xFFFF_FFFF || local == 0xFFFF_FFFF {
                    guard let field = extraField(1, in: (o + 46 + nameLength)..<(o + 46 + nameLength + extraLength)) else {
                        throw failMember("corrupt zip archive: its directory entry defers its sizes to a ZIP64 field that is not there")
                    }
                    var p = field.lowerBound
                    func take() throws(DataError) -> Int {
                        guard p + 8 <= field.upperBound else { throw failMember("corrupt zip archive: its ZIP64 field is too short") }
                        defer { p += 8 }
                        guard let v = u64(p) else { throw failMember("corrupt zip archive: its ZIP64 field declares a size past 2^63 bytes") }
                        return v
                    }
                    if size == 0xFFFF_FFFF { size = try take() }
                    if compressed == 0xFFFF_FFFF { compressed = try take() }
                    if local == 0xFFFF_FFFF { local = try take() }
                }
                guard memberDisk == 0 || memberDisk == 0xFFFF else {
                    throw .unsupported(path: path, reason: "is one part of a split (multi-disk) zip archive, which is not supported")
                }
                guard names.insert(name).inserted else { throw fail("corrupt zip archive: it holds two members named \(name)") }
                if flags & 1 != 0 { throw .unsupported(path: path, reason: "member \(name) is encrypted, which is not supported") }
                guard method == 0 || method == 8 else {
                    throw .unsupported(path: path, reason: "member \(name) is compressed with method \(method)\(Self.methodName(method)); only stored (0) and deflated (8), as NumPy writes, are supported")
                }
                if method == 0, compressed != size {
                    throw failMember("stored uncompressed, but the archive declares \(compressed) bytes stored and \(size) bytes of contents")
                }
                if method == 8, size / ZipArchive.deflateMaxRatio > compressed {
                    throw failMember("the archive declares \(size) bytes inflated from \(compressed) compressed: more than deflate can expand (at most \(ZipArchive.deflateMaxRatio) times)")
                }
                let dataOffset = try localData(name: name, nameBytes: nameBytes, offset: local, method: method,
                                               crc: UInt32(u32(o + 16)), compressed: compressed, size: size,
                                               before: directoryOffset)
                result.append(Member(name: name, method: method, crc: UInt32(u32(o + 16)), compressedSize: compressed,
                                     size: size, dataOffset: dataOffset))
                o = next
            }
            guard o == directoryEnd else {
                throw fail("corrupt zip archive: its central directory holds \(directoryEnd - o) bytes past its \(entries) declared members")
            }
            return result
        }

        /// The byte range of the extra field with `id` inside `range`, when there is one.
        func extraField(_ id: Int, in range: Range<Int>) -> Range<Int>? {
            var p = range.lowerBound
            while p + 4 <= range.upperBound {
                let fieldID = u16(p), length = u16(p + 2)
                let body = (p + 4)..<(p + 4 + length)
                guard body.upperBound <= range.upperBound else { return nil }
                if fieldID == id { return body }
                p = body.upperBound
            }
            return nil
        }

        /// Checks the member's local header against its directory entry; returns where its data starts.
        func localData(name: String, nameBytes: Slice<UnsafeRawBufferPointer>, offset: Int, method: Int, crc: UInt32,
                       compressed: Int, size: Int, before limit: Int) throws(DataError) -> Int {
            func failMember(_ reason: String) -> DataError { .malformed(path: path, reason: "member \(name): \(reason)") }
            guard offset <= limit - 30, sig(offset) == ZipArchive.localHeader else {
                throw failMember("corrupt zip archive: no local header at byte \(offset), where the central directory puts it")
            }
            let nameLength = u16(offset + 26), extraLength = u16(offset + 28)
            let dataOffset = offset + 30 + nameLength + extraLength
            guard dataOffset <= limit, bytes[(offset + 30)..<(offset + 30 + nameLength)].elementsEqual(nameBytes) else {
                throw failMember("corrupt zip archive: the local header at byte \(offset) is not this member's")
            }
            guard u16(offset + 8) == method else {
                throw failMember("corrupt zip archive: its local header says compression method \(u16(offset + 8)), the central directory \(method)")
            }
            // Bit 3: the sizes and CRC follow the data (a writer that could not seek back); the
            // directory's values are the ones to trust then.
            if u16(offset + 6) & 8 == 0 {
                var localCompressed = u32(offset + 18), localSize = u32(offset + 22)
                if localSize == 0xFFFF_FFFF || localCompressed == 0xFFFF_FFFF {
                    // A local ZIP64 field holds both sizes.
                    guard let field = extraField(1, in: (offset + 30 + nameLength)..<dataOffset), field.count >= 16,
                          let s = u64(field.lowerBound), let c = u64(field.lowerBound + 8) else {
                        throw failMember("corrupt zip archive: its local header defers its sizes to a ZIP64 field that is missing or damaged")
                    }
                    (localSize, localCompressed) = (s, c)
                }
                guard localSize == size, localCompressed == compressed else {
                    throw failMember("corrupt zip archive: its local header declares \(localCompressed) bytes compressed and \(localSize) inflated, the central directory \(compressed) and \(size)")
                }
                guard UInt32(u32(offset + 14)) == crc else {
                    throw failMember("corrupt zip archive: its local header records CRC-32 \(ZipArchive.hex(UInt32(u32(offset + 14)))), the central directory \(ZipArchive.hex(crc))")
                }
            }
            guard compressed <= limit - dataOffset else {
                throw failMember("truncated zip archive: its \(compressed) bytes of data at byte \(dataOffset) run past the central directory at byte \(limit)")
            }
            return dataOffset
        }

        static func methodName(_ method: Int) -> String {
            switch method {
            case 9: " (deflate64)"
            case 12: " (bzip2)"
            case 14: " (LZMA)"
            case 93: " (zstd)"
            case 95: " (xz)"
            default: ""
            }
        }
    }
}
