import Foundation
import Testing
import BettyTensor
import BettyNN
import _TestSupport

/// A file under the temporary directory with a unique name, removed by `remove()`.
struct TemporaryFile {
    let path: String

    init(_ contents: Data, suffix: String) throws {
        let name = "betty-reader-\(UUID().uuidString)\(suffix)"
        path = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try contents.write(to: URL(fileURLWithPath: path))
    }

    init(_ text: String, suffix: String = ".csv") throws {
        try self.init(Data(text.utf8), suffix: suffix)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A path under the temporary directory that does not exist.
func missingPath(_ suffix: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("betty-missing-\(UUID().uuidString)\(suffix)").path
}

@Suite struct ReaderTests {
    // MARK: - CSV

    @Test func csvHeaderIsDetectedWhenAFieldIsNotANumber() throws {
        let file = try TemporaryFile("a, b ,c\n1,2,3\n4.5,-5,6e2\n")
        defer { file.remove() }
        let table = try CSVReader.read(path: file.path)
        #expect(table.header == ["a", "b", "c"])
        #expect(table.values.shape == [2, 3])
        // Decimal literals parsed by Float(_:): exact equality with the same literals.
        #expect(table.values.scalars == [1, 2, 3, 4.5, -5, 600])
    }

    @Test func csvWithoutHeaderKeepsTheFirstLine() throws {
        let file = try TemporaryFile("1,2\n3,4\n5,6\n")
        defer { file.remove() }
        let table = try CSVReader.read(path: file.path)
        #expect(table.header == nil)
        #expect(table.values.shape == [3, 2])
        #expect(table.values.scalars == [1, 2, 3, 4, 5, 6])
    }

    @Test func csvExplicitHeaderOverridesDetection() throws {
        let file = try TemporaryFile("10,20\n1,2\n")
        defer { file.remove() }
        // A numeric first line is a header when told so.
        let withHeader = try CSVReader.read(path: file.path, hasHeader: true)
        #expect(withHeader.header == ["10", "20"])
        #expect(withHeader.values.shape == [1, 2])
        #expect(withHeader.values.scalars == [1, 2])
        let without = try CSVReader.read(path: file.path, hasHeader: false)
        #expect(without.header == nil)
        #expect(without.values.scalars == [10, 20, 1, 2])
        // A text first line declared as data is a non-numeric field on line 1.
        let text = try TemporaryFile("x,y\n1,2\n")
        defer { text.remove() }
        #expect { try CSVReader.read(path: text.path, hasHeader: false) } throws: {
            "\($0)".contains("line 1") && "\($0)".contains("'x'")
        }
    }

    @Test func csvSkipsBlankLinesAndHandlesCRLFAndOtherDelimiters() throws {
        let file = try TemporaryFile("p,q\r\n1,2\r\n\r\n  \r\n3,4\r\n")
        defer { file.remove() }
        let table = try CSVReader.read(path: file.path)
        #expect(table.header == ["p", "q"])
        #expect(table.values.shape == [2, 2])
        #expect(table.values.scalars == [1, 2, 3, 4])
        let tabs = try TemporaryFile("1\t2\t3\n4\t5\t6\n", suffix: ".tsv")
        defer { tabs.remove() }
        let t = try CSVReader.read(path: tabs.path, delimiter: "\t")
        #expect(t.values.shape == [2, 3])
        #expect(t.values.scalars == [1, 2, 3, 4, 5, 6])
    }

    @Test func datasetFromCSVSplitsFeaturesAndLabels() throws {
        let file = try TemporaryFile("f1,f2,label\n1,2,0\n3,4,1\n5,6,2\n")
        defer { file.remove() }
        let last = try Dataset.csv(path: file.path)
        #expect(last.x.shape == [3, 2] && last.y.shape == [3])
        #expect(last.x.scalars == [1, 2, 3, 4, 5, 6])
        #expect(last.y.scalars == [0, 1, 2])
        let first = try Dataset.csv(path: file.path, labelColumn: 0)
        #expect(first.x.shape == [3, 2])
        #expect(first.x.scalars == [2, 0, 4, 1, 6, 2])
        #expect(first.y.scalars == [1, 3, 5])
        // Negative indices count from the end: -2 is the middle column.
        let middle = try Dataset.csv(path: file.path, labelColumn: -2)
        #expect(middle.x.scalars == [1, 0, 3, 1, 5, 2])
        #expect(middle.y.scalars == [2, 4, 6])
        #expect(try middle.labels() == [2, 4, 6])
    }

    @Test func csvMissingFileIsFileNotFound() throws {
        let path = missingPath(".csv")
        #expect(throws: DataError.fileNotFound(path: path)) { try CSVReader.read(path: path) }
        #expect(throws: DataError.fileNotFound(path: path)) { try Dataset.csv(path: path) }
    }

    @Test func csvRaggedRowNamesTheLine() throws {
        // Line 4 of the file (after a blank line 3) has two fields.
        let file = try TemporaryFile("a,b,c\n1,2,3\n\n4,5\n")
        defer { file.remove() }
        #expect { try CSVReader.read(path: file.path) } throws: { error in
            guard case let DataError.malformed(path, reason) = error else { return false }
            return path == file.path && reason.contains("line 4") && reason.contains("2 fields") && reason.contains("3")
        }
    }

    @Test func csvNonNumericFieldNamesLineColumnAndText() throws {
        let file = try TemporaryFile("a,b\n1,2\n3,x7\n")
        defer { file.remove() }
        #expect { try CSVReader.read(path: file.path) } throws: { error in
            guard case let DataError.malformed(path, reason) = error else { return false }
            return path == file.path && reason.contains("line 3") && reason.contains("column 2") && reason.contains("'x7'")
        }
    }

    @Test func csvEmptyFileIsRefused() throws {
        for text in ["", "\n  \n\n"] {
            let file = try TemporaryFile(text)
            defer { file.remove() }
            #expect { try CSVReader.read(path: file.path) } throws: { error in
                guard case let DataError.malformed(path, reason) = error else { return false }
                return path == file.path && reason.contains("empty")
            }
        }
    }

    @Test func csvBadLabelColumnIsRefused() throws {
        let file = try TemporaryFile("1,2,3\n4,5,6\n")
        defer { file.remove() }
        for column in [3, 7, -4] {
            #expect { try Dataset.csv(path: file.path, labelColumn: column) } throws: { error in
                guard case let DataError.invalidArgument(message) = error else { return false }
                return message.contains("label column \(column)") && message.contains("3 columns")
            }
        }
        // A single column leaves no feature.
        let single = try TemporaryFile("1\n2\n")
        defer { single.remove() }
        #expect { try Dataset.csv(path: single.path) } throws: { error in
            guard case DataError.invalidArgument = error else { return false }
            return true
        }
    }

    // MARK: - IDX

    /// An IDX file: magic (0, 0, type, rank), big-endian UInt32 dimensions, then the payload.
    static func idx(type: UInt8, shape: [Int], payload: [UInt8]) -> Data {
        var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for d in shape { bytes += bigEndian(UInt32(d)) }
        return Data(bytes + payload)
    }

    static func bigEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.bigEndian) { Array($0) }
    }

    @Test func idxUnsignedBytesImagesAndLabels() throws {
        // Values above 127 check that 0x08 is unsigned.
        let pixels: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 128, 200, 255, 9, 10, 11, 12, 13, 14]
        let images = try IDXReader.parse(Self.idx(type: 0x08, shape: [2, 3, 3], payload: pixels))
        #expect(images.shape == [2, 3, 3])
        #expect(images.scalars == pixels.map(Float.init))
        let labels = try IDXReader.parse(Self.idx(type: 0x08, shape: [2], payload: [7, 3]))
        #expect(labels.shape == [2])
        #expect(labels.scalars == [7, 3])
    }

    @Test func idxReadsFromAFile() throws {
        let pixels: [UInt8] = (0..<18).map { UInt8($0 * 14) }
        let file = try TemporaryFile(Self.idx(type: 0x08, shape: [2, 3, 3], payload: pixels), suffix: "-images-idx3-ubyte")
        defer { file.remove() }
        let images = try IDXReader.read(path: file.path)
        #expect(images.shape == [2, 3, 3])
        #expect(images.scalars == pixels.map(Float.init))
    }

    @Test func idxSignedIntegerTypes() throws {
        let int32s: [Int32] = [-2, 0, 70_000, -100_000, 16_777_216, Int32.min]
        let i32 = try IDXReader.parse(Self.idx(type: 0x0C, shape: [2, 3], payload: int32s.flatMap { Self.bigEndian($0) }))
        #expect(i32.shape == [2, 3])
        // Each value has at most 24 significant bits, so Float32 holds it exactly.
        #expect(i32.scalars == int32s.map(Float.init))
        let int8s: [Int8] = [-1, 127, -128, 0]
        let i8 = try IDXReader.parse(Self.idx(type: 0x09, shape: [4], payload: int8s.map { UInt8(bitPattern: $0) }))
        #expect(i8.scalars == [-1, 127, -128, 0])
        let int16s: [Int16] = [-300, 1000, Int16.min, Int16.max]
        let i16 = try IDXReader.parse(Self.idx(type: 0x0B, shape: [2, 2], payload: int16s.flatMap { Self.bigEndian($0) }))
        #expect(i16.shape == [2, 2])
        #expect(i16.scalars == int16s.map(Float.init))
    }

    @Test func idxFloatingPointTypes() throws {
        let floats: [Float] = [1.5, -0.25, 3.14159, 1e-3, -7e20, 0]
        let f32 = try IDXReader.parse(Self.idx(type: 0x0D, shape: [3, 2], payload: floats.flatMap { Self.bigEndian($0.bitPattern) }))
        #expect(f32.shape == [3, 2])
        // Bit patterns round-trip: exact.
        #expect(f32.scalars == floats)
        let doubles: [Double] = [0.5, -2.75, 1e10, 0.1]
        let f64 = try IDXReader.parse(Self.idx(type: 0x0E, shape: [4], payload: doubles.flatMap { Self.bigEndian($0.bitPattern) }))
        #expect(f64.shape == [4])
        // Narrowed once to Float32, so equal to Float(d) exactly.
        #expect(f64.scalars == doubles.map(Float.init))
    }

    @Test func idxGzipIsRefusedWithAGunzipHint() throws {
        let gz = Data([0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 3])
        #expect { try IDXReader.parse(gz, path: "train-images.gz") } throws: { error in
            guard case let DataError.unsupported(path, reason) = error else { return false }
            return path == "train-images.gz" && reason.contains("gunzip")
        }
    }

    @Test func idxBadMagicAndUnknownTypeAreRefused() throws {
        var bad = [UInt8](Self.idx(type: 0x08, shape: [2], payload: [1, 2]))
        bad[0] = 1
        #expect { try IDXReader.parse(Data(bad), path: "bad.idx") } throws: { error in
            guard case let DataError.malformed(path, reason) = error else { return false }
            return path == "bad.idx" && reason.contains("magic")
        }
        #expect { try IDXReader.parse(Data([0, 0])) } throws: { "\($0)".contains("magic") }
        #expect { try IDXReader.parse(Self.idx(type: 0x0A, shape: [2], payload: [1, 2]), path: "t.idx") } throws: { error in
            guard case let DataError.unsupported(path, reason) = error else { return false }
            return path == "t.idx" && reason.contains("0xa")
        }
    }

    @Test func idxSizeMismatchNamesBothSizes() throws {
        // Shape [2, 3] of int32 needs 24 bytes; 20 are present.
        let short = Self.idx(type: 0x0C, shape: [2, 3], payload: [UInt8](repeating: 0, count: 20))
        #expect { try IDXReader.parse(short, path: "s.idx") } throws: { error in
            guard case let DataError.malformed(path, reason) = error else { return false }
            return path == "s.idx" && reason.contains("24") && reason.contains("20") && reason.contains("[2, 3]")
        }
        // Trailing bytes are refused too.
        let long = Self.idx(type: 0x08, shape: [2], payload: [1, 2, 3])
        #expect { try IDXReader.parse(long) } throws: { "\($0)".contains("2 bytes") && "\($0)".contains("3") }
        // A header that promises more dimensions than it holds.
        #expect { try IDXReader.parse(Data([0, 0, 0x08, 3, 0, 0, 0, 2])) } throws: { "\($0)".contains("truncated") }
    }

    @Test func idxMissingFileIsFileNotFound() throws {
        let path = missingPath("-idx1-ubyte")
        #expect(throws: DataError.fileNotFound(path: path)) { try IDXReader.read(path: path) }
    }
}
