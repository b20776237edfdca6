import BettyTensor

/// A module's state dict as PyTorch names it, in and out of safetensors files: parameters then
/// buffers, each under its path (`0.weight`, `1.running_mean`), with PyTorch's layouts (`Linear`
/// weight `[out, in]`, `Conv2d` weight `[out, in, kh, kw]`), so nothing is transposed either way.
/// `torch.nn.Module.load_state_dict(safetensors.torch.load_file(path))` accepts what
/// `saveWeights` writes for the same architecture, and `loadWeights` takes what
/// `safetensors.torch.save_file(model.state_dict(), path)` wrote.
///
/// Loading is strict, as `load_state_dict(strict=True)`: every name the module has must be in the
/// file with its shape, and the file may have no other; every missing, unexpected or misshapen name
/// is listed in one `WeightsError.mismatch`, and nothing changes unless everything fits. The one
/// exception is BatchNorm's `num_batches_tracked`, which PyTorch stores as int64: it is accepted in
/// any dtype (or absent) and ignored, since it only counts training batches and nothing reads it
/// (the momentum is fixed); the module's own count is kept.
extension Module {
    /// The state dict: every parameter then every buffer, detached, under its path.
    public var stateDict: [(name: String, tensor: Tensor)] {
        namedParameters.map { ($0.name, $0.parameter.value.detached()) } + namedBuffers.map { ($0.name, $0.buffer.value.detached()) }
    }

    /// Writes `stateDict` as F32 safetensors (metadata `format: pt`, as `safetensors.torch` writes,
    /// and each tensor's checksum), replacing `path` only once the new file is complete.
    public func saveWeights(to path: String) throws(SafeTensorsError) {
        try SafeTensorsFile.write(tensors: stateDict.map { ($0.name, $0.tensor) }, metadata: ["format": "pt"], to: path)
    }

    /// Loads the state dict in the safetensors file at `path` (F32, or F16, BF16, F64 converted).
    public func loadWeights(from path: String) throws(WeightsError) {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw .file(error) }
        try loadWeights(from: file)
    }

    /// Loads the state dict of an opened file: names, shapes and dtypes are all checked before any
    /// tensor is converted, and every tensor is converted before anything is assigned.
    public func loadWeights(from file: SafeTensorsFile) throws(WeightsError) {
        let found = file.entries.map { WeightsEntry(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        let plan = try WeightsPlan(module: self, found: found, source: file.path)
        var values: [String: Tensor] = [:]
        for entry in file.entries where plan.wanted.contains(entry.name) {
            do { values[entry.name] = try file.tensor(entry) } catch { throw .file(error) }
        }
        plan.assign(values)
    }

    /// Loads a state dict already in memory (F32 tensors by name), checked as a file is.
    public func loadWeights(_ stateDict: [String: Tensor], source: String = "the state dict") throws(WeightsError) {
        let found = stateDict.keys.sorted().map { WeightsEntry(name: $0, dtype: "F32", shape: Array(stateDict[$0]!.shape)) }
        let plan = try WeightsPlan(module: self, found: found, source: source)
        plan.assign(stateDict.mapValues { $0.detached() })
    }
}

/// Why weights could not be loaded; nothing was changed.
public enum WeightsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read, or is not a valid safetensors file.
    case file(SafeTensorsError)
    /// The file's state dict does not fit the module: every difference, in the module's order.
    case mismatch(source: String, [WeightsMismatch])

    public var description: String {
        switch self {
        case let .file(error):
            return "cannot load weights: \(error)"
        case let .mismatch(source, mismatches):
            let count = mismatches.count == 1 ? "1 problem" : "\(mismatches.count) problems"
            var lines = ["the weights in \(source) do not fit the module (\(count); nothing was loaded):"]
            let missing = mismatches.compactMap { if case let .missing(name, shape) = $0 { "'\(name)' \(shape)" } else { nil } }
            let unexpected = mismatches.compactMap { if case let .unexpected(name, dtype, shape) = $0 { "'\(name)' (\(dtype) \(shape))" } else { nil } }
            if !missing.isEmpty { lines.append("  Missing key(s): " + missing.joined(separator: ", ")) }
            if !unexpected.isEmpty { lines.append("  Unexpected key(s): " + unexpected.joined(separator: ", ")) }
            for m in mismatches {
                switch m {
                case .missing, .unexpected: continue
                default: lines.append("  " + m.description)
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}

/// One difference between a state dict and the module it is loaded into.
public enum WeightsMismatch: Equatable, Sendable, CustomStringConvertible {
    /// A name of the module the file does not have, with the shape the module expects.
    case missing(name: String, shape: [Int])
    /// A name in the file the module does not have.
    case unexpected(name: String, dtype: String, shape: [Int])
    case wrongShape(name: String, expected: [Int], found: [Int])
    /// A dtype that cannot be converted to F32 (integers, booleans, 8-bit floats).
    case unsupportedDType(name: String, dtype: String)

    public var description: String {
        switch self {
        case let .missing(name, shape): "missing key '\(name)': the module expects shape \(shape)"
        case let .unexpected(name, dtype, shape): "unexpected key '\(name)' (\(dtype) \(shape))"
        case let .wrongShape(name, expected, found):
            "size mismatch for '\(name)': copying a tensor of shape \(found) from the file, the shape in the module is \(expected)"
        case let .unsupportedDType(name, dtype):
            "dtype of '\(name)': \(dtype) cannot be loaded (F32, F16, BF16 and F64 can)"
        }
    }
}

/// What a file claims about one tensor.
struct WeightsEntry {
    var name: String
    var dtype: String
    var shape: [Int]
}

/// The module's state dict checked against what a file holds; built only when everything fits.
struct WeightsPlan {
    let parameters: [(name: String, parameter: Parameter)]
    let buffers: [(name: String, buffer: Buffer)]
    /// The names whose values are loaded (not the ignored batch counters).
    let wanted: Set<String>

    init(module: any Module, found: [WeightsEntry], source: String) throws(WeightsError) {
        parameters = module.namedParameters
        let counters = Set(Self.batchCounters(in: module).map(ObjectIdentifier.init))
        let allBuffers = module.namedBuffers
        buffers = allBuffers.filter { !counters.contains(ObjectIdentifier($0.buffer)) }
        let ignored = Set(allBuffers.filter { counters.contains(ObjectIdentifier($0.buffer)) }.map(\.name))

        var byName: [String: WeightsEntry] = [:]
        for entry in found { byName[entry.name] = entry }
        var mismatches: [WeightsMismatch] = []
        var expected: [(String, [Int])] = parameters.map { ($0.name, Array($0.parameter.shape)) }
        expected += buffers.map { ($0.name, Array($0.buffer.value.shape)) }
        for (name, shape) in expected {
            guard let entry = byName[name] else {
                mismatches.append(.missing(name: name, shape: shape))
                continue
            }
            if entry.shape != shape { mismatches.append(.wrongShape(name: name, expected: shape, found: entry.shape)) }
            if !SafeTensorsFile.convertibleDTypes.contains(entry.dtype) { mismatches.append(.unsupportedDType(name: name, dtype: entry.dtype)) }
        }
        let known = Set(expected.map(\.0)).union(ignored)
        for entry in found where !known.contains(entry.name) {
            mismatches.append(.unexpected(name: entry.name, dtype: entry.dtype, shape: entry.shape))
        }
        guard mismatches.isEmpty else { throw .mismatch(source: source, mismatches) }
        wanted = Set(expected.map(\.0))
    }

    /// Assigns every value; `values` holds every wanted name with its checked shape. Parameters
    /// become fresh leaves (as after a checkpoint load), so no recorded graph holds on to them.
    func assign(_ values: [String: Tensor]) {
        for (name, parameter) in parameters { parameter.value = values[name]!.requiringGrad() }
        for (name, buffer) in buffers { buffer.value = values[name]! }
    }

    /// BatchNorm's `num_batches_tracked` buffers, accepted in any dtype or absent, and ignored.
    private static func batchCounters(in module: any Module) -> [Buffer] {
        var found: [Buffer] = []
        if let norm = module as? BatchNorm { found.append(norm.batchesTracked) }
        for (_, child) in module.children { found += batchCounters(in: child) }
        return found
    }
}
