import BettyNN
import BettyTensor

/// The checkpoint's view of the safetensors format, whose reader and writer live in BettyNN
/// (`SafeTensorsFile`, beside the other data formats): the same calls, with errors that speak of
/// a checkpoint (`CheckpointError`).
public enum SafeTensors {
    /// `SafeTensorsFile.write`: F32 tensors in the given order with their checksums, replacing the
    /// file at `path` only once the new one is complete and on disk.
    public static func write(tensors: [(String, Tensor)], metadata: [String: String], to path: String) throws(CheckpointError) {
        do { try SafeTensorsFile.write(tensors: tensors, metadata: metadata, to: path) } catch { throw CheckpointError(error) }
    }

    /// Every tensor in data order, with the metadata without the checksums, which are checked. A
    /// checkpoint holds F32 tensors only, so any other dtype is refused here (`SafeTensorsFile`
    /// converts F16, BF16 and F64 for weights that other frameworks wrote).
    public static func read(path: String) throws(CheckpointError) -> (tensors: [(String, Tensor)], metadata: [String: String]) {
        let file = try open(path)
        if let entry = file.entries.first(where: { $0.dtype != "F32" }) {
            throw .unsupported(path: path, reason: "tensor '\(entry.name)' is \(entry.dtype); only F32 tensors can be read from a checkpoint (weights in F16, BF16 or F64 load with 'load weights')")
        }
        do { return (try file.tensors(), file.metadata) } catch { throw CheckpointError(error) }
    }

    static func open(_ path: String) throws(CheckpointError) -> SafeTensorsFile {
        do { return try SafeTensorsFile(path: path) } catch { throw CheckpointError(error) }
    }

    static func tensor(_ entry: SafeTensorsFile.Entry, of file: SafeTensorsFile) throws(CheckpointError) -> Tensor {
        do { return try file.tensor(entry) } catch { throw CheckpointError(error) }
    }
}

extension CheckpointError {
    /// The same problem, described as one with a checkpoint.
    init(_ error: SafeTensorsError) {
        switch error {
        case let .file(e): self = .file(e)
        case let .corrupt(path, reason): self = .corrupt(path: path, reason: reason)
        case let .checksumMismatch(path, tensor, stored, computed): self = .checksumMismatch(path: path, tensor: tensor, stored: stored, computed: computed)
        case let .unsupported(path, reason): self = .unsupported(path: path, reason: reason)
        case let .invalidContents(reason): self = .invalidContents(reason: reason)
        }
    }
}
