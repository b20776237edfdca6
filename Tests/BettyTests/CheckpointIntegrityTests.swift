import Foundation
import Testing
import BettyNN
import BettyTensor
import Betty

/// Damaged, hostile and old files, and saves that must not destroy anything: each is a clear
/// `CheckpointError`, never a trap, and leaves the engine and any earlier file as they were.
@Suite struct CheckpointIntegrityTests {
    // MARK: - Checksums

    /// One byte of one tensor flipped at a time, for every tensor: each load is refused naming the
    /// tensor, and nothing is loaded.
    @Test func aFlippedDataByteIsRefusedNamingItsTensor() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            // Mid-window with roll-back: parameters, buffers, optimizer state, accumulated gradients,
            // roll-back copies and batches all have tensors in the file.
            let saved = try TinyHPO.make(rollBack: true)
            try saved.run(iterations: 7)
            try saved.saveCheckpoint(to: path)
            let original = try #require(FileManager.default.contents(atPath: path))
            let file = try IndependentFile(original)
            let dataStart = 8 + file.headerSize
            let engine = try TinyHPO.make(rollBack: true)
            let before = snapshot(engine)
            let damaged = directory + "/damaged.safetensors"
            var checked = 0
            for entry in file.entries where entry.end > entry.begin {
                var bytes = original
                let offset = dataStart + (entry.begin + entry.end) / 2
                bytes[offset] ^= 0x10
                try bytes.write(to: URL(fileURLWithPath: damaged))
                let caught = #expect(throws: CheckpointError.self, "\(entry.name)") { try engine.loadCheckpoint(from: damaged) }
                guard let error = caught, case let .checksumMismatch(errorPath, tensor, stored, computed) = error else {
                    Issue.record("\(entry.name): expected a checksum mismatch, got \(String(describing: caught))")
                    continue
                }
                #expect(errorPath == damaged && tensor == entry.name && stored != computed)
                #expect(stored == bitwiseCRC32C(original[(dataStart + entry.begin)..<(dataStart + entry.end)]))
                #expect(computed == bitwiseCRC32C(bytes[(dataStart + entry.begin)..<(dataStart + entry.end)]))
                #expect(throws: error) { try SafeTensors.read(path: damaged) }
                checked += 1
            }
            #expect(checked == file.entries.filter { $0.end > $0.begin }.count && checked > 40, "every non-empty tensor was tried")
            #expect(snapshot(engine) == before, "nothing was loaded")
            let message = "\(CheckpointError.checksumMismatch(path: "c.safetensors", tensor: "inner.0.weight", stored: 0x0123_abcd, computed: 0xE306_9283))"
            #expect(message == "checkpoint 'c.safetensors' is corrupt: the data of tensor 'inner.0.weight' does not match its checksum "
                    + "(CRC-32C stored 0123abcd, computed e3069283); the file was damaged or changed after it was saved, and nothing was loaded")
        }
    }

    /// The checksum itself damaged: a changed digit is a mismatch, a value that is not 8 hex
    /// digits is a corrupt header.
    @Test func aDamagedChecksumIsRefused() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/sample.safetensors"
            try SafeTensors.write(tensors: [("a", Tensor([1, 2, 3])), ("b", Tensor([4]))], metadata: ["k": "v"], to: path)
            let file = try IndependentFile(try #require(FileManager.default.contents(atPath: path)))
            let stored = try #require(file.metadata["crc32c.a"])
            func rewritten(_ value: String) throws {
                var metadata = file.metadata
                metadata["crc32c.a"] = value
                let entries = file.entries.map { ($0.name, $0.dtype, $0.shape, file.data.subdata(in: $0.begin..<$0.end)) }
                try IndependentFile.write(entries, metadata: metadata).write(to: URL(fileURLWithPath: path))
            }
            try rewritten(String(stored.dropLast()) + (stored.last == "0" ? "1" : "0"))
            let mismatch = #expect(throws: CheckpointError.self) { try SafeTensors.read(path: path) }
            #expect(mismatch.map { if case .checksumMismatch(_, "a", _, _) = $0 { true } else { false } } == true, "\(String(describing: mismatch))")
            for bad in ["", "1234567", "123456789", "xyz12345", "+1234567"] {
                try rewritten(bad)
                let error = #expect(throws: CheckpointError.self, "'\(bad)'") { try SafeTensors.read(path: path) }
                #expect(error.map { "\($0)".contains("metadata 'crc32c.a' is not a CRC-32C checksum (8 hexadecimal digits)") } == true,
                        "\(String(describing: error))")
            }
        }
    }

    /// The engine state lives in the metadata (step counters, loader positions, the graph): a changed
    /// digit there must not load silently, nor may its checksum be dropped while the tensors keep theirs.
    @Test func aChangedOrUncheckedMetadataValueIsRefused() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/sample.safetensors"
            try SafeTensors.write(tensors: [("a", Tensor([1, 2, 3]))], metadata: ["step": "40", "k": "v"], to: path)
            let file = try IndependentFile(try #require(FileManager.default.contents(atPath: path)))
            let entries = file.entries.map { ($0.name, $0.dtype, $0.shape, file.data.subdata(in: $0.begin..<$0.end)) }
            var changed = file.metadata
            changed["step"] = "41"
            try IndependentFile.write(entries, metadata: changed).write(to: URL(fileURLWithPath: path))
            let mismatch = #expect(throws: CheckpointError.self) { try SafeTensors.read(path: path) }
            #expect(mismatch.map { "\($0)".contains("its metadata (for a checkpoint: the step counters, loader positions and graph) does not match its checksum") } == true,
                    "\(String(describing: mismatch))")
            try IndependentFile.write(entries, metadata: file.metadata.filter { $0.key != "crc32c.__metadata__" })
                .write(to: URL(fileURLWithPath: path))
            let dropped = #expect(throws: CheckpointError.self) { try SafeTensors.read(path: path) }
            #expect(dropped.map { "\($0)".contains("its tensors have checksums but its metadata has none") } == true, "\(String(describing: dropped))")
        }
    }

    /// Engine state that passes its checksum but is not what this library wrote (another tool's edit)
    /// is refused in plain words: no coding-path dump, no Foundation error domain.
    @Test func malformedEngineStateIsDescribedInPlainWords() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let saved = try TinyHPO.make()
            try saved.run(iterations: 2)
            try saved.saveCheckpoint(to: path)
            let file = try IndependentFile(try #require(FileManager.default.contents(atPath: path)))
            let entries = file.entries.map { ($0.name, $0.dtype, $0.shape, file.data.subdata(in: $0.begin..<$0.end)) }
            var user = file.metadata.filter { !$0.key.hasPrefix("crc32c.") }
            user["betty.graph"] = "{}"
            var metadataBytes: [UInt8] = []
            for (key, value) in user.sorted(by: { $0.key < $1.key }) {
                metadataBytes += Array(key.utf8) + [0]
                metadataBytes += Array(value.utf8) + [0]
            }
            var metadata = file.metadata
            metadata["betty.graph"] = "{}"
            metadata["crc32c.__metadata__"] = String(format: "%08x", bitwiseCRC32C(metadataBytes))
            try IndependentFile.write(entries, metadata: metadata).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: CheckpointError.self) { try TinyHPO.make().loadCheckpoint(from: path) }
            let text = error.map { "\($0)" } ?? ""
            #expect(text.contains("metadata 'betty.graph' is not valid engine state: '") && text.contains("' is missing at the top"), "\(text)")
            #expect(!text.contains("Coding") && !text.contains("NSCocoa") && !text.contains("DecodingError"), "\(text)")
        }
    }

    @Test func checksumKeysAreReservedAndHiddenFromTheCaller() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/x.safetensors"
            #expect(throws: CheckpointError.invalidContents(reason: "metadata key 'crc32c.a' is reserved: keys starting with 'crc32c.' hold the tensors' checksums")) {
                try SafeTensors.write(tensors: [("a", Tensor(1))], metadata: ["crc32c.a": "00000000"], to: path)
            }
            #expect(!FileManager.default.fileExists(atPath: path))
            try SafeTensors.write(tensors: [("a", Tensor(1))], metadata: ["k": "v"], to: path)
            #expect(try SafeTensors.read(path: path).metadata == ["k": "v"])
        }
    }

    /// A checkpoint from before checksums (the same file without its `crc32c.` keys) still loads,
    /// bit for bit, and the result says which tensors went unchecked; so does one where a tool
    /// dropped a single checksum. Refusing them would strand every older run.
    @Test func aCheckpointWithoutChecksumsLoadsAndSaysSo() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let saved = try TinyHPO.make()
            try saved.run(iterations: 5)
            try saved.saveCheckpoint(to: path, metadata: ["note": "old"])
            let file = try IndependentFile(try #require(FileManager.default.contents(atPath: path)))
            let entries = file.entries.map { ($0.name, $0.dtype, $0.shape, file.data.subdata(in: $0.begin..<$0.end)) }
            let names = file.entries.map(\.name)

            let old = directory + "/old.safetensors"
            try IndependentFile.write(entries, metadata: file.metadata.filter { !$0.key.hasPrefix("crc32c.") })
                .write(to: URL(fileURLWithPath: old))
            let engine = try TinyHPO.make()
            #expect(try engine.loadCheckpoint(from: old) == LoadedCheckpoint(metadata: ["note": "old"], tensorCount: names.count, uncheckedTensors: names))
            #expect(snapshot(engine) == snapshot(saved))

            let partial = directory + "/partial.safetensors"
            try IndependentFile.write(entries, metadata: file.metadata.filter { $0.key != "crc32c.outer.value" })
                .write(to: URL(fileURLWithPath: partial))
            #expect(try TinyHPO.make().loadCheckpoint(from: partial).uncheckedTensors == ["outer.value"])
            #expect(try TinyHPO.make().loadCheckpoint(from: path).uncheckedTensors == [])
        }
    }

    // MARK: - Hostile headers

    /// A file of an 8-byte length (the header's own unless given), the header text and the data.
    private static func file(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        var bytes = Data()
        withUnsafeBytes(of: (declaredLength ?? UInt64(header.utf8.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array(header.utf8))
        bytes.append(contentsOf: data)
        return bytes
    }

    private static func tensorHeader(_ entries: String) -> String { "{\"__metadata__\":{}," + entries + "}" }

    /// Each a header a careless or hostile writer could produce, with the part of the error that
    /// says what is wrong. Reading never traps; nothing is allocated for sizes the file cannot hold.
    static let hostile: [(what: String, bytes: Data, says: String)] = [
        ("no bytes", Data(), "fewer than the 8-byte header length"),
        ("a header length of 2^64 - 1", file(header: "{}", declaredLength: .max), "more than the format's limit"),
        ("a header length of 2^63", file(header: "{}", declaredLength: 1 << 63), "more than the format's limit"),
        ("a header length just over the limit", file(header: "{}", declaredLength: 100_000_001), "more than the format's limit"),
        ("a header longer than the file", file(header: "{}", declaredLength: 1000), "only 2 bytes follow it"),
        ("a header that is not JSON", file(header: "{\"a\":"), "is not a JSON object"),
        ("a JSON array", file(header: "[1, 2]"), "is not a JSON object"),
        ("a header that is not UTF-8", file(header: "{}", declaredLength: 4) + Data([0xFF, 0xFE]), "is not a JSON object"),
        ("200000 nested brackets", file(header: String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)),
         "is not a JSON object"),
        ("metadata that is not an object", file(header: "{\"__metadata__\":[]}"), "__metadata__ is not a JSON object"),
        ("a metadata value that is not a string", file(header: "{\"__metadata__\":{\"k\":1}}"), "entry 'k' is not a string"),
        ("an entry that is not an object", file(header: tensorHeader("\"t\":3")), "tensor 't': its header entry is not a JSON object"),
        ("no dtype", file(header: tensorHeader("\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}"), data: [0, 0, 0, 0]), "has no dtype string"),
        ("an unknown dtype", file(header: tensorHeader("\"t\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}"), data: [0, 0, 0, 0]),
         "unknown dtype 'F31'"),
        ("a negative dimension", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}"), data: [0, 0, 0, 0]),
         "its shape is not a list of non-negative integers"),
        ("a fractional dimension", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}"), data: [0, 0, 0, 0]),
         "its shape is not a list of non-negative integers"),
        ("dimensions whose product overflows", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}"),
                                                   data: [0, 0, 0, 0]), "has too many elements"),
        ("a byte count that overflows", file(header: tensorHeader("\"t\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}"),
                                            data: [UInt8](repeating: 0, count: 8)), "needs more than Int.max"),
        ("a shape that disagrees with the offsets", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}"),
                                                        data: [0, 0, 0, 0]), "span 4 bytes but F32 [2] needs 8"),
        ("begin after end", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}"), data: [UInt8](repeating: 0, count: 8)),
         "are not two non-negative integers [begin, end] with begin <= end"),
        ("a negative offset", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}"), data: [0, 0, 0, 0]),
         "are not two non-negative integers"),
        ("three offsets", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}"), data: [0, 0, 0, 0]),
         "are not two non-negative integers"),
        ("offsets past the end of the file", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"), data: [0, 0, 0, 0]),
         "ends at byte 8 of the data section, but the file has 4 bytes after the header"),
        ("offsets near Int.max", file(header: tensorHeader("\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[9223372036854775803,9223372036854775807]}"),
                                     data: [0, 0, 0, 0]), "starts at byte 9223372036854775803 of the data section, expected 0"),
        ("overlapping tensors", file(header: tensorHeader("\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}"),
                                    data: [UInt8](repeating: 0, count: 12)), "tensor 'b' starts at byte 4 of the data section, expected 8"),
        ("a gap between tensors", file(header: tensorHeader("\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}"),
                                      data: [UInt8](repeating: 0, count: 12)), "tensor 'b' starts at byte 8 of the data section, expected 4"),
        ("data after the last tensor", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"), data: [UInt8](repeating: 0, count: 9)),
         "5 bytes follow the last tensor's data"),
        ("a checksum of the wrong length", file(header: "{\"__metadata__\":{\"crc32c.t\":\"123\"},\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                                                data: [0, 0, 0, 0]), "metadata 'crc32c.t' is not a CRC-32C checksum"),
        ("a rank above the limit", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}"),
                                        data: [0, 0, 0, 0]), "tensors have rank at most"),
        ("a dimension of 2^31", file(header: tensorHeader("\"t\":{\"dtype\":\"F32\",\"shape\":[2147483648,0],\"data_offsets\":[0,0]}")),
         "dimensions below 2^31"),
        ("a dtype other than F32", file(header: tensorHeader("\"t\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}"), data: [0, 0, 0, 0]),
         "only F32 tensors can be read"),
    ]

    @Test(arguments: hostile.indices)
    func aHostileHeaderIsAnErrorNotACrash(index: Int) throws {
        let (what, bytes, says) = Self.hostile[index]
        try withTemporaryDirectory { directory in
            let path = directory + "/hostile.safetensors"
            try bytes.write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: CheckpointError.self, "\(what)") { try SafeTensors.read(path: path) }
            let text = error.map { "\($0)" } ?? ""
            #expect(text.contains(says), "\(what): \(text)")
            switch error {
            case .corrupt?, .unsupported?: break
            default: Issue.record("\(what): expected a corrupt or unsupported file, got \(String(describing: error))")
            }
            // The engine reads through the same checks.
            #expect(throws: CheckpointError.self, "\(what)") { try TinyHPO.make().loadCheckpoint(from: path) }
        }
    }

    // MARK: - Saving never destroys

    @Test func aSaveIntoAMissingDirectoryIsAClearError() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/runs/today/tiny.safetensors"
            #expect(throws: CheckpointError.file(FileIOError(path: path, operation: .write, reason: .directoryMissing(directory + "/runs/today")))) {
                try TinyHPO.make().saveCheckpoint(to: path)
            }
            #expect("\(CheckpointError.file(FileIOError(path: path, operation: .write, reason: .directoryMissing(directory + "/runs/today"))))"
                    == "cannot write \(path): the directory \(directory)/runs/today does not exist")
            let left = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(left == [], "nothing is created")
        }
    }

    @Test func aSaveOverADirectoryIsRefusedAndTheDirectoryKept() throws {
        try withTemporaryDirectory { directory in
            let target = directory + "/checkpoints"
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
            try TinyHPO.make().saveCheckpoint(to: target + "/inside.safetensors")
            let error = #expect(throws: CheckpointError.self) { try TinyHPO.make().saveCheckpoint(to: target) }
            #expect(error.map { "\($0)" } == "cannot write \(target): it is a directory, not a regular file; nothing was written")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target) == ["inside.safetensors"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["checkpoints"], "no temporary file is left")
        }
    }

    /// Run as root, this used to replace the device node with a regular file.
    @Test func aSaveToDevFullIsRefusedAndTheDeviceKept() throws {
        let error = #expect(throws: CheckpointError.self) { try TinyHPO.make().saveCheckpoint(to: "/dev/full") }
        #expect(error.map { "\($0)" } == "cannot write /dev/full: it is a character device, not a regular file; nothing was written")
        var info = stat()
        #expect(lstat("/dev/full", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR, "/dev/full is still a character device")
    }

    @Test(.enabled(if: geteuid() != 0, "root is not bound by directory permissions"))
    func aSaveIntoAReadOnlyDirectoryIsPermissionDeniedAndTheOldFileKept() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let engine = try TinyHPO.make()
            try engine.saveCheckpoint(to: path)
            let before = FileManager.default.contents(atPath: path)
            try engine.run(iterations: 2)
            try #require(chmod(directory, 0o555) == 0)
            defer { chmod(directory, 0o755) }
            let error = #expect(throws: CheckpointError.self) { try engine.saveCheckpoint(to: path) }
            #expect(error.map { "\($0)" } == "cannot write \(path): permission denied")
            #expect(FileManager.default.contents(atPath: path) == before)
        }
    }

    /// Refused targets and refused saves alike leave the earlier checkpoint byte for byte.
    @Test func aFailedSaveLeavesThePreviousCheckpoint() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let engine = try TinyHPO.make()
            try engine.saveCheckpoint(to: path, metadata: ["run": "first"])
            let before = try #require(FileManager.default.contents(atPath: path))
            try engine.run(iterations: 3)
            #expect(throws: CheckpointError.self) { try engine.saveCheckpoint(to: path, metadata: ["betty.reserved": "x"]) }
            #expect(throws: CheckpointError.self) { try engine.saveCheckpoint(to: path, metadata: ["crc32c.x": "x"]) }
            #expect(FileManager.default.contents(atPath: path) == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["tiny.safetensors"])
            #expect(try TinyHPO.make().loadCheckpoint(from: path).metadata == ["run": "first"])
        }
    }
}
