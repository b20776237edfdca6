import Foundation
import Testing
import BettyTensor
import BettyNN

/// CIFAR-10 and CIFAR-100 binary batches written by the test in their distribution layout.
@Suite struct CIFARReaderTests {
    /// A pixel byte that differs by record, channel, row and column.
    static func pixel(_ record: Int, _ channel: Int, _ row: Int, _ column: Int) -> UInt8 {
        UInt8((record * 31 + channel * 101 + row * 7 + column * 3) % 256)
    }

    /// Records `first..<first + labels.count`, each its label bytes then 3072 pixels, channel-major.
    static func batch(labels: [[UInt8]], first: Int = 0) -> Data {
        var bytes: [UInt8] = []
        for (i, label) in labels.enumerated() {
            bytes += label
            for c in 0..<3 { for r in 0..<32 { for k in 0..<32 { bytes.append(pixel(first + i, c, r, k)) } } }
        }
        return Data(bytes)
    }

    static func expectPixels(_ x: Tensor, records: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(x.shape == [records, 3, 32, 32], sourceLocation: sourceLocation)
        let values = x.scalars
        var wrong = 0
        for n in 0..<records { for c in 0..<3 { for r in 0..<32 { for k in 0..<32 {
            if values[((n * 3 + c) * 32 + r) * 32 + k] != Float(pixel(n, c, r, k)) { wrong += 1 }
        } } } }
        #expect(wrong == 0, "\(wrong) pixels differ", sourceLocation: sourceLocation)
    }

    static func message(_ body: () throws -> Dataset) -> String {
        do { return "loaded \(try body().x.shape)" } catch { return "\(error)" }
    }

    @Test func cifar10RecordsAreLabelsAndChannelMajorPixels() throws {
        let data = try CIFARReader.parse(Self.batch(labels: [[3], [0], [9], [5]]), .cifar10, path: "b.bin")
        Self.expectPixels(data.x, records: 4)
        #expect(data.y.shape == [4] && data.y.scalars == [3, 0, 9, 5])
        // Raw bytes, as IDX gives them: 0 to 255.
        #expect(data.x.scalars.max() == 255 && data.x.scalars.min() == 0)
    }

    @Test func severalFilesAreOneSetInTheOrderGiven() throws {
        let first = try TemporaryFile(Self.batch(labels: [[1], [2]]), suffix: ".bin")
        let second = try TemporaryFile(Self.batch(labels: [[7], [8], [4]], first: 2), suffix: ".bin")
        defer { first.remove(); second.remove() }
        let data = try CIFARReader.read(paths: [first.path, second.path], .cifar10)
        Self.expectPixels(data.x, records: 5)
        #expect(data.y.scalars == [1, 2, 7, 8, 4])
    }

    @Test func cifar100KeepsTheFineOrTheCoarseLabel() throws {
        let bytes = Self.batch(labels: [[4, 77], [19, 99], [0, 0]])
        let fine = try CIFARReader.parse(bytes, .cifar100(labels: .fine), path: "train.bin")
        Self.expectPixels(fine.x, records: 3)
        #expect(fine.y.scalars == [77, 99, 0])
        let coarse = try CIFARReader.parse(bytes, .cifar100(labels: .coarse), path: "train.bin")
        Self.expectPixels(coarse.x, records: 3)
        #expect(coarse.y.scalars == [4, 19, 0])
    }

    @Test func aTruncatedFileNamesTheRecordSize() {
        let cut = Self.batch(labels: [[1], [2]]).dropLast(1)
        #expect(Self.message { try CIFARReader.parse(cut, .cifar10, path: "data_batch_1.bin") }
                == "data_batch_1.bin: is 6145 bytes, not a whole number of 3073-byte CIFAR-10 records (a label byte and 3072 pixel bytes): 1 record and 3072 bytes over (a truncated file, or not CIFAR-10)")
        let hundred = Self.batch(labels: [[1, 2], [3, 4], [5, 6]]).dropLast(100)
        #expect(Self.message { try CIFARReader.parse(hundred, .cifar100(labels: .fine), path: "train.bin") }
                == "train.bin: is 9122 bytes, not a whole number of 3074-byte CIFAR-100 records (2 label bytes and 3072 pixel bytes): 2 records and 2974 bytes over (a truncated file, or not CIFAR-100)")
        #expect(Self.message { try CIFARReader.parse(Data(), .cifar10, path: "e.bin") }
                == "e.bin: is empty: no 3073-byte CIFAR-10 records (a label byte and 3072 pixel bytes)")
    }

    @Test func theOtherVariantsFileIsRefusedByItsLabels() {
        // Record sizes that happen to divide: labels past the variant's classes give the file away.
        #expect(Self.message { try CIFARReader.parse(Self.batch(labels: [[1], [57]]), .cifar10, path: "b.bin") }
                == "b.bin: record 2 has label 57, but CIFAR-10's labels are 0 to 9: is it a CIFAR-100 file (cifar100)?")
        #expect(Self.message { try CIFARReader.parse(Self.batch(labels: [[1, 200]]), .cifar100(labels: .coarse), path: "t.bin") }
                == "t.bin: record 1 has fine label 200, but CIFAR-100's fine labels are 0 to 99: is it a CIFAR-10 file (cifar10)?")
        #expect(Self.message { try CIFARReader.parse(Self.batch(labels: [[20, 5]]), .cifar100(labels: .fine), path: "t.bin") }
                == "t.bin: record 1 has coarse label 20, but CIFAR-100's coarse labels are 0 to 19: is it a CIFAR-10 file (cifar10)?")
    }

    @Test func everyFileIsCheckedBeforeAnyIsRead() throws {
        let good = try TemporaryFile(Self.batch(labels: [[1]]), suffix: ".bin")
        let cut = try TemporaryFile(Self.batch(labels: [[1], [2]]).dropLast(3000), suffix: ".bin")
        defer { good.remove(); cut.remove() }
        let message = Self.message { try CIFARReader.read(paths: [good.path, cut.path], .cifar10) }
        #expect(message.hasPrefix("\(cut.path): is 3146 bytes, not a whole number of 3073-byte CIFAR-10 records"), "\(message)")
        let missing = missingPath(".bin")
        #expect(throws: DataError.fileNotFound(path: missing)) { try CIFARReader.read(paths: [good.path, missing], .cifar10) }
    }

    @Test func theFloatsAreCheckedAgainstTheMemoryBudget() throws {
        defer { MemoryBudget.limit = nil }
        let file = try TemporaryFile(Self.batch(labels: [[1], [2], [3], [4]]), suffix: ".bin")
        defer { file.remove() }
        // 4 records of 3073 bytes fit in 64 KB; their 4 x 3073 floats (48 KB) do not fit beside them in 32 KB.
        MemoryBudget.limit = MemoryStats.liveBytes + 32 * 1024
        #expect { try CIFARReader.read(paths: [file.path], .cifar10) } throws: { error in
            guard case let DataError.tooLarge(exceeded) = error else { return false }
            return exceeded.floats == 4 * 3073 && exceeded.purpose == "\(file.path): x [4, 3, 32, 32] and y [4]"
        }
    }
}
