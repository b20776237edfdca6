import Foundation
import Testing
import BettyTensor
import BettyNN
import _TestSupport

/// `.npz` archives: NumPy's own (embedded), every zip layout a reader meets, stored and deflated,
/// and every way an archive can be damaged or lie, each refused naming the file and what is wrong.
@Suite struct NPZReaderTests {
    typealias Entry = ZipFixtures.Entry

    /// `np.savez(f, x=x, y=y)` and `np.savez_compressed(f, x=x, y=y)` with NumPy 2.4 and Python 3.11,
    /// x = float32 [[0.5, -1], [2, 3.25], [0.001, 7]], y = int64 [0, 1, 2]; written once by
    /// `python3 -c "import numpy as np; ..."`, so the tests do not need Python.
    static let numpySavez = """
        UEsDBC0AAAAAAAAAIQDjwoKM//////////8FABQAeC5ucHkBABAAmAAAAAAAAACYAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzog
        JzxmNCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgzLCAyKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAg
        ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAPwAAgL8AAABAAABQQG8SgzoAAOBAUEsDBC0AAAAAAAAAIQD3QBLq
        //////////8FABQAeS5ucHkBABAAmAAAAAAAAACYAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxpOCcsICdmb3J0cmFuX29y
        ZGVyJzogRmFsc2UsICdzaGFwZSc6ICgzLCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg
        ICAgICAgICAgICAgICAKAAAAAAAAAAABAAAAAAAAAAIAAAAAAAAAUEsBAi0DLQAAAAAAAAAhAOPCgoyYAAAAmAAAAAUAAAAAAAAA
        AAAAAIABAAAAAHgubnB5UEsBAi0DLQAAAAAAAAAhAPdAEuqYAAAAmAAAAAUAAAAAAAAAAAAAAIABzwAAAHkubnB5UEsFBgAAAAAC
        AAIAZgAAAJ4BAAAAAA==
        """
    static let numpySavezCompressed = """
        UEsDBC0AAAAIAAAAIQDjwoKM//////////8FABQAeC5ucHkBABAAmAAAAAAAAABdAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6l
        oG6TZqKuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GsY6CkaaOgq1CmQDLgYGBnsGhob9QNqBgSHAIV+o2YqB4YEDAFBL
        AwQtAAAACAAAACEA90AS6v//////////BQAUAHkubnB5AQAQAJgAAAAAAAAATAAAAAAAAACb7BfqGxDJyFDGUK2eklqcXKRupaBu
        k2mhrqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RrGOpo6CrUKFAAuBihghNJMUBoAUEsBAi0DLQAAAAgAAAAhAOPCgoxd
        AAAAmAAAAAUAAAAAAAAAAAAAAIABAAAAAHgubnB5UEsBAi0DLQAAAAgAAAAhAPdAEupMAAAAmAAAAAUAAAAAAAAAAAAAAIABlAAA
        AHkubnB5UEsFBgAAAAACAAIAZgAAABcBAAAAAA==
        """

    static func decoded(_ base64: String) -> Data {
        Data(base64Encoded: base64.filter { !$0.isWhitespace })!
    }

    static let x: [Float] = [0.5, -1, 2, 3.25, 0.001, 7]

    /// The archive's `DataError` text, or a failure naming what was loaded instead.
    static func refusal(_ data: Data, path: String = "a.npz", array: String = "x") -> String {
        do {
            let tensor = try NPZArchive(data: data, path: path).array(array)
            return "loaded \(tensor.shape)"
        } catch {
            return "\(error)"
        }
    }

    static func refusal(_ archive: ZipFixtures.Archive, path: String = "a.npz", array: String = "x") -> String {
        refusal(archive.data, path: path, array: array)
    }

    static func le(_ value: Int, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    static func patch(_ bytes: inout [UInt8], at offset: Int, _ value: Int, width: Int) {
        bytes.replaceSubrange(offset..<(offset + width), with: le(value, width))
    }

    // MARK: - What NumPy writes

    @Test(arguments: [("savez", numpySavez), ("savez_compressed", numpySavezCompressed)])
    func numpysOwnArchivesLoad(kind: String, base64: String) throws {
        let archive = try NPZArchive(data: Self.decoded(base64), path: "\(kind).npz")
        #expect(archive.names == ["x", "y"])
        let x = try archive.array("x"), y = try archive.array("y.npy")
        #expect(x.shape == [3, 2] && x.scalars == Self.x, "\(kind)")
        #expect(y.shape == [3] && y.scalars == [0, 1, 2], "\(kind)")
    }

    @Test func readingEveryArrayOfAFile() throws {
        let file = try TemporaryFile(Self.decoded(Self.numpySavezCompressed), suffix: ".npz")
        defer { file.remove() }
        let arrays = try NPZReader.read(path: file.path)
        #expect(arrays.keys.sorted() == ["x", "y"])
        #expect(arrays["x"]?.scalars == Self.x && arrays["y"]?.scalars == [0, 1, 2])
    }

    // MARK: - Every layout, stored and deflated, every element type NPYReader reads

    static let typed: [(descr: String, payload: [UInt8], values: [Float])] = [
        ("<f4", [0, 0, 0, 63, 0, 0, 128, 191], [0.5, -1]),
        ("<f8", [0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0, 0, 0, 0, 0, 0, 0x59, 0xC0], [1.5, -100]),
        ("<i8", le(-3, 8) + le(1 << 40, 8), [-3, Float(1 << 40)]),
        ("<i4", le(7, 4) + le(-7, 4), [7, -7]),
        ("|u1", [0, 255], [0, 255]),
        ("|i1", [0x80, 0x7F], [-128, 127]),
    ]

    @Test(arguments: ZipFixtures.Layout.allCases, [false, true])
    func everyLayoutStoredAndDeflated(layout: ZipFixtures.Layout, compressed: Bool) throws {
        let entries = Self.typed.enumerated().map { i, t in
            Entry("a\(i).npy", ZipFixtures.npy(descr: t.descr, shape: [2], payload: t.payload), deflated: compressed)
        }
        let archive = try NPZArchive(data: ZipFixtures.archive(entries, layout: layout).data, path: "t.npz")
        #expect(archive.names == (0..<Self.typed.count).map { "a\($0)" })
        for (i, t) in Self.typed.enumerated() {
            #expect(try archive.array("a\(i)").scalars == t.values, "\(t.descr), \(layout), compressed \(compressed)")
        }
    }

    @Test func aLargeDeflatedMemberRoundTrips() throws {
        // 200,000 floats with runs and noise: many deflate blocks, well past zlib's 32 KB window.
        var g = RandomGenerator(seed: 3)
        let values = (0..<200_000).map { i in i % 1000 < 500 ? Float(i % 7) : Float(g.next() % 1000) / 8 }
        let archive = ZipFixtures.npz([("x", values, [400, 500])], compressed: true)
        #expect(archive.compressedSizes[0] < values.count * 4 / 2)
        let x = try NPZArchive(data: archive.data, path: "big.npz").array("x")
        #expect(x.shape == [400, 500] && x.scalars == values)
    }

    // MARK: - Members that are missing, or not arrays

    @Test func aMissingArrayNamesTheArraysThereAre() {
        let archive = ZipFixtures.npz([("inputs", [1, 2], [2]), ("labels", [0, 1], [2])], compressed: false)
        #expect(Self.refusal(archive, path: "d.npz", array: "x") == "d.npz: has no array 'x'; its arrays: inputs, labels")
        let empty = ZipFixtures.archive([])
        #expect(Self.refusal(empty, path: "e.npz") == "e.npz: has no array 'x'; the archive holds no arrays")
    }

    @Test func aMemberThatIsNotAnArrayIsRefused() throws {
        let archive = ZipFixtures.archive([Entry("notes.txt", Array("hello".utf8), deflated: true),
                                           Entry("x.npy", Array("not numpy at all".utf8), deflated: false)])
        let npz = try NPZArchive(data: archive.data, path: "m.npz")
        #expect(npz.names == ["notes.txt", "x"])
        #expect(Self.refusal(archive, path: "m.npz", array: "notes.txt")
                == "m.npz: member notes.txt is not a .npy array (it does not start with NumPy's magic bytes)")
        #expect(Self.refusal(archive, path: "m.npz", array: "x")
                == "m.npz: member x.npy is not a .npy array (it does not start with NumPy's magic bytes)")
    }

    @Test func aMembersOwnErrorsAreToldAsTheArchives() {
        // A header that declares more than the member holds, and a dtype NPYReader does not read.
        let lying = ZipFixtures.npy(descr: "<f4", shape: [1000], payload: [0, 0, 0, 0])
        let bools = ZipFixtures.npy(descr: "|b1", shape: [2], payload: [1, 0])
        let archive = ZipFixtures.archive([Entry("x.npy", lying, deflated: true), Entry("m.npy", bools, deflated: false)])
        #expect(Self.refusal(archive, path: "h.npz", array: "x")
                == "h.npz: member x.npy: header declares shape [1000] of <f4 (4000 bytes) but the file holds 4 bytes of data")
        #expect(Self.refusal(archive, path: "h.npz", array: "m")
                == "h.npz: member m.npy: dtype |b1 is not supported (f4, f8, u1, i1, i4, i8, little-endian)")
    }

    // MARK: - Truncated and damaged archives

    @Test func everyTruncationIsRefusedAndTheCutOnesSaySo() {
        for compressed in [false, true] {
            let bytes = ZipFixtures.npz([("x", Self.x, [3, 2]), ("y", [0, 1, 2], [3])], compressed: compressed).bytes
            for length in 0..<bytes.count {
                let message = Self.refusal(Data(bytes[..<length]), path: "cut.npz")
                #expect(message.hasPrefix("cut.npz: "), "\(length) bytes: \(message)")
                if length >= 4 {
                    #expect(message.contains("truncated zip archive"), "\(length) bytes: \(message)")
                }
            }
        }
        #expect(Self.refusal(Data(), path: "e.npz") == "e.npz: is empty, not an .npz archive")
    }

    @Test func otherFilesAreNamedForWhatTheyAre() {
        let npy = Data(ZipFixtures.npy(float32: [1], shape: [1]))
        #expect(Self.refusal(npy, path: "x.npz") == "x.npz: is a .npy file, not an .npz archive (read it with npy)")
        #expect(Self.refusal(Data([0x1F, 0x8B, 8, 0] + [UInt8](repeating: 0, count: 30)), path: "g.npz")
                == "g.npz: is gzip-compressed, not an .npz (zip) archive")
        #expect(Self.refusal(Data("a,b\n1,2\n".utf8), path: "t.npz")
                == "t.npz: not an .npz archive (not a zip file: no end of central directory record)")
    }

    @Test func aFlippedDataByteIsACRCMismatch() {
        var archive = ZipFixtures.npz([("x", Self.x, [3, 2])], compressed: false)
        archive.bytes[archive.dataOffsets[0] + archive.compressedSizes[0] - 1] ^= 0x40
        let message = Self.refusal(archive, path: "f.npz")
        #expect(message.hasPrefix("f.npz: member x.npy: damaged: its CRC-32 is 0x"), "\(message)")
        #expect(message.contains(", the archive records 0x"))
    }

    @Test func everySingleByteFlipLoadsTheSameValuesOrIsRefused() {
        // Fields no reader checks (times, versions, attributes) may change; nothing else may pass.
        for compressed in [false, true] {
            let archive = ZipFixtures.npz([("x", Self.x, [3, 2]), ("y", [0, 1, 2], [3])], compressed: compressed)
            for offset in 0..<archive.bytes.count {
                var bytes = archive.bytes
                bytes[offset] ^= 0x5A
                do {
                    let npz = try NPZArchive(data: Data(bytes), path: "f.npz")
                    let x = try npz.array("x"), y = try npz.array("y")
                    #expect(x.scalars == Self.x && x.shape == [3, 2] && y.scalars == [0, 1, 2], "byte \(offset) flipped loaded other values")
                } catch {
                    #expect(error.path == "f.npz", "byte \(offset): \(error)")
                }
            }
        }
    }

    @Test func corruptDeflateDataIsZlibsRefusal() {
        let contents = ZipFixtures.npy(float32: Self.x, shape: [3, 2])
        var stream = ZipFixtures.deflateRaw(contents)
        stream[0] = 0xFF  // a final block of the reserved type 3
        let archive = ZipFixtures.archive([Entry("x.npy", contents, deflated: true, stored: stream)])
        #expect(Self.refusal(archive, path: "z.npz") == "z.npz: member x.npy: its deflated data is corrupt (zlib: invalid block type)")
    }

    @Test func aDeflateStreamThatDoesNotEndIsRefused() {
        let contents = ZipFixtures.npy(float32: (0..<64).map(Float.init), shape: [64])
        let stream = ZipFixtures.deflateRaw(contents)
        let cut = ZipFixtures.archive([Entry("x.npy", contents, deflated: true, stored: Array(stream.prefix(stream.count / 2)))])
        let message = Self.refusal(cut, path: "s.npz")
        #expect(message.hasPrefix("s.npz: member x.npy: its deflate stream does not end: its \(stream.count / 2) compressed bytes stop mid-stream"), "\(message)")
    }

    @Test func sizesThatLieAreRefused() {
        let contents = ZipFixtures.npy(float32: Self.x, shape: [3, 2])
        // Inflates to more, or to less, than declared.
        let short = ZipFixtures.archive([Entry("x.npy", contents, deflated: true, declaredSize: contents.count - 10)])
        #expect(Self.refusal(short, path: "l.npz") == "l.npz: member x.npy: inflates to more than the \(contents.count - 10) bytes the archive declares")
        let long = ZipFixtures.archive([Entry("x.npy", contents, deflated: true, declaredSize: contents.count + 10)])
        #expect(Self.refusal(long, path: "l.npz") == "l.npz: member x.npy: inflates to \(contents.count) bytes, but the archive declares \(contents.count + 10)")
        // More than deflate can expand: refused before anything is allocated (a terabyte here).
        for (layout, size) in [(ZipFixtures.Layout.numpy, 4_000_000_000), (.zip64, 1 << 40)] {
            let huge = ZipFixtures.archive([Entry("x.npy", contents, deflated: true, declaredSize: size)], layout: layout)
            let message = Self.refusal(huge, path: "l.npz")
            #expect(message.hasPrefix("l.npz: member x.npy: the archive declares \(size) bytes inflated from "), "\(layout): \(message)")
            #expect(message.hasSuffix("more than deflate can expand (at most 1032 times)"))
        }
        // Stored, with two sizes.
        let stored = ZipFixtures.archive([Entry("x.npy", contents, deflated: false, declaredSize: contents.count + 1)])
        #expect(Self.refusal(stored, path: "l.npz")
                == "l.npz: member x.npy: stored uncompressed, but the archive declares \(contents.count) bytes stored and \(contents.count + 1) bytes of contents")
    }

    @Test func aDeflatedMemberIsCheckedAgainstTheMemoryBudgetBeforeInflating() throws {
        defer { MemoryBudget.limit = nil }
        // 256 KB of zero bytes deflates to about 300 bytes: within deflate's ratio, not within a 128 KB limit.
        let contents = ZipFixtures.npy(descr: "|u1", shape: [262_144], payload: [UInt8](repeating: 0, count: 262_144))
        let file = try TemporaryFile(ZipFixtures.archive([Entry("x.npy", contents, deflated: true)]).data, suffix: ".npz")
        defer { file.remove() }
        let archive = try NPZArchive(path: file.path)
        MemoryBudget.limit = MemoryStats.liveBytes + 128 * 1024
        #expect { try archive.array("x") } throws: { error in
            guard case let DataError.tooLarge(exceeded) = error else { return false }
            return exceeded.bytes == contents.count && exceeded.purpose.contains(file.path) && exceeded.purpose.contains("member x.npy")
        }
        // Inflated within the limit, its 262,144 floats (1 MB) are not, named by the archive and member.
        MemoryBudget.limit = MemoryStats.liveBytes + 512 * 1024
        #expect { try archive.array("x") } throws: { error in
            guard case let DataError.tooLarge(exceeded) = error else { return false }
            return exceeded.floats == 262_144 && exceeded.purpose == "\(file.path): member x.npy: shape [262144]"
        }
        MemoryBudget.limit = nil
        #expect(try archive.array("x").shape == [262_144])
    }

    @Test func aDirectoryThatLiesIsRefused() {
        let base = ZipFixtures.npz([("x", Self.x, [3, 2]), ("y", [0, 1, 2], [3])], compressed: false)
        let end = base.endRecordOffset, directory = base.centralDirectoryOffset
        func refusal(_ edit: (inout [UInt8]) -> Void) -> String {
            var bytes = base.bytes
            edit(&bytes)
            return Self.refusal(Data(bytes), path: "d.npz")
        }
        // A member count its directory cannot hold: no array of 60,000 entries is made.
        #expect(refusal { Self.patch(&$0, at: end + 8, 60_000, width: 2); Self.patch(&$0, at: end + 10, 60_000, width: 2) }
                == "d.npz: corrupt zip archive: it declares 60000 members, but its central directory of \(end - directory) bytes holds at most \((end - directory) / 46)")
        // A directory past the end record.
        #expect(refusal { Self.patch(&$0, at: end + 16, 1 << 30, width: 4) }.contains("does not fit before its end record"))
        // Sizes in the directory that its local header does not share.
        #expect(refusal { Self.patch(&$0, at: directory + 20, 100_000, width: 4); Self.patch(&$0, at: directory + 24, 100_000, width: 4) }
                == "d.npz: member x.npy: corrupt zip archive: its local header declares 152 bytes compressed and 152 inflated, the central directory 100000 and 100000")
        // A member whose data runs past the directory (sizes after the data: only the directory has them).
        var described = ZipFixtures.npz([("x", Self.x, [3, 2])], compressed: false, layout: .dataDescriptor)
        let at = described.centralDirectoryOffset
        Self.patch(&described.bytes, at: at + 20, 100_000, width: 4)
        Self.patch(&described.bytes, at: at + 24, 100_000, width: 4)
        #expect(Self.refusal(described, path: "d.npz")
                == "d.npz: member x.npy: truncated zip archive: its 100000 bytes of data at byte \(described.dataOffsets[0]) run past the central directory at byte \(at)")
        // A local header that is not the member's, or is not there.
        #expect(refusal { $0[base.localHeaderOffsets[0] + 30] = UInt8(ascii: "z") }
                == "d.npz: member x.npy: corrupt zip archive: the local header at byte 0 is not this member's")
        #expect(refusal { Self.patch(&$0, at: directory + 42, 7, width: 4) }
                == "d.npz: member x.npy: corrupt zip archive: no local header at byte 7, where the central directory puts it")
        // The end record defers to a ZIP64 record that is not there.
        #expect(refusal { Self.patch(&$0, at: end + 16, 0xFFFF_FFFF, width: 4) }
                == "d.npz: corrupt zip archive: its end record defers to a ZIP64 record that is not there")
    }

    @Test func aZIP64RecordThatLiesIsRefused() {
        let base = ZipFixtures.npz([("x", Self.x, [3, 2])], compressed: true, layout: .zip64)
        let locator = base.endRecordOffset - 20
        var bytes = base.bytes
        Self.patch(&bytes, at: locator + 8, 3, width: 8)
        #expect(Self.refusal(Data(bytes), path: "z.npz") == "z.npz: corrupt zip archive: its ZIP64 end record is missing or damaged")
        // A directory entry's ZIP64 field cut short: the offset it should hold is not there.
        bytes = base.bytes
        let directory = base.centralDirectoryOffset
        let extra = directory + 46 + 5
        Self.patch(&bytes, at: extra + 2, 16, width: 2)
        #expect(Self.refusal(Data(bytes), path: "z.npz").contains("member x.npy: corrupt zip archive"))
    }

    @Test func membersTwiceEncryptedOrOtherwiseCompressedAreRefused() {
        let contents = ZipFixtures.npy(float32: Self.x, shape: [3, 2])
        let twice = ZipFixtures.archive([Entry("x.npy", contents, deflated: false), Entry("x.npy", contents, deflated: true)])
        #expect(Self.refusal(twice, path: "t.npz") == "t.npz: corrupt zip archive: it holds two members named x.npy")
        var encrypted = Entry("x.npy", contents, deflated: false)
        encrypted.flags = 1
        #expect(Self.refusal(ZipFixtures.archive([encrypted]), path: "t.npz") == "t.npz: member x.npy is encrypted, which is not supported")
        var bzip2 = Entry("x.npy", contents, deflated: false)
        bzip2.method = 12
        #expect(Self.refusal(ZipFixtures.archive([bzip2]), path: "t.npz")
                == "t.npz: member x.npy is compressed with method 12 (bzip2); only stored (0) and deflated (8), as NumPy writes, are supported")
    }

    @Test func fileErrorsNameTheFile() throws {
        let missing = missingPath(".npz")
        #expect(throws: DataError.fileNotFound(path: missing)) { try NPZArchive(path: missing) }
        let file = try TemporaryFile(Data(ZipFixtures.npz([("x", Self.x, [3, 2])], compressed: true).bytes.dropLast(30)), suffix: ".npz")
        defer { file.remove() }
        #expect { try NPZArchive(path: file.path) } throws: { error in
            "\(error)".hasPrefix("\(file.path): truncated zip archive")
        }
    }
}
