import Foundation
import Testing
import BettyNN
import BettyTensor
import Betty

/// A two-level program with every kind of state a checkpoint keeps: a BatchNorm's running statistics
/// (buffers), a Dropout's generator, Adam's moments and step counts on the inner level with a
/// learning-rate schedule, momentum on the outer one, shuffled loaders that roll over epochs
/// mid-run, accumulated gradients (inner windows of 2 unrolled × 2 accumulated steps), ready flags
/// held between steps (the outer level waits for both lowers: inner every 4 steps, aux every 3), and
/// optionally roll-back (window-start copies).
enum TinyHPO {
    static func make(hidden: Int = 6, innerName: String = "inner", rollBack: Bool = false) throws -> Engine {
        var gen = RandomGenerator(seed: 11)
        let wTrue = Tensor.randomNormal([4], using: &gen)
        let x = Tensor.randomNormal([64, 4], using: &gen)
        let y = try x.matmul(wTrue) + Tensor.randomNormal([64], std: 0.1, using: &gen)
        let all = try Dataset(x: x, y: y)
        let train = try all.subset(Array(0..<40)), valid = try all.subset(Array(40..<64))

        let model = Sequential([
            Linear(4, hidden, using: &gen), BatchNorm(hidden), Activation(.tanh), Dropout(0.25, seed: 3),
            Linear(hidden, 1, using: &gen),
        ])
        let decay = ParameterTensor(Tensor([-2]))
        var innerConfig = ProblemConfig()
        innerConfig.unrollSteps = 2
        innerConfig.gradientAccumulation = 2
        let inner = Problem(name: innerName, module: model, optimizer: Adam(model.parameters, learningRate: 0.05),
                            data: [try DataLoader(train, batchSize: 16, seed: 1)], config: innerConfig,
                            schedule: .step(stepSize: 3, gamma: 0.7)) { p, batch in
            let prediction = try model(batch.x).reshaped(to: [-1])
            let first = model.layers[0].parameters[0].value
            return try mseLoss(prediction, batch.y) + exp(p["outer"].parameters[0]) * (first * first).sum()
        }
        let outer = Problem(name: "outer", module: decay, optimizer: SGD(decay.parameters, learningRate: 0.05, momentum: 0.9),
                            data: [try DataLoader(valid, batchSize: 10, seed: 2)]) { p, batch in
            let a = p["aux"].parameters[0] - 0.8
            return try mseLoss(p[innerName].module(batch.x).reshaped(to: [-1]), batch.y) + 0.1 * (a * a).sum()
        }
        let auxModule = ParameterTensor(Tensor([0.5, -0.5]))
        var auxConfig = ProblemConfig()
        auxConfig.unrollSteps = 3
        let aux = Problem(name: "aux", module: auxModule, optimizer: SGD(auxModule.parameters, learningRate: 0.1),
                          data: [try DataLoader(valid, batchSize: 8, seed: 4)], config: auxConfig) { p, _ in
            let a = p.parameters[0]
            return try ((a - 1) * (a - 1)).sum() + exp(p["outer"].parameters[0]) * (a * a).sum()
        }
        var config = EngineConfig()
        config.rollBack = rollBack
        return try Engine(problems: [outer, inner, aux], u2l: ["outer": [innerName, "aux"]],
                          l2u: [innerName: ["outer"], "aux": ["outer"]], config: config)
    }
}

/// What a step reports, without memory and time.
private struct StepRecord: Equatable, CustomStringConvertible {
    var globalStep: Int
    var problem: String
    var localStep: Int
    var loss: UInt32
    var hypergradientNorm: UInt32?
    var optimizerStepped: Bool

    init(_ e: StepEvent) {
        globalStep = e.globalStep
        problem = e.problem
        localStep = e.localStep
        loss = e.loss.bitPattern
        hypergradientNorm = e.hypergradientNorm?.bitPattern
        optimizerStepped = e.optimizerStepped
    }

    var description: String { "\(problem)@\(globalStep)/\(localStep) loss \(Float(bitPattern: loss))" }
}

private final class StepLog: @unchecked Sendable {
    var records: [StepRecord] = []
    init(_ engine: Engine) {
        engine.subscribe { event in if case let .step(e) = event { self.records.append(StepRecord(e)) } }
    }
}

/// Every value a load may change, read through the public API, as bit patterns.
func snapshot(_ engine: Engine) -> [String] {
    func bits(_ t: Tensor) -> String { "\(t.shape) " + t.scalars.map { String($0.bitPattern, radix: 16) }.joined(separator: ",") }
    var out = ["global \(engine.globalStep)"]
    for p in engine.problems {
        out.append("\(p.name) local \(p.localStep) lr \(p.optimizer.learningRate.bitPattern) last \(String(describing: p.lastLoss))")
        out += p.module.namedParameters.map { "\(p.name).\($0.name) \(bits($0.parameter.value))" }
        out += p.module.namedBuffers.map { "\(p.name).\($0.name) \(bits($0.buffer.value))" }
        for (i, state) in p.optimizer.states.enumerated() {
            out.append("\(p.name) state \(i) step \(state.step)")
            out += state.tensors.keys.sorted().map { "\(p.name) state \(i) \($0) \(bits(state.tensors[$0]!))" }
        }
        out += p.loaders.map { "\(p.name) loader \($0.state)" }
    }
    return out
}

func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("betty-checkpoint-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try body(directory)
}

/// A safetensors reader written from the format's description alone, sharing no code with the
/// library's: the 8-byte little-endian length, a JSON header via JSONSerialization, raw data.
struct IndependentFile {
    struct Entry { var name: String; var dtype: String; var shape: [Int]; var begin: Int; var end: Int }
    var headerSize: Int
    var headerText: String
    var entries: [Entry]  // sorted by begin
    var metadata: [String: String]
    var data: Data

    init(_ bytes: Data) throws {
        let n = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        headerSize = n
        let header = bytes.subdata(in: 8..<(8 + n))
        headerText = String(decoding: header, as: UTF8.self)
        let object = try #require(try JSONSerialization.jsonObject(with: header) as? [String: Any])
        metadata = try #require(object["__metadata__"] as? [String: String])
        entries = []
        for (name, value) in object where name != "__metadata__" {
            let info = try #require(value as? [String: Any])
            let offsets = try #require(info["data_offsets"] as? [Int])
            entries.append(Entry(name: name, dtype: try #require(info["dtype"] as? String),
                                 shape: try #require(info["shape"] as? [Int]), begin: offsets[0], end: offsets[1]))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        data = bytes.subdata(in: (8 + n)..<bytes.count)
    }

    func floats(_ entry: Entry) -> [Float] {
        stride(from: entry.begin, to: entry.end, by: 4).map { offset in
            Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(data[offset + $1]) << (8 * UInt32($1)) })
        }
    }

    /// Writes `entries` (with raw bytes) in the given order, headers built by JSONSerialization.
    static func write(_ entries: [(name: String, dtype: String, shape: [Int], bytes: Data)], metadata: [String: String]) throws -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        var data = Data()
        for e in entries {
            header[e.name] = ["dtype": e.dtype, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count]] as [String: Any]
            offset += e.bytes.count
            data.append(e.bytes)
        }
        var json = try JSONSerialization.data(withJSONObject: header)
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data()
        for i in 0..<8 { out.append(UInt8((json.count >> (8 * i)) & 0xFF)) }
        return out + json + data
    }
}

@Suite struct CheckpointTests {
    /// k steps, save, m more steps; a fresh engine built the same way, loaded, runs the same m steps
    /// with bit-identical losses, hypergradient norms and final state. Step 7 is inside an inner
    /// window that started at 5 (with an optimizer step at 6, so its roll-back copy differs from the
    /// current parameters), mid-accumulation, and with aux's ready flag set at 6 still held.
    @Test(arguments: [false, true])
    func aRestoredRunContinuesBitForBit(rollBack: Bool) throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let original = try TinyHPO.make(rollBack: rollBack)
            try original.run(iterations: 7)
            try original.saveCheckpoint(to: path, metadata: ["note": "after 7 steps"])
            let continued = StepLog(original)
            try original.run(iterations: 6)

            let restored = try TinyHPO.make(rollBack: rollBack)
            let tensorCount = try SafeTensors.read(path: path).tensors.count
            #expect(try restored.loadCheckpoint(from: path)
                    == LoadedCheckpoint(metadata: ["note": "after 7 steps"], tensorCount: tensorCount, uncheckedTensors: []))
            #expect(restored.globalStep == 7)
            #expect(restored.problem(named: "inner")?.localStep == 7)
            let resumed = StepLog(restored)
            try restored.run(iterations: 6)

            // The outer level steps once both lowers have triggered since its last step.
            #expect(continued.records.filter { $0.problem == "outer" }.map(\.globalStep) == [8, 12])
            #expect(resumed.records == continued.records)
            #expect(snapshot(restored) == snapshot(original))
        }
    }

    /// The checkpoint at step 7 is mid-window: it must hold accumulated gradients (7 is odd with
    /// accumulation 2), roll-back copies, the buffers, both optimizers' state, the latest batch and
    /// the outer level's ready flags (aux triggered at 6, inner not yet).
    @Test func theFileHoldsEveryKindOfState() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let engine = try TinyHPO.make(rollBack: true)
            try engine.run(iterations: 7)
            try engine.saveCheckpoint(to: path)
            let (tensors, metadata) = try SafeTensors.read(path: path)
            let names = Set(tensors.map(\.0))
            for name in ["inner.0.weight", "inner.4.bias", "outer.value", "inner.1.running_mean", "inner.1.running_var",
                         "inner.1.num_batches_tracked", "inner.optimizer.0.weight.exp_avg", "inner.optimizer.0.weight.exp_avg_sq",
                         "inner.optimizer.0.weight.last_grad", "outer.optimizer.value.momentum_buffer",
                         "inner.accumulated.0.weight", "inner.rollback.0.weight", "inner.rollback.optimizer.0.weight.exp_avg",
                         "inner.batch.x", "inner.batch.y", "outer.batch.x", "aux.value", "aux.rollback.value"] {
                #expect(names.contains(name), "\(name) in \(names.sorted())")
            }
            #expect(metadata["betty.global_step"] == "7")
            func record(_ problem: String) throws -> [String: Any] {
                let text = try #require(metadata["betty.problem." + problem])
                return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            }
            #expect(try record("outer")["ready"] as? [Bool] == [false, true], "aux has triggered the outer level, inner not yet")
            let state = try record("inner")
            #expect(state["localStep"] as? Int == 7)
            #expect(state["innerLoopStart"] as? Bool == false)
            #expect((state["loaders"] as? [[String: Any]])?.first?["order"] is [Int], "a shuffled loader keeps its epoch order")
            #expect((state["generators"] as? [[String: Any]])?.first?["module"] as? String == "3")
        }
    }

    @Test func logisticHPOInReverseModeResumesBitForBit() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/hpo.safetensors"
            let original = try LogisticHPO(method: .reverse, seed: 0, unroll: 3)
            try original.engine.run(iterations: 3)
            try original.engine.saveCheckpoint(to: path)
            let continued = StepLog(original.engine)
            try original.engine.run(iterations: 4)

            let restored = try LogisticHPO(method: .reverse, seed: 0, unroll: 3)
            try restored.engine.loadCheckpoint(from: path)
            let resumed = StepLog(restored.engine)
            try restored.engine.run(iterations: 4)
            #expect(resumed.records == continued.records)
            #expect(try restored.validationLoss().bitPattern == original.validationLoss().bitPattern)
            #expect(restored.decays.value.scalars.map(\.bitPattern) == original.decays.value.scalars.map(\.bitPattern))
        }
    }

    @Test func saveIsRefusedInsideAnOpenReverseModeWindow() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/hpo.safetensors"
            let program = try LogisticHPO(method: .reverse, seed: 0, unroll: 3)
            try program.engine.run(iterations: 3)
            try program.engine.saveCheckpoint(to: path)
            let before = FileManager.default.contents(atPath: path)
            try program.engine.step()
            #expect(throws: CheckpointError.openUnrolledWindow(problem: "inner", localStep: 4, stepsToClose: 2)) {
                try program.engine.saveCheckpoint(to: path)
            }
            let message = "\(CheckpointError.openUnrolledWindow(problem: "inner", localStep: 4, stepsToClose: 2))"
            #expect(message.contains("reverse-mode problem 'inner'") && message.contains("open unrolled window")
                    && message.contains("cannot be serialized") && message.contains("2 more local steps"))
            #expect(FileManager.default.contents(atPath: path) == before, "the earlier checkpoint is untouched")
            try program.engine.run(iterations: 2)
            try program.engine.saveCheckpoint(to: path)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["hpo.safetensors"], "no temporary files are left")
        }
    }

    @Test func aDifferentlyShapedEngineGetsEveryMismatchAndKeepsItsState() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let saved = try TinyHPO.make(hidden: 6)
            try saved.run(iterations: 5)
            try saved.saveCheckpoint(to: path)

            let other = try TinyHPO.make(hidden: 5)
            try other.run(iterations: 2)
            let before = snapshot(other)
            let caught = #expect(throws: CheckpointError.self) { try other.loadCheckpoint(from: path) }
            guard case let .mismatch(_, mismatches) = try #require(caught) else {
                Issue.record("expected a mismatch, got \(String(describing: caught))")
                return
            }
            // Shapes that depend on the hidden width: 5 parameters, 2 running statistics, Adam's 3
            // state tensors per parameter, and the 5 accumulated gradients (step 5 is mid-accumulation).
            #expect(mismatches.count == 5 + 2 + 15 + 5, "\(mismatches)")
            #expect(mismatches.allSatisfy { if case .wrongShape = $0 { true } else { false } })
            #expect(mismatches.contains(.wrongShape(name: "inner.0.weight", expected: [5, 4], found: [6, 4])))
            #expect(mismatches.contains(.wrongShape(name: "inner.1.running_var", expected: [5], found: [6])))
            #expect(mismatches.contains(.wrongShape(name: "inner.optimizer.4.weight.exp_avg_sq", expected: [1, 5], found: [1, 6])))
            #expect(mismatches.contains(.wrongShape(name: "inner.accumulated.0.bias", expected: [5], found: [6])))
            let lines = "\(try #require(caught))".split(separator: "\n")
            #expect(lines.count == 1 + mismatches.count, "a header line, then one line per mismatch")
            #expect(lines.dropFirst().allSatisfy { $0.contains("expected shape [") && $0.contains("found [") })
            #expect(snapshot(other) == before, "nothing was loaded")
        }
    }

    @Test func aRenamedProblemIsReportedAsMissingAndUnexpected() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let saved = try TinyHPO.make()
            try saved.run(iterations: 4)
            try saved.saveCheckpoint(to: path)
            let renamed = try TinyHPO.make(innerName: "learner")
            let before = snapshot(renamed)
            let error = #expect(throws: CheckpointError.self) { try renamed.loadCheckpoint(from: path) }
            guard case let .mismatch(_, mismatches) = error else {
                Issue.record("expected a mismatch, got \(String(describing: error))")
                return
            }
            #expect(mismatches.contains(.missingProblem("learner")))
            #expect(mismatches.contains { if case .unexpectedProblem("inner", let n) = $0 { n > 10 } else { false } })
            #expect(mismatches.contains { if case .wrongState("level graph", _, _) = $0 { true } else { false } })
            #expect(!mismatches.contains { if case .unexpectedTensor = $0 { true } else { false } }, "its tensors are not listed one by one")
            #expect(snapshot(renamed) == before)
        }
    }

    /// A file edited outside the library: one tensor dropped, one added, one retyped, one reshaped,
    /// all four reported together.
    @Test func missingUnexpectedRetypedAndReshapedTensorsAreAllReported() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let saved = try TinyHPO.make()
            try saved.run(iterations: 4)
            try saved.saveCheckpoint(to: path)
            let file = try IndependentFile(try #require(FileManager.default.contents(atPath: path)))
            var edited: [(name: String, dtype: String, shape: [Int], bytes: Data)] = []
            for e in file.entries where e.name != "outer.value" {
                let bytes = file.data.subdata(in: e.begin..<e.end)
                switch e.name {
                case "inner.0.bias": edited.append((e.name, "I32", e.shape, bytes))
                case "inner.4.bias": edited.append((e.name, e.dtype, [1, 1], bytes))
                default: edited.append((e.name, e.dtype, e.shape, bytes))
                }
            }
            edited.append(("outer.extra", "F32", [2], Data(count: 8)))
            try IndependentFile.write(edited, metadata: file.metadata).write(to: URL(fileURLWithPath: path))

            let engine = try TinyHPO.make()
            let before = snapshot(engine)
            let caught = #expect(throws: CheckpointError.self) { try engine.loadCheckpoint(from: path) }
            guard case let .mismatch(_, mismatches) = try #require(caught) else {
                Issue.record("expected a mismatch, got \(String(describing: caught))")
                return
            }
            #expect(Set(mismatches.map(\.description)) == Set([
                CheckpointMismatch.missingTensor(name: "outer.value", expectedShape: [1]),
                .unexpectedTensor(name: "outer.extra", dtype: "F32", shape: [2]),
                .wrongDType(name: "inner.0.bias", expected: "F32", found: "I32"),
                .wrongShape(name: "inner.4.bias", expected: [1], found: [1, 1]),
            ].map(\.description)))
            #expect(mismatches.count == 4)
            #expect(snapshot(engine) == before)
            let text = "\(try #require(caught))"
            #expect(text.contains("tensor 'outer.value': expected shape [1], found no such tensor"))
            #expect(text.contains("tensor 'inner.0.bias': expected dtype F32, found I32"))
        }
    }

    @Test func aMissingFileIsAClearError() throws {
        try withTemporaryDirectory { directory in
            let engine = try TinyHPO.make()
            let path = directory + "/nope.safetensors"
            let missing = CheckpointError.file(FileIOError(path: path, operation: .read, reason: .system(ENOENT)))
            #expect(throws: missing) { try engine.loadCheckpoint(from: path) }
            #expect("\(missing)" == "cannot read \(path): no such file")
            #expect(throws: missing) { try SafeTensors.read(path: path) }
        }
    }

    @Test func truncatedOrCorruptFilesAreClearErrorsAndChangeNothing() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let saved = try TinyHPO.make()
            try saved.run(iterations: 3)
            try saved.saveCheckpoint(to: path)
            let bytes = try #require(FileManager.default.contents(atPath: path))
            let headerEnd = 8 + (try IndependentFile(bytes)).headerSize

            let engine = try TinyHPO.make()
            try engine.run(iterations: 1)
            let before = snapshot(engine)
            let broken = directory + "/broken.safetensors"
            var variants: [(String, Data)] = [0, 3, 8, 8 + (headerEnd - 8) / 2, headerEnd, headerEnd + 5, bytes.count - 4, bytes.count - 1]
                .map { ("first \($0) bytes", bytes.prefix($0)) }
            variants.append(("trailing bytes", bytes + Data([0, 0, 0, 0])))
            var hugeLength = bytes
            hugeLength.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 0, 0, 0x80])
            variants.append(("a huge header length", hugeLength))
            var notJSON = bytes
            notJSON[8] = UInt8(ascii: "[")
            variants.append(("a header that is not a JSON object", notJSON))
            for (what, data) in variants {
                try data.write(to: URL(fileURLWithPath: broken))
                let error = #expect(throws: CheckpointError.self, "\(what)") { try engine.loadCheckpoint(from: broken) }
                if case .corrupt = error {
                    #expect("\(error!)".hasPrefix("checkpoint '\(broken)' is truncated or corrupt: "))
                } else {
                    Issue.record("\(what): expected a corrupt-file error, got \(String(describing: error))")
                }
                #expect(snapshot(engine) == before, "\(what)")
            }
        }
    }

    @Test func userMetadataRoundTripsAndEngineKeysAreReserved() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/tiny.safetensors"
            let engine = try TinyHPO.make()
            let metadata = ["run": "tiny", "config": "{\"hidden\": 6}"]
            try engine.saveCheckpoint(to: path, metadata: metadata)
            #expect(try TinyHPO.make().loadCheckpoint(from: path).metadata == metadata)
            #expect(throws: CheckpointError.self) { try engine.saveCheckpoint(to: path, metadata: ["betty.mine": "x"]) }
            // A plain safetensors file is not an engine checkpoint.
            try SafeTensors.write(tensors: [("outer.value", Tensor([0]))], metadata: [:], to: path)
            let error = #expect(throws: CheckpointError.self) { try engine.loadCheckpoint(from: path) }
            #expect(error.map { if case .notAnEngineCheckpoint = $0 { true } else { false } } == true, "\(String(describing: error))")
        }
    }
}

extension CheckpointTests {
    /// The file layout alone, written and read without an engine.
    @Suite struct SafeTensorsFormat {
        static let unusual: [Float] = [
            0, -0.0, 1.5, -2.25, .infinity, -.infinity, .nan, Float(bitPattern: 0x7FC0_1234),
            .leastNonzeroMagnitude, .greatestFiniteMagnitude,
        ]

        static func sample() throws -> [(String, Tensor)] {
            [
                ("scalar", Tensor(3.5)),
                ("layer.weight", try Tensor(shape: [2, 5], scalars: unusual)),
                ("empty", Tensor.zeros([0, 3])),
                ("we\"ird\\ name ✓\n", Tensor.ones([1, 2, 1, 2])),
                ("odd", Tensor([1, 2, 3])),  // 12 bytes: the next tensor starts off an 8-byte boundary
                ("last", Tensor([7])),
            ]
        }

        static let metadata = ["note": "line 1\nline 2 \"quoted\" \\ tab\t ✓", "blank": "", "json": "{\"a\": [1, 2]}"]

        @Test func writtenTensorsAndMetadataReadBackBitForBit() throws {
            try withTemporaryDirectory { directory in
                let path = directory + "/sample.safetensors"
                let tensors = try Self.sample()
                try SafeTensors.write(tensors: tensors, metadata: Self.metadata, to: path)
                let (read, metadata) = try SafeTensors.read(path: path)
                #expect(read.map(\.0) == tensors.map(\.0), "tensors come back in the order written")
                for ((_, a), (name, b)) in zip(tensors, read) {
                    #expect(a.shape == b.shape, "\(name)")
                    #expect(a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern), "\(name)")
                }
                #expect(metadata == Self.metadata)
                // Same input, same bytes: header keys are not in dictionary order.
                try SafeTensors.write(tensors: tensors, metadata: Self.metadata, to: directory + "/again.safetensors")
                #expect(FileManager.default.contents(atPath: path) == FileManager.default.contents(atPath: directory + "/again.safetensors"))
            }
        }

        @Test func anIndependentParserReadsTheLayout() throws {
            try withTemporaryDirectory { directory in
                let path = directory + "/sample.safetensors"
                let tensors = try Self.sample()
                try SafeTensors.write(tensors: tensors, metadata: Self.metadata, to: path)
                let bytes = try #require(FileManager.default.contents(atPath: path))
                let file = try IndependentFile(bytes)
                #expect((8 + file.headerSize) % 8 == 0, "the data section starts 8-byte aligned")
                let closing = try #require(file.headerText.lastIndex(of: "}"))
                #expect(file.headerText[file.headerText.index(after: closing)...].allSatisfy { $0 == " " }, "padding is spaces")
                // Beside the caller's metadata, each tensor's CRC-32C of its little-endian bytes.
                var expected = Self.metadata
                // And the CRC-32C of the caller's metadata: sorted keys and values, each ended by a NUL.
                var metadataBytes: [UInt8] = []
                for (key, value) in Self.metadata.sorted(by: { $0.key < $1.key }) {
                    metadataBytes += Array(key.utf8) + [0]
                    metadataBytes += Array(value.utf8) + [0]
                }
                expected["crc32c.__metadata__"] = String(format: "%08x", bitwiseCRC32C(metadataBytes))
                for entry in file.entries {
                    expected["crc32c." + entry.name] = String(format: "%08x", bitwiseCRC32C(file.data[entry.begin..<entry.end]))
                }
                #expect(file.metadata == expected)
                // Packed in header order: the data order is the order of the names in the header text.
                #expect(file.entries.map(\.name) == tensors.map(\.0))
                let positions = tensors.map(\.0).map { name in
                    file.headerText.range(of: String(decoding: try! JSONSerialization.data(withJSONObject: [name]), as: UTF8.self).dropFirst().dropLast())!.lowerBound
                }
                #expect(positions == positions.sorted())
                var end = 0
                for entry in file.entries {
                    let source = try #require(tensors.first { $0.0 == entry.name }?.1)
                    #expect(entry.dtype == "F32")
                    #expect(entry.shape == Array(source.shape))
                    #expect(entry.begin == end, "no gap before \(entry.name)")
                    #expect(entry.end - entry.begin == 4 * source.count)
                    #expect(file.floats(entry).map(\.bitPattern) == source.scalars.map(\.bitPattern))
                    end = entry.end
                }
                #expect(end == file.data.count, "the data section ends with the last tensor")
            }
        }

        /// Written by Python: `safetensors.numpy.save_file({"a": arange(6).reshape(2, 3), "b": [1.5],
        /// "z": zeros(0)}, path, metadata={"k": "v"})` with safetensors 0.8.0, all float32.
        static let writtenByPython = """
            wAAAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJrIjoidiJ9LCJhIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyLDNdLCJkYXRhX29mZnNldHMi\
            OlswLDI0XX0sImIiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzFdLCJkYXRhX29mZnNldHMiOlsyNCwyOF19LCJ6Ijp7ImR0eXBlIjoiRjMy\
            Iiwic2hhcGUiOlswXSwiZGF0YV9vZmZzZXRzIjpbMjgsMjhdfX0AAAAAAACAPwAAAEAAAEBAAACAQAAAoEAAAMA/
            """

        @Test func aFileWrittenByPythonsSafetensorsReads() throws {
            try withTemporaryDirectory { directory in
                let path = directory + "/python.safetensors"
                try #require(Data(base64Encoded: Self.writtenByPython)).write(to: URL(fileURLWithPath: path))
                let (tensors, metadata) = try SafeTensors.read(path: path)
                #expect(tensors.map(\.0) == ["a", "b", "z"], "data order")
                let byName = Dictionary(uniqueKeysWithValues: tensors)
                #expect(byName["a"]?.shape == [2, 3] && byName["a"]?.scalars == [0, 1, 2, 3, 4, 5])
                #expect(byName["b"]?.scalars == [1.5])
                #expect(byName["z"]?.shape == [0])
                #expect(metadata == ["k": "v"])
            }
        }

        @Test func duplicateAndReservedNamesAreRefused() throws {
            try withTemporaryDirectory { directory in
                let path = directory + "/x.safetensors"
                #expect(throws: CheckpointError.self) { try SafeTensors.write(tensors: [("a", Tensor(1)), ("a", Tensor(2))], metadata: [:], to: path) }
                #expect(throws: CheckpointError.self) { try SafeTensors.write(tensors: [("__metadata__", Tensor(1))], metadata: [:], to: path) }
                #expect(!FileManager.default.fileExists(atPath: path))
            }
        }

        @Test func aFileWithAnotherDtypeIsReportedNotMisread() throws {
            try withTemporaryDirectory { directory in
                let path = directory + "/ints.safetensors"
                let bytes = try IndependentFile.write([("ints", "I32", [2], Data([1, 0, 0, 0, 2, 0, 0, 0]))], metadata: [:])
                try bytes.write(to: URL(fileURLWithPath: path))
                let error = #expect(throws: CheckpointError.self) { try SafeTensors.read(path: path) }
                guard case let .unsupported(_, reason) = error else {
                    Issue.record("expected an unsupported dtype, got \(String(describing: error))")
                    return
                }
                #expect(reason.contains("ints") && reason.contains("I32"))
            }
        }
    }
}
