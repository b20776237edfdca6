import Foundation
import Testing
import BettyTensor
import BettyNN

/// Files whose headers lie: each is refused with a `DataError` naming the file and what the header
/// declared, before anything is allocated for it, and never traps.
@Suite struct HostileFileTests {
    private static let largest = Int(Int32.max)

    /// An npy file with a header of exactly these bytes (version 1, no padding).
    private static func npy(header: [UInt8], payload: [UInt8] = []) -> Data {
        Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header + payload)
    }

    private static func reason(_ error: any Error) -> String {
        switch error as? DataError {
        case let .malformed(_, reason)?, let .unsupported(_, reason)?: reason
        default: "\(error)"
        }
    }

    // MARK: - IDX

    @Test func idxDimensionsWhoseProductOverflowsAreASizeMismatch() throws {
        // 2^31 - 1 four times over: the element count overflows 64 bits (this trapped).
        let data = ReaderTests.idx(type: 0x0D, shape: [Self.largest, Self.largest, Self.largest, Self.largest], payload: [1, 2, 3, 4])
        #expect { try IDXReader.parse(data, path: "huge.idx") } throws: { error in
            guard case let DataError.malformed(path, reason) = error else { return false }
            return path == "huge.idx" && reason.contains("[2147483647, 2147483647, 2147483647, 2147483647]")
                && reason.contains("more than 2^63 bytes") && reason.contains("holds 4 bytes")
        }
        // Three dimensions of 100000: no overflow, and still not what the file holds.
        let big = ReaderTests.idx(type: 0x08, shape: [100_000, 100_000, 100_000], payload: [0])
        #expect { try IDXReader.parse(big, path: "big.idx") } throws: { error in
            Self.reason(error).contains("1000000000000000 bytes") && Self.reason(error).contains("holds 1 bytes")
        }
    }

    @Test func idxDimensionAboveWhatAShapeHoldsIsRefused() throws {
        // 0xFFFFFFFF one-byte elements would be a 4 GB file; the header alone is refused.
        let data = ReaderTests.idx(type: 0x08, shape: [Int(UInt32.max)], payload: [])
        #expect { try IDXReader.parse(data, path: "wide.idx") } throws: { error in
            guard case let DataError.unsupported(path, reason) = error else { return false }
            return path == "wide.idx" && reason.contains("4294967295") && reason.contains("above 2147483647")
        }
    }

    @Test func idxZeroDimensionHoldsNoSamples() throws {
        let data = ReaderTests.idx(type: 0x08, shape: [0, 28, 28], payload: [])
        #expect { try IDXReader.parse(data, path: "empty.idx") } throws: { error in
            Self.reason(error).contains("[0, 28, 28]") && Self.reason(error).contains("no elements")
        }
    }

    @Test func idxTruncatedHeaderSaysHowManyBytesItNeeds() throws {
        // Rank 3 needs 16 header bytes; the file has 8.
        #expect { try IDXReader.parse(Data([0, 0, 0x08, 3, 0, 0, 0, 2]), path: "cut.idx") } throws: { error in
            Self.reason(error).contains("truncated header") && Self.reason(error).contains("16") && Self.reason(error).contains("8")
        }
    }

    @Test func idxThatDoesNotFitInMemoryIsRefusedBeforeAllocating() throws {
        defer { MemoryBudget.limit = nil }
        let file = try TemporaryFile(ReaderTests.idx(type: 0x08, shape: [64, 64], payload: [UInt8](repeating: 1, count: 4096)), suffix: ".idx")
        defer { file.remove() }
        MemoryBudget.limit = MemoryStats.liveBytes + 8192
        // 4096 bytes of file fit; 4096 floats (16 KB) do not.
        #expect { try IDXReader.read(path: file.path) } throws: { error in
            guard case let DataError.tooLarge(exceeded) = error else { return false }
            return exceeded.floats == 4096 && exceeded.purpose.contains(file.path) && exceeded.purpose.contains("[64, 64]")
        }
    }

    // MARK: - NPY

    @Test func npyShapeWhoseProductOverflowsIsASizeMismatch() throws {
        let data = DataTests.npy(descr: "<f4", shape: "(2147483647, 2147483647, 2147483647)", payload: [0, 0, 0, 0])
        #expect { try NPYReader.parse(data, path: "huge.npy") } throws: { error in
            guard case let DataError.malformed(path, reason) = error else { return false }
            return path == "huge.npy" && reason.contains("more than 2^63 bytes") && reason.contains("holds 4 bytes")
        }
    }

    @Test func npyDimensionAboveWhatAShapeHoldsIsRefused() throws {
        let data = DataTests.npy(descr: "|u1", shape: "(4294967296,)", payload: [])
        #expect { try NPYReader.parse(data, path: "wide.npy") } throws: { Self.reason($0).contains("above 2147483647") }
    }

    @Test func npyNegativeAndZeroDimensionsAreRefused() throws {
        let negative = DataTests.npy(descr: "<f4", shape: "(-3, 2)", payload: [])
        #expect { try NPYReader.parse(negative, path: "n.npy") } throws: { Self.reason($0).contains("negative dimension") }
        let zero = DataTests.npy(descr: "<f4", shape: "(0, 2)", payload: [])
        #expect { try NPYReader.parse(zero, path: "z.npy") } throws: { Self.reason($0).contains("no elements") }
        let words = DataTests.npy(descr: "<f4", shape: "(two,)", payload: [])
        #expect { try NPYReader.parse(words, path: "w.npy") } throws: { Self.reason($0).contains("not a tuple of integers") }
    }

    @Test func npyAbsurdHeaderLengthIsRefused() throws {
        // Version 2 announces a 4 GB header in a 16-byte file.
        let data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0xF0, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D, 0x20, 0x0A])
        #expect { try NPYReader.parse(data, path: "long.npy") } throws: { error in
            Self.reason(error).contains("4294967280") && Self.reason(error).contains("10000")
        }
        // Within the cap but past the end of the file.
        let short = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 100, 0, 0x7B, 0x7D])
        #expect { try NPYReader.parse(short, path: "short.npy") } throws: { error in
            Self.reason(error).contains("truncated header") && Self.reason(error).contains("100 bytes announced, 2 in the file")
        }
    }

    @Test func npyHeaderThatIsNotUTF8IsRefused() throws {
        let data = Self.npy(header: Array("{'descr': '<f4', ".utf8) + [0xFF, 0xFE] + Array("}\n".utf8))
        #expect { try NPYReader.parse(data, path: "bin.npy") } throws: { Self.reason($0).contains("not valid UTF-8") }
    }

    @Test func npyFortranOrderMustBeTrueOrFalse() throws {
        let data = Self.npy(header: Array("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }\n".utf8), payload: [0, 0, 0, 0])
        #expect { try NPYReader.parse(data, path: "m.npy") } throws: { Self.reason($0).contains("fortran_order is Maybe") }
    }

    @Test func npyThatDoesNotFitInMemoryIsRefusedBeforeAllocating() throws {
        defer { MemoryBudget.limit = nil }
        let file = try TemporaryFile(DataTests.npy(descr: "|u1", shape: "(4096,)", payload: [UInt8](repeating: 7, count: 4096)), suffix: ".npy")
        defer { file.remove() }
        MemoryBudget.limit = MemoryStats.liveBytes + 8192
        #expect { try NPYReader.read(path: file.path) } throws: { error in
            guard case let DataError.tooLarge(exceeded) = error else { return false }
            return exceeded.floats == 4096 && exceeded.purpose.contains("[4096]")
        }
    }

    // MARK: - Any file

    @Test func aDirectoryOrADeviceIsNotADataFile() throws {
        let directory = FileManager.default.temporaryDirectory.path
        #expect { try NPYReader.read(path: directory) } throws: { Self.reason($0).contains("is a directory") }
        #expect { try IDXReader.read(path: directory) } throws: { Self.reason($0).contains("is a directory") }
        #expect { try CSVReader.read(path: directory) } throws: { Self.reason($0).contains("is a directory") }
        // A device has no size and may never end (/dev/zero); /dev/null stands for it here.
        #expect { try IDXReader.read(path: "/dev/null") } throws: { Self.reason($0).contains("not a regular file") }
    }

    // MARK: - CSV

    @Test func csvWithAHeaderAndNoRowsIsRefused() throws {
        let file = try TemporaryFile("a,b,label\n\n")
        defer { file.remove() }
        #expect { try Dataset.csv(path: file.path) } throws: { Self.reason($0).contains("header row but no data rows") }
    }

    @Test func csvTextFirstRowReadAsDataSaysSo() throws {
        let file = try TemporaryFile("x,y\n1,2\n")
        defer { file.remove() }
        #expect { try CSVReader.read(path: file.path, hasHeader: false) } throws: { error in
            let reason = Self.reason(error)
            return reason.contains("line 1, column 1: 'x' is not a number") && reason.contains("the first row is read as data")
        }
        // A bad field further down says nothing about the header.
        let later = try TemporaryFile("1,2\n3,z\n")
        defer { later.remove() }
        #expect { try CSVReader.read(path: later.path) } throws: { !Self.reason($0).contains("header") }
    }

    @Test func csvFirstNonNumericFieldIsWhatMakesAHeader() {
        #expect(CSVReader.firstNonNumericField(["1", "2.5", "-3e2"]) == nil)
        let field = CSVReader.firstNonNumericField(["1", "width", "height"])
        #expect(field?.column == 1 && field?.text == "width")
    }

    @Test func csvThatDoesNotFitInMemoryIsRefused() throws {
        defer { MemoryBudget.limit = nil }
        let file = try TemporaryFile(String(repeating: "1,2,3,4\n", count: 1000))
        defer { file.remove() }
        // The 8000-byte file fits; its 4000 values (16 KB) do not.
        MemoryBudget.limit = MemoryStats.liveBytes + 10_000
        #expect { try CSVReader.read(path: file.path) } throws: { error in
            guard case let DataError.tooLarge(exceeded) = error else { return false }
            return exceeded.floats == 4000 && exceeded.purpose.contains("1000 rows of 4 fields")
        }
    }

    // MARK: - Generators

    @Test func generatorsRefuseWhatDoesNotFitBeforeAllocating() throws {
        #expect { try Dataset.logistic(samples: 1_000_000_000, features: 1_000_000, seed: 0) } throws: { error in
            guard case let DataError.tooLarge(exceeded) = error else { return false }
            return exceeded.purpose == "logistic data of 1000000000 samples x 1000000 features" && exceeded.floats == 1_000_003_001_000_000
        }
        var tasks = SinusoidTasks(seed: 0)
        #expect { try tasks.pool(count: 1_000_000_000, support: 10, query: 10) } throws: { error in
            guard case DataError.tooLarge = error else { return false }
            return true
        }
        // Past an axis's capacity, the refusal is either the memory or the axis, never a trap.
        #expect(throws: DataError.self) { try Dataset.logistic(samples: 3_000_000_000, features: 1, seed: 0) }
    }
}
