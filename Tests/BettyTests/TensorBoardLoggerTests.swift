import Foundation
import Testing
import Betty
import BettyNN
import _TestSupport

@Suite struct TensorBoardLoggerTests {
    static func bytes(hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            result.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return result
    }

    /// Records written by TensorBoard's own Python writer (tensorboard 2.21:
    /// `RecordWriter(buf).write(event_pb2.Event(...).SerializeToString())`, its CRC the pure-Python
    /// `masked_crc32c`), byte for byte.
    @Test func recordsMatchTensorBoardsOwnWriter() {
        let version = TensorBoardRecords.framed(TensorBoardRecords.fileVersionEvent(wallTime: 1_700_000_000.5))
        #expect(version == Self.bytes(hex: "1800000000000000a37f4b220900002040fc54d9411a0d627261696e2e4576656e743a322b353110"))
        let scalars = TensorBoardRecords.framed(TensorBoardRecords.scalarEvent(
            wallTime: 1_700_000_001.25, step: 12, [("inner/loss", 0.5), ("hypergradient_norm/inner", 0.25)]))
        #expect(scalars == Self.bytes(hex: "410000000000000000a9c2ab0900005040fc54d941100c2a340a110a0a696e6e65722f6c6f7373150000003f0a1f0a18"
                                           + "68797065726772616469656e745f6e6f726d2f696e6e6572150000803e2cac94fc"))
        // The masked CRC of nothing is the mask's constant; of the check string, TensorBoard's value.
        #expect(TensorBoardRecords.maskedCRC([]) == 0xA282_EAD8)
        #expect(TensorBoardRecords.maskedCRC(Array("123456789".utf8)) == 0xC78A_B0E5)
        #expect(EventFileReader.maskedCRC(Array("123456789".utf8)) == 0xC78A_B0E5)
        // A step past 2^28 takes a five-byte varint, and reads back.
        let big = TensorBoardRecords.framed(TensorBoardRecords.scalarEvent(wallTime: 0, step: 1 << 33, [("a", -1)]))
        #expect((try? EventFileReader.events(big)) == [EventFileReader.Event(wallTime: 0, step: 1 << 33, values: [.init(tag: "a", value: -1)])])
    }

    static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("betty-tb-\(UUID().uuidString)").path
    }

    static func read(_ logger: TensorBoardLogger) throws -> [EventFileReader.Event] {
        try EventFileReader.events(Array(try Data(contentsOf: URL(fileURLWithPath: logger.path))))
    }

    @Test func eventsBecomeOneTagPerProblemAndMetric() throws {
        // A directory two levels down that does not exist yet is created, as PyTorch's SummaryWriter does.
        let root = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let logger = try TensorBoardLogger(directory: root + "/runs/a", flushInterval: .seconds(3600))
        let name = URL(fileURLWithPath: logger.path).lastPathComponent
        #expect(name.hasPrefix("events.out.tfevents.") && logger.path.hasPrefix(root + "/runs/a/"), "\(logger.path)")
        let seconds = Int(name.split(separator: ".")[3])!
        #expect(abs(Double(seconds) - Date().timeIntervalSince1970) < 60)

        // Written at once: the file-version record, so a TensorBoard started now sees the run.
        let first = try Self.read(logger)
        #expect(first.count == 1 && first[0].fileVersion == "brain.Event:2", "\(first)")
        #expect(abs(first[0].wallTime! - Date().timeIntervalSince1970) < 60)

        func step(_ global: Int, _ problem: String, _ loss: Float, norm: Float? = nil, live: Int, metrics: [String: Float] = [:]) -> EngineEvent {
            .step(StepEvent(globalStep: global, problem: problem, localStep: global, loss: loss, hypergradientNorm: norm,
                            liveBytes: live, peakBytes: 2 * live, optimizerStepped: true, metrics: metrics))
        }
        logger.log(step(1, "inner", 0.75, live: 100, metrics: ["acc": 0.5]))
        logger.log(step(1, "outer", 0.5, norm: 0.125, live: 300))
        logger.log(step(2, "inner", 0.625, live: 200, metrics: ["acc": 0.625]))
        logger.log(.validation(globalStep: 2, metrics: ["loss": 0.25, "acc": 1]))
        logger.log(.stopped(globalStep: 2, reason: "early stopping on loss"))
        logger.log([("custom/x", 7)], step: 2)
        // Nothing more until the interval has passed or the logger is flushed.
        #expect(try Self.read(logger).count == 1)
        logger.flush()
        let events = try Self.read(logger)
        let scalars = EventFileReader.scalars(events)
        func series(_ tag: String) -> [String] { (scalars[tag] ?? []).map { "\($0.step):\($0.value)" } }
        #expect(Set(scalars.keys) == ["inner/loss", "inner/acc", "outer/loss", "hypergradient_norm/outer", "validation/loss",
                                      "validation/acc", "memory/live_bytes", "memory/peak_bytes", "custom/x"])
        #expect(series("inner/loss") == ["1:0.75", "2:0.625"])
        #expect(series("inner/acc") == ["1:0.5", "2:0.625"])
        #expect(series("outer/loss") == ["1:0.5"])
        #expect(series("hypergradient_norm/outer") == ["1:0.125"])
        #expect(series("validation/acc") == ["2:1.0"] && series("validation/loss") == ["2:0.25"])
        // Once per global step, after its last problem.
        #expect(series("memory/live_bytes") == ["1:300.0", "2:200.0"])
        #expect(series("memory/peak_bytes") == ["1:600.0", "2:400.0"])
        #expect(series("custom/x") == ["2:7.0"])
        let times = events.compactMap(\.wallTime)
        #expect(times.count == events.count && zip(times, times.dropFirst()).allSatisfy { $0 <= $1 + 1 })

        // After close the file is complete and later events are ignored.
        logger.close()
        logger.log(step(3, "inner", 0.5, live: 1))
        logger.flush()
        #expect(try Self.read(logger).count == events.count)
        #expect(logger.failure == nil)
    }

    @Test func writesAtTheIntervalAsEventsArriveAndWhenReleased() throws {
        let root = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var path = ""
        do {
            let logger = try TensorBoardLogger(directory: root, flushInterval: .zero)
            path = logger.path
            logger.log(.validation(globalStep: 5, metrics: ["acc": 0.5]))
            // With no interval every event is written as it arrives.
            #expect(try Self.read(logger).count == 2)
            logger.log(.step(StepEvent(globalStep: 6, problem: "p", localStep: 6, loss: 1, hypergradientNorm: nil,
                                       liveBytes: 8, peakBytes: 16, optimizerStepped: true)))
            #expect(try Self.read(logger).count == 3)
        }
        // Released: the pending memory of step 6 is written too.
        let events = try EventFileReader.events(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(EventFileReader.scalars(events)["memory/live_bytes"].map { $0.map(\.step) } == [6])
    }

    @Test func twoLoggersInOneDirectoryWriteTwoFiles() throws {
        let root = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = try TensorBoardLogger(directory: root)
        let b = try TensorBoardLogger(directory: root)
        #expect(a.path != b.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.contains("tfevents") }.count == 2)
    }

    @Test func aDirectoryThatCannotBeOneIsRefused() throws {
        #expect(throws: FileIOError(path: "/dev/null", operation: .write, reason: .notADirectory(.characterDevice))) {
            try TensorBoardLogger(directory: "/dev/null")
        }
        #expect("\(FileIOError(path: "/dev/null", operation: .write, reason: .notADirectory(.characterDevice)))"
                == "cannot write /dev/null: it is a character device, not a directory")
        #expect(throws: FileIOError(path: "/dev/null/runs", operation: .write, reason: .system(ENOTDIR))) {
            try TensorBoardLogger(directory: "/dev/null/runs")
        }
    }
}
