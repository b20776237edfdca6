import BettyNN

/// Why a checkpoint could not be written, read or loaded; the description has one line per problem.
public enum CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be read or written (no such file, permissions, a full disk, a directory
    /// or device in the way); a failed write leaves any earlier file as it was.
    case file(FileIOError)
    /// The bytes are not a complete safetensors file: cut short, or a header that does not add up.
    case corrupt(path: String, reason: String)
    /// A tensor's data differs from the CRC-32C stored when it was written: the file was damaged or
    /// edited since.
    case checksumMismatch(path: String, tensor: String, stored: UInt32, computed: UInt32)
    /// A well-formed safetensors file holding what `Tensor` cannot represent (a dtype other than F32, F16,
    /// BF16 and F64, a rank above `Shape.maxRank`).
    case unsupported(path: String, reason: String)
    /// A valid safetensors file without the engine state `Engine.saveCheckpoint` writes.
    case notAnEngineCheckpoint(path: String, reason: String)
    /// The checkpoint does not fit the engine; every difference is listed and nothing was loaded.
    case mismatch(path: String, [CheckpointMismatch])
    /// A reverse-mode problem is inside an unrolled window: its parameters are nodes of a recorded
    /// graph, which a file cannot hold.
    case openUnrolledWindow(problem: String, localStep: Int, stepsToClose: Int)
    /// Names or metadata keys that cannot be written (duplicates, reserved names).
    case invalidContents(reason: String)

    public var description: String {
        switch self {
        case let .file(error):
            return error.description
        // The file format's own wording, said of a checkpoint.
        case let .corrupt(path, reason):
            return "checkpoint " + SafeTensorsError.corrupt(path: path, reason: reason).description
        case let .checksumMismatch(path, tensor, stored, computed):
            return "checkpoint " + SafeTensorsError.checksumMismatch(path: path, tensor: tensor, stored: stored, computed: computed).description
        case let .unsupported(path, reason):
            return "checkpoint " + SafeTensorsError.unsupported(path: path, reason: reason).description
        case let .notAnEngineCheckpoint(path, reason):
            return "checkpoint '\(path)' is not an engine checkpoint: \(reason)"
        case let .mismatch(path, mismatches):
            let count = mismatches.count == 1 ? "1 mismatch" : "\(mismatches.count) mismatches"
            return "checkpoint '\(path)' does not fit the engine (\(count); expected is the engine, found is the file; nothing was loaded):\n"
                + mismatches.map { "  " + $0.description }.joined(separator: "\n")
        case let .openUnrolledWindow(problem, localStep, stepsToClose):
            return "cannot save a checkpoint while reverse-mode problem '\(problem)' has an open unrolled window (local step \(localStep)): its parameters are nodes of a recorded graph, which cannot be serialized; save after \(stepsToClose) more local step\(stepsToClose == 1 ? "" : "s") of '\(problem)', when the window closes"
        case let .invalidContents(reason):
            return "cannot write checkpoint: \(reason)"
        }
    }
}

/// One difference between a checkpoint and the engine it is loaded into.
public enum CheckpointMismatch: Sendable, Equatable, CustomStringConvertible {
    /// `expectedShape` is nil for a tensor of any shape (the latest batch).
    case missingTensor(name: String, expectedShape: [Int]?)
    case unexpectedTensor(name: String, dtype: String, shape: [Int])
    case wrongShape(name: String, expected: [Int], found: [Int])
    case wrongDType(name: String, expected: String, found: String)
    /// A problem of the engine that the checkpoint does not have.
    case missingProblem(String)
    /// A problem in the checkpoint that the engine does not have (its tensors are not listed one by one).
    case unexpectedProblem(String, tensors: Int)
    /// Anything else that must agree: optimizer type, data loaders, generators, the level graph.
    case wrongState(item: String, expected: String, found: String)

    public var description: String {
        switch self {
        case let .missingTensor(name, shape):
            return "tensor '\(name)': expected \(shape.map { "shape \($0)" } ?? "a tensor"), found no such tensor"
        case let .unexpectedTensor(name, dtype, shape):
            return "tensor '\(name)': expected no such tensor, found \(dtype) \(shape)"
        case let .wrongShape(name, expected, found):
            return "tensor '\(name)': expected shape \(expected), found \(found)"
        case let .wrongDType(name, expected, found):
            return "tensor '\(name)': expected dtype \(expected), found \(found)"
        case let .missingProblem(name):
            return "problem '\(name)': expected in the checkpoint, found no such problem"
        case let .unexpectedProblem(name, tensors):
            return "problem '\(name)': expected no such problem, found it with \(tensors) tensor\(tensors == 1 ? "" : "s")"
        case let .wrongState(item, expected, found):
            return "\(item): expected \(expected), found \(found)"
        }
    }
}
