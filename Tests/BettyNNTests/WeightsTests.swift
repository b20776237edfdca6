import Foundation
import Testing
import BettyTensor
@testable import BettyNN

/// A safetensors file written byte by byte, independently of the library's writer: any dtype, no
/// checksums (as PyTorch's and NumPy's writers leave them).
func rawSafeTensors(_ tensors: [(name: String, dtype: String, shape: [Int], data: [UInt8])], metadata: [String: String] = [:]) -> [UInt8] {
    var fields: [String] = []
    if !metadata.isEmpty {
        fields.append("\"__metadata__\":{" + metadata.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}")
    }
    var offset = 0
    for t in tensors {
        fields.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + t.data.count)]}")
        offset += t.data.count
    }
    let header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
    return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + tensors.flatMap(\.data)
}

func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

func withWeightsDirectory(_ body: (String) throws -> Void) throws {
    let directory = NSTemporaryDirectory() + "betty-weights-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try body(directory)
}

@Suite struct WeightsTests {
    /// Conv2d, BatchNorm (with running statistics moved by a training step), Flatten and Linear.
    static func convNet(seed: UInt64) throws -> Sequential {
        var g = RandomGenerator(seed: seed)
        let net = Sequential([Conv2d(2, 3, kernel: (3, 3), padding: (1, 1), using: &g), BatchNorm(3), Activation(.relu),
                              Flatten(), Linear(3 * 4 * 4, 5, using: &g), BatchNorm(5, affine: false)])
        _ = try net(Tensor.randomNormal([4, 2, 4, 4], using: &g))
        return net
    }

    static func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

    // MARK: - Round trips

    @Test func saveThenLoadIsBitExactForEveryModuleKind() throws {
        try withWeightsDirectory { directory in
            var g = RandomGenerator(seed: 9)
            let modules: [(any Module, any Module)] = [
                (try Self.convNet(seed: 1), try Self.convNet(seed: 2)),
                (MLP([4, 8, 3], using: &g), MLP([4, 8, 3], using: &g)),
                (Linear(3, 2, bias: false, using: &g), Linear(3, 2, bias: false, using: &g)),
                (ParameterTensor(Tensor.randomNormal([2, 3], using: &g)), ParameterTensor(Tensor.zeros([2, 3]))),
            ]
            for (i, (saved, loaded)) in modules.enumerated() {
                let path = directory + "/m\(i).safetensors"
                try saved.saveWeights(to: path)
                let countsBefore = loaded.namedBuffers.filter { $0.name.hasSuffix("num_batches_tracked") }.map(\.buffer.value.scalar)
                try loaded.loadWeights(from: path)
                #expect(loaded.namedParameters.map(\.name) == saved.namedParameters.map(\.name))
                for (a, b) in zip(saved.namedParameters, loaded.namedParameters) {
                    #expect(Self.bits(a.parameter.value) == Self.bits(b.parameter.value), "\(i): \(a.name)")
                    #expect(b.parameter.value.requiresGrad, "\(i): \(b.name) is a leaf that requires a gradient")
                }
                for (a, b) in zip(saved.namedBuffers, loaded.namedBuffers) where !a.name.hasSuffix("num_batches_tracked") {
                    #expect(Self.bits(a.buffer.value) == Self.bits(b.buffer.value), "\(i): \(a.name)")
                }
                // The batch counters are written (PyTorch's state dict has them) but ignored on load.
                #expect(loaded.namedBuffers.filter { $0.name.hasSuffix("num_batches_tracked") }.map(\.buffer.value.scalar) == countsBefore)
                let file = try SafeTensorsFile(path: path)
                #expect(file.entries.map(\.name) == saved.stateDict.map(\.name), "\(i): parameters then buffers, in module order")
                #expect(file.entries.allSatisfy { $0.dtype == "F32" } && file.uncheckedTensors.isEmpty && file.metadata == ["format": "pt"])
            }
        }
    }

    @Test func theNamesAndLayoutsArePyTorchs() throws {
        let net = try Self.convNet(seed: 1)
        #expect(net.stateDict.map(\.name) == [
            "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias",
            "1.running_mean", "1.running_var", "1.num_batches_tracked",
            "5.running_mean", "5.running_var", "5.num_batches_tracked",
        ])
        let shapes = Dictionary(uniqueKeysWithValues: net.stateDict.map { ($0.name, Array($0.tensor.shape)) })
        #expect(shapes["0.weight"] == [3, 2, 3, 3], "Conv2d: [out, in, kh, kw]")
        #expect(shapes["4.weight"] == [5, 48], "Linear: [out, in]")
        #expect(shapes["1.num_batches_tracked"] == [])
    }

    @Test func aStateDictInMemoryLoadsAsAFileDoes() throws {
        var g = RandomGenerator(seed: 3)
        let a = MLP([2, 3, 1], using: &g), b = MLP([2, 3, 1], using: &g)
        try b.loadWeights(Dictionary(uniqueKeysWithValues: a.stateDict.map { ($0.name, $0.tensor) }))
        #expect(a.parameterValues.map(Self.bits) == b.parameterValues.map(Self.bits))
        let error = #expect(throws: WeightsError.self) { try b.loadWeights(["0.weight": Tensor.zeros([3, 2])]) }
        #expect(error == .mismatch(source: "the state dict", [.missing(name: "0.bias", shape: [3]), .missing(name: "2.weight", shape: [1, 3]),
                                                             .missing(name: "2.bias", shape: [1])]))
    }

    // MARK: - Dtypes

    @Test func f16ConvertsExactlyIncludingSubnormalsInfinitiesAndNaN() throws {
        let cases: [(UInt16, Float)] = [
            (0x3C00, 1), (0xC000, -2), (0x3555, 0.333251953125), (0x7BFF, 65504), (0x0400, 0x1p-14),
            (0x0001, 0x1p-24), (0x03FF, 1023 * 0x1p-24), (0x8001, -0x1p-24), (0x0000, 0),
            (0x7C00, .infinity), (0xFC00, -.infinity),
        ]
        let converted = try Self.load("F16", littleEndianBytes(cases.map(\.0) + [0x8000, 0x7E00, 0xFE01]), count: cases.count + 3)
        #expect(Array(converted.prefix(cases.count)) == cases.map(\.1))
        #expect(converted[cases.count] == 0 && converted[cases.count].sign == .minus, "-0 keeps its sign")
        #expect(converted[cases.count + 1].isNaN && converted[cases.count + 2].isNaN)
        // The by-hand conversion (for platforms without Float16) agrees with Float16 on every pattern.
        for bits in UInt16.min...UInt16.max {
            let a = SafeTensorsConversion.floatFromHalfBits(bits), b = Float(Float16(bitPattern: bits))
            #expect(a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN), "0x\(String(bits, radix: 16))")
            if a.bitPattern != b.bitPattern && !(a.isNaN && b.isNaN) { break }
        }
    }

    @Test func bf16IsTheTopHalfOfAFloat() throws {
        let cases: [(UInt16, Float)] = [
            (0x3F80, 1), (0xC000, -2), (0x4049, 3.140625), (0x7F7F, Float(bitPattern: 0x7F7F_0000)),
            (0x0001, Float(bitPattern: 0x0001_0000)), (0x7F80, .infinity), (0xFF80, -.infinity), (0x8000, -0.0),
        ]
        let converted = try Self.load("BF16", littleEndianBytes(cases.map(\.0) + [0x7FC0]), count: cases.count + 1)
        #expect(converted.prefix(cases.count).map(\.bitPattern) == cases.map(\.1.bitPattern))
        #expect(converted[cases.count].isNaN)
    }

    @Test func f64RoundsToTheNearestFloat() throws {
        let values: [Double] = [1.0 / 3.0, -2.5, 1e-3, 1e300, -1e300, 0x1p-149, 1e-50, 16_777_217]
        let converted = try Self.load("F64", littleEndianBytes(values.map(\.bitPattern)), count: values.count)
        #expect(converted == [Float(1.0 / 3.0), -2.5, Float(1e-3), .infinity, -.infinity, 0x1p-149, 0, 16_777_216])
    }

    /// Loads one tensor of `dtype` holding `data` through a file and through `loadWeights`.
    static func load(_ dtype: String, _ data: [UInt8], count: Int) throws -> [Float] {
        var out: [Float] = []
        try withWeightsDirectory { directory in
            let path = directory + "/\(dtype).safetensors"
            try Data(rawSafeTensors([("value", dtype, [count], data)])).write(to: URL(fileURLWithPath: path))
            let file = try SafeTensorsFile(path: path)
            #expect(file.uncheckedTensors == ["value"])
            out = try file.tensor(file.entries[0]).scalars
            let module = ParameterTensor(Tensor.zeros([count]))
            try module.loadWeights(from: path)
            #expect(module.value.scalars.map(\.bitPattern) == out.map(\.bitPattern))
        }
        return out
    }

    @Test func otherDtypesAreRefusedNamingTheTensorAndDtype() throws {
        try withWeightsDirectory { directory in
            let path = directory + "/ints.safetensors"
            try Data(rawSafeTensors([("value", "I32", [2], littleEndianBytes([Int32(1), 2]))])).write(to: URL(fileURLWithPath: path))
            let file = try SafeTensorsFile(path: path)
            #expect(throws: SafeTensorsError.unsupported(path: path, reason: "tensor 'value' is I32; only F32, F16, BF16 and F64 tensors can be read (converted to F32)")) {
                try file.tensor(file.entries[0])
            }
            let module = ParameterTensor(Tensor([5, 6]))
            let error = #expect(throws: WeightsError.self) { try module.loadWeights(from: path) }
            #expect(error == .mismatch(source: path, [.unsupportedDType(name: "value", dtype: "I32")]))
            #expect("\(error!)".contains("dtype of 'value': I32 cannot be loaded (F32, F16, BF16 and F64 can)"))
            #expect(module.value.scalars == [5, 6])
        }
    }

    // MARK: - Refusals

    @Test func everyMissingUnexpectedAndMisshapenNameIsListedAndNothingChanges() throws {
        try withWeightsDirectory { directory in
            let path = directory + "/other.safetensors"
            let f32 = { (n: Int) in littleEndianBytes([UInt32](repeating: Float(7).bitPattern, count: n)) }
            try Data(rawSafeTensors([
                ("0.weight", "F32", [8, 5], f32(40)),      // misshapen: the module's is [8, 4]
                ("0.bias", "F16", [8], [UInt8](repeating: 0, count: 16)),
                ("fc.weight", "F32", [3, 8], f32(24)),     // unexpected
                ("extra", "I64", [], [UInt8](repeating: 0, count: 8)), // unexpected
                // 2.weight and 2.bias are missing
            ])).write(to: URL(fileURLWithPath: path))
            var g = RandomGenerator(seed: 4)
            let mlp = MLP([4, 8, 3], using: &g)
            let before = mlp.parameterValues.map(Self.bits)
            let error = #expect(throws: WeightsError.self) { try mlp.loadWeights(from: path) }
            #expect(error == .mismatch(source: path, [
                .wrongShape(name: "0.weight", expected: [8, 4], found: [8, 5]),
                .missing(name: "2.weight", shape: [3, 8]), .missing(name: "2.bias", shape: [3]),
                .unexpected(name: "fc.weight", dtype: "F32", shape: [3, 8]), .unexpected(name: "extra", dtype: "I64", shape: []),
            ]))
            #expect("\(error!)" == """
                the weights in \(path) do not fit the module (5 problems; nothing was loaded):
                  Missing key(s): '2.weight' [3, 8], '2.bias' [3]
                  Unexpected key(s): 'fc.weight' (F32 [3, 8]), 'extra' (I64 [])
                  size mismatch for '0.weight': copying a tensor of shape [8, 5] from the file, the shape in the module is [8, 4]
                """)
            #expect(mlp.parameterValues.map(Self.bits) == before)
        }
    }

    @Test func pyTorchsInt64BatchCounterIsAcceptedAndIgnoredAndMayBeAbsent() throws {
        try withWeightsDirectory { directory in
            let floats = { (v: [Float]) in littleEndianBytes(v.map(\.bitPattern)) }
            let common: [(name: String, dtype: String, shape: [Int], data: [UInt8])] = [
                ("weight", "F32", [2], floats([2, 3])), ("bias", "F32", [2], floats([-1, 1])),
                ("running_mean", "F32", [2], floats([0.5, 0.25])), ("running_var", "F32", [2], floats([4, 9])),
            ]
            let withCounter = directory + "/pt.safetensors", without = directory + "/old.safetensors"
            try Data(rawSafeTensors(common + [("num_batches_tracked", "I64", [], littleEndianBytes([Int64(1234)]))]))
                .write(to: URL(fileURLWithPath: withCounter))
            try Data(rawSafeTensors(common)).write(to: URL(fileURLWithPath: without))
            for path in [withCounter, without] {
                let fresh = BatchNorm(2)
                try fresh.loadWeights(from: path)
                #expect(fresh.weight!.value.scalars == [2, 3] && fresh.bias!.value.scalars == [-1, 1])
                #expect(fresh.runningMean.value.scalars == [0.5, 0.25] && fresh.runningVariance.value.scalars == [4, 9])
                #expect(fresh.batchesTracked.value.scalar == 0)
            }
        }
    }

    @Test func aDamagedOrMissingFileIsAFileError() throws {
        try withWeightsDirectory { directory in
            let module = ParameterTensor(Tensor([1]))
            let path = directory + "/w.safetensors"
            try module.saveWeights(to: path)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count - 1] ^= 0x40
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let damaged = #expect(throws: WeightsError.self) { try module.loadWeights(from: path) }
            guard case .file(.checksumMismatch(path, "value", _, _))? = damaged else {
                Issue.record("expected a checksum mismatch, got \(String(describing: damaged))")
                return
            }
            let missing = #expect(throws: WeightsError.self) { try module.loadWeights(from: directory + "/none.safetensors") }
            #expect("\(missing!)".hasPrefix("cannot load weights: cannot read \(directory)/none.safetensors"))
        }
    }
}
