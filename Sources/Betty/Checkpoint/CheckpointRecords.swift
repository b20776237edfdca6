import BettyNN
import BettyTensor
import Foundation

/// The engine state a checkpoint keeps beside its tensors, as JSON strings in the safetensors
/// metadata (keys starting with `betty.`); tensors hold the floating-point state, these records the
/// counters, flags and orders, and which optional tensors (optimizer state, accumulated gradients,
/// roll-back copies, the last batch) the file has.
enum CheckpointKey {
    static let prefix = "betty."
    static let format = "betty.format"
    static let globalStep = "betty.global_step"
    static let problems = "betty.problems"
    static let graph = "betty.graph"
    static func problem(_ name: String) -> String { "betty.problem." + name }

    static let currentFormat = "1"
}

/// Everything about one problem that is not a tensor.
struct ProblemRecord: Codable, Equatable {
    var localStep: Int
    /// One flag per lower problem (the graph's children), set when that lower has triggered this one.
    var ready: [Bool]
    var innerLoopStart: Bool
    var optimizer: OptimizerRecord
    /// Whether the gradients summed so far for gradient accumulation are in the file.
    var accumulated: Bool
    /// The optimizer state at the start of the roll-back window; the parameters are in the file.
    var rollBack: [ParameterStateRecord]?
    var loaders: [LoaderRecord]
    var generators: [GeneratorRecord]
    /// The indices of the latest batch, whose x and y are in the file.
    var batchIndices: [Int]?
    var lastLoss: ExactFloat?
    var lastHypergradientNorm: ExactFloat?
    var lastMetrics: [String: ExactFloat]
}

struct OptimizerRecord: Codable, Equatable {
    /// The optimizer's class: state saved by one optimizer means nothing to another.
    var type: String
    /// The rate in force, which a schedule or the user may have changed from the optimizer's base rate.
    var learningRate: ExactFloat
    /// Per parameter of the optimizer, in its order.
    var states: [ParameterStateRecord]
}

struct ParameterStateRecord: Codable, Equatable {
    var step: Int
    /// The names of the state tensors kept for this parameter, sorted.
    var tensors: [String]
}

struct LoaderRecord: Codable, Equatable {
    var samples: Int
    var batchSize: Int
    var shuffle: Bool
    var dropLast: Bool
    var epoch: Int
    var position: Int
    var generator: GeneratorState
    /// This epoch's order; omitted when the loader does not shuffle, where it is the identity.
    var order: [Int]?
    /// For a part of few-shot episodes: the task served as support and not yet as query.
    var heldTask: Int?

    init(_ loader: DataLoader) {
        let state = loader.state
        samples = loader.dataset.count
        batchSize = loader.batchSize
        shuffle = loader.shuffle
        dropLast = loader.dropLast
        epoch = state.epoch
        position = state.position
        generator = GeneratorState(state.generator)
        order = loader.shuffle ? state.order : nil
        heldTask = state.heldTask
    }

    var settings: String {
        "\(samples) samples in batches of \(batchSize)" + (shuffle ? ", shuffled" : "") + (dropLast ? ", dropping the last short batch" : "")
    }

    var state: DataLoader.State {
        DataLoader.State(epoch: epoch, position: position, order: order ?? Array(0..<samples), generator: generator.generator,
                         heldTask: heldTask)
    }
}

/// The random generator of a module (Dropout), by its path inside the problem's module.
struct GeneratorRecord: Codable, Equatable {
    var module: String
    var state: GeneratorState
}

/// A generator's four 64-bit words as hex strings: JSON readers that hold numbers as doubles
/// (JavaScript, and many others) would round them.
struct GeneratorState: Codable, Equatable {
    var words: (UInt64, UInt64, UInt64, UInt64)

    init(_ generator: RandomGenerator) { words = generator.state }

    var generator: RandomGenerator { RandomGenerator(state: words) }

    init(from decoder: any Decoder) throws {
        let texts = try decoder.singleValueContainer().decode([String].self)
        let values = texts.compactMap { UInt64($0, radix: 16) }
        guard values.count == 4, texts.count == 4 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "a generator state is four hexadecimal 64-bit words, got \(texts)"))
        }
        words = (values[0], values[1], values[2], values[3])
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode([words.0, words.1, words.2, words.3].map { String($0, radix: 16) })
    }

    static func == (a: GeneratorState, b: GeneratorState) -> Bool { a.words == b.words }
}

/// A Float that survives JSON bit for bit: written as its shortest round-trip decimal and read with
/// `Float(String)`, which rounds once. A JSON number would be read as a Double and rounded twice.
struct ExactFloat: Codable, Equatable {
    var value: Float

    init(_ value: Float) { self.value = value }

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let v = Float(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a number"))
        }
        value = v
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value.description)
    }

    static func == (a: ExactFloat, b: ExactFloat) -> Bool { a.value.bitPattern == b.value.bitPattern }
}

/// The level graph, with problems that have no edges left out, so two spellings of one graph compare
/// equal. Ready flags are indexed by the order of the lower problems, so list order matters.
struct GraphRecord: Codable, Equatable, CustomStringConvertible {
    var u2l: [String: [String]]
    var l2u: [String: [String]]

    init(_ graph: DependencyGraph) {
        u2l = graph.u2l.filter { !$0.value.isEmpty }
        l2u = graph.l2u.filter { !$0.value.isEmpty }
    }

    var description: String {
        func edges(_ map: [String: [String]]) -> String {
            "{" + map.keys.sorted().map { "\($0): [\(map[$0]!.joined(separator: ", "))]" }.joined(separator: ", ") + "}"
        }
        return "u2l \(edges(u2l)), l2u \(edges(l2u))"
    }
}

/// The engine state of a checkpoint, decoded from its metadata.
struct SavedEngine {
    var globalStep: Int
    /// In the saved engine's order.
    var problems: [String]
    var graph: GraphRecord
    var records: [String: ProblemRecord]
    /// The metadata the user passed to `saveCheckpoint`.
    var user: [String: String]

    init(metadata: [String: String], path: String) throws(CheckpointError) {
        guard let format = metadata[CheckpointKey.format] else {
            throw .notAnEngineCheckpoint(path: path, reason: "its metadata has no '\(CheckpointKey.format)' entry, which Engine.saveCheckpoint writes")
        }
        guard format == CheckpointKey.currentFormat else {
            throw .notAnEngineCheckpoint(path: path, reason: "it has format version '\(format)'; this library reads version \(CheckpointKey.currentFormat)")
        }
        guard let step = metadata[CheckpointKey.globalStep].flatMap({ Int($0) }), step >= 0 else {
            throw .corrupt(path: path, reason: "metadata '\(CheckpointKey.globalStep)' is not a non-negative integer")
        }
        func decode<T: Decodable>(_ type: T.Type, _ key: String) throws(CheckpointError) -> T {
            guard let text = metadata[key] else {
                throw .corrupt(path: path, reason: "metadata '\(key)' is missing")
            }
            do {
                return try JSONDecoder().decode(type, from: Data(text.utf8))
            } catch {
                throw .corrupt(path: path, reason: "metadata '\(key)' is not valid engine state: \(describeDecodingFailure(error))")
            }
        }
        globalStep = step
        problems = try decode([String].self, CheckpointKey.problems)
        graph = try decode(GraphRecord.self, CheckpointKey.graph)
        records = [:]
        for name in problems { records[name] = try decode(ProblemRecord.self, CheckpointKey.problem(name)) }
        user = metadata.filter { !$0.key.hasPrefix(CheckpointKey.prefix) }
    }
}

/// Sorted keys, so equal state gives equal bytes.
func encodeJSON<T: Encodable>(_ value: T) throws(CheckpointError) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    do {
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    } catch {
        throw .invalidContents(reason: "engine state cannot be encoded: \(error)")
    }
}

/// What went wrong in a JSON document, in words a user can act on (Swift's own description of a
/// DecodingError is a debug dump of coding paths and Foundation error domains).
private func describeDecodingFailure(_ error: any Error) -> String {
    func at(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "at the top" : "at " + path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error as? DecodingError {
    case let .keyNotFound(key, context)?: return "'\(key.stringValue)' is missing \(at(context.codingPath))"
    case let .typeMismatch(_, context)?, let .valueNotFound(_, context)?: return "the value \(at(context.codingPath)) has the wrong kind"
    case .dataCorrupted?: return "it is not well-formed JSON"
    default: return "it cannot be read"
    }
}
