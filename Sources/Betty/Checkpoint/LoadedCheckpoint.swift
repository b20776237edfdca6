/// What `Engine.loadCheckpoint` found besides the state it restored.
public struct LoadedCheckpoint: Sendable, Equatable {
    /// The metadata passed to `saveCheckpoint`.
    public var metadata: [String: String]
    /// How many tensors the file holds.
    public var tensorCount: Int
    /// The tensors, in data order, whose data had no stored checksum to be checked against: every
    /// tensor of a checkpoint written before checkpoints had checksums, those a tool added or
    /// rewrote without one, none otherwise. They loaded, but damage to them would have gone
    /// unnoticed; saving again adds the checksums.
    public var uncheckedTensors: [String]

    public init(metadata: [String: String], tensorCount: Int, uncheckedTensors: [String]) {
        self.metadata = metadata
        self.tensorCount = tensorCount
        self.uncheckedTensors = uncheckedTensors
    }
}
