import BettyNN

/// CRC-32C lives in BettyNN beside the safetensors format that stores it; checkpoints and
/// TensorBoard's record framing use it from there. The alias keeps `import Betty` alone enough.
public typealias CRC32C = BettyNN.CRC32C
