import BettyScript
import Foundation
import Testing
import _TestSupport

/// `data NAME = npz ...`, `cifar10 ...` and `cifar100 ...` end to end: the files written here, the
/// data sets they make, a run on one, and each refusal with its message and caret.
@Suite struct ArchiveDataTests {
    /// A directory of files for one test, removed by `remove()`.
    struct Files {
        let directory = NSTemporaryDirectory() + "betty-archives-\(UUID().uuidString)/"

        init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

        func write(_ name: String, _ bytes: [UInt8]) throws -> String {
            try Data(bytes).write(to: URL(fileURLWithPath: directory + name))
            return directory + name
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    static let x: [Float] = [0.5, -1, 2, 3.25, 0.25, 7, -2, 1]
    static let y: [Float] = [0, 1, 1, 0]

    /// `print EXPR`'s output lines.
    static func printed(_ session: Session, _ transcript: Transcript, _ expression: String) -> String {
        let before = transcript.text.count
        session.execute("print \(expression)", file: "t", line: 1)
        return String(transcript.text.dropFirst(before)).trimmingCharacters(in: .newlines)
    }

    static func one(_ transcript: Transcript) -> (message: String, column: Int?) {
        (transcript.errors.last?.message ?? "no error", transcript.errors.last?.location?.column)
    }

    // MARK: - npz

    @Test func npzStoredAndDeflatedLoadAndTrain() throws {
        let files = try Files()
        defer { files.remove() }
        for compressed in [false, true] {
            let path = try files.write("d\(compressed).npz", ZipFixtures.npz([("x", Self.x, [4, 2]), ("y", Self.y, [4])], compressed: compressed).bytes)
            let (session, transcript) = replay("""
                seed 1
                data d = npz "\(path)"
                show data
                problem p
                  module linear 2 -> 2
                  optimizer sgd lr=0.1
                  data d batch=4
                  loss cross_entropy(p(x), y)
                end
                run 3
                """)
            #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
            #expect(transcript.text.contains("d: 4 samples, x [4, 2], y [4], 2 classes (2-2 per class)"))
            #expect(transcript.text.contains("(npz \"\(path)\" x=x y=y flatten=false)"), "show data says what was read")
            #expect(Self.printed(session, transcript, "sum(d.x)") == "11")
            #expect(Self.printed(session, transcript, "d.y") .contains("[0.0, 1.0, 1.0, 0.0]"))
        }
    }

    @Test func npzArraysByOtherNamesAndScaled() throws {
        let files = try Files()
        defer { files.remove() }
        let path = try files.write("n.npz", ZipFixtures.npz([("inputs", Self.x, [4, 2]), ("labels", Self.y, [4])], compressed: true).bytes)
        let (session, transcript) = replay("data d = npz \"\(path)\" y=labels x=inputs scale=2\nshow data")
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        #expect(transcript.text.contains("(npz \"\(path)\" x=inputs y=labels scale=2 flatten=false)"))
        #expect(Self.printed(session, transcript, "sum(d.x)") == "22")
    }

    @Test func npzMissingArraysPointAtWhatNamedThem() throws {
        let files = try Files()
        defer { files.remove() }
        let path = try files.write("n.npz", ZipFixtures.npz([("inputs", Self.x, [4, 2]), ("labels", Self.y, [4])], compressed: false).bytes)
        // By default: the caret under the file, and how to name another array.
        var (_, transcript) = replay("data d = npz \"\(path)\"")
        #expect(Self.one(transcript) == ("\(path) has no array 'x'; name one with x=NAME; its arrays: inputs, labels", 14))
        // Given: the caret under the name, with the closest one.
        (_, transcript) = replay("data d = npz \"\(path)\" x=inputs y=label")
        let column = "data d = npz \"\(path)\" x=inputs y=".count + 1
        #expect(Self.one(transcript) == ("\(path) has no array 'label' (did you mean 'labels'?); its arrays: inputs, labels", column))
    }

    @Test func npzArraysThatCannotBeReadPointAtTheirOption() throws {
        let files = try Files()
        defer { files.remove() }
        let bools = ZipFixtures.npy(descr: "|b1", shape: [4], payload: [0, 1, 1, 0])
        let path = try files.write("b.npz", ZipFixtures.archive([
            .init("x.npy", ZipFixtures.npy(float32: Self.x, shape: [4, 2]), deflated: true), .init("mask.npy", bools, deflated: true),
        ]).bytes)
        let (session, transcript) = replay("data d = npz \"\(path)\" y=mask")
        let column = "data d = npz \"\(path)\" y=".count + 1
        #expect(Self.one(transcript) == ("\(path): member mask.npy: dtype |b1 is not supported (f4, f8, u1, i1, i4, i8, little-endian)", column))
        session.execute("show data", file: "t", line: 2)
        #expect(!transcript.text.contains("data d:"), "nothing was defined")
    }

    @Test func damagedArchivesAreRefusedNamingTheFile() throws {
        let files = try Files()
        defer { files.remove() }
        var archive = ZipFixtures.npz([("x", Self.x, [4, 2]), ("y", Self.y, [4])], compressed: false)
        archive.bytes[archive.dataOffsets[0] + 130] ^= 1
        let flipped = try files.write("f.npz", archive.bytes)
        let cut = try files.write("c.npz", Array(ZipFixtures.npz([("x", Self.x, [4, 2])], compressed: true).bytes.dropLast(40)))
        var (_, transcript) = replay("data d = npz \"\(flipped)\"")
        #expect(Self.one(transcript).message.hasPrefix("\(flipped): member x.npy: damaged: its CRC-32 is 0x"))
        #expect(Self.one(transcript).column == 14)
        (_, transcript) = replay("data d = npz \"\(cut)\"")
        #expect(Self.one(transcript).message.hasPrefix("\(cut): truncated zip archive: it has no end of central directory record"))
        #expect(Self.one(transcript).column == 14)
        (_, transcript) = replay("data d = npz \"\(cut)\" \"\(flipped)\"")
        #expect(Self.one(transcript).message == "npz takes 1 quoted path")
    }

    // MARK: - CIFAR

    static func cifar(labels: [[UInt8]]) -> [UInt8] {
        labels.enumerated().flatMap { i, label in label + (0..<3072).map { UInt8(($0 + i * 5) % 256) } }
    }

    @Test func cifarBatchesLoadInOrderWithTheLabelsAsked() throws {
        let files = try Files()
        defer { files.remove() }
        let first = try files.write("data_batch_1.bin", Self.cifar(labels: [[3], [1]]))
        let second = try files.write("data_batch_2.bin", Self.cifar(labels: [[9]]))
        let hundred = try files.write("train.bin", Self.cifar(labels: [[4, 70], [11, 2]]))
        let (session, transcript) = replay("""
            data c = cifar10 "\(first)" "\(second)" scale=1/255
            data f = cifar100 "\(hundred)"
            data k = cifar100 "\(hundred)" labels=coarse
            show data
            """)
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        #expect(transcript.text.contains("c: 3 samples, x [3, 3, 32, 32], y [3]"))
        #expect(transcript.text.contains("(cifar10 \"\(first)\" \"\(second)\" scale=0.003921569 flatten=false)"))
        #expect(transcript.text.contains("(cifar100 \"\(hundred)\" labels=fine flatten=false)"))
        #expect(transcript.text.contains("(cifar100 \"\(hundred)\" labels=coarse flatten=false)"))
        #expect(Self.printed(session, transcript, "c.y").contains("[3.0, 1.0, 9.0]"))
        #expect(Self.printed(session, transcript, "f.y").contains("[70.0, 2.0]"))
        #expect(Self.printed(session, transcript, "k.y").contains("[4.0, 11.0]"))
        // Pixel bytes as they are (0 to 255): every record holds each byte value 12 times.
        #expect(Self.printed(session, transcript, "max(f.x)") == "255")
        #expect(Self.printed(session, transcript, "sum(f.x)") == "\(2 * 12 * 32640)")
    }

    @Test func cifarRefusalsNameTheFileAndTheRecordSize() throws {
        let files = try Files()
        defer { files.remove() }
        let good = try files.write("data_batch_1.bin", Self.cifar(labels: [[3]]))
        let cut = try files.write("data_batch_2.bin", Array(Self.cifar(labels: [[1], [2]]).dropLast(7)))
        var (_, transcript) = replay("data c = cifar10 \"\(good)\" \"\(cut)\"")
        let column = "data c = cifar10 \"\(good)\" ".count + 1
        #expect(Self.one(transcript) == ("\(cut): is 6139 bytes, not a whole number of 3073-byte CIFAR-10 records (a label byte and 3072 pixel bytes): 1 record and 3066 bytes over (a truncated file, or not CIFAR-10)", column))
        (_, transcript) = replay("data c = cifar10")
        #expect(Self.one(transcript) == ("cifar10 takes 1 or more quoted paths", 10))
        (_, transcript) = replay("data c = cifar10 \"\(good)\" labels=fine")
        #expect(Self.one(transcript).message == "data NAME = cifar10 \"data_batch_1.bin\" ... has no option 'labels'; options: scale, flatten")
        (_, transcript) = replay("data c = cifar100 \"\(good)\" labels=medium")
        #expect(Self.one(transcript).message == "labels must be one of fine, coarse, not 'medium'")
    }
}
