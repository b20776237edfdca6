import BettyTensor

/// What running a module changes besides its parameters: buffers (batch norm's running statistics)
/// and random streams (dropout's generator). Taken before and put back after anything that must
/// leave a module as it found it: a read-only evaluation, a hypergradient asked for between steps,
/// a step undone by a cancel. Taking it copies nothing (tensors are copy-on-write).
public struct ModuleState {
    private let buffers: [(Buffer, Tensor)]
    private let generators: [(Dropout, RandomGenerator)]

    public init(_ modules: [any Module]) {
        buffers = modules.flatMap { $0.namedBuffers.map { ($0.buffer, $0.buffer.value) } }
        generators = modules.flatMap { dropouts(in: $0) }.map { ($0, $0.generator) }
    }

    /// Whether the modules hold nothing but parameters (no buffers, no random streams).
    public var isEmpty: Bool { buffers.isEmpty && generators.isEmpty }

    public func restore() {
        for (buffer, value) in buffers { buffer.value = value }
        for (dropout, generator) in generators { dropout.generator = generator }
    }
}

/// Runs `body` with every module in `modules` (and every descendant) in evaluation mode, then puts
/// each back in the mode it was in: batch norm uses its running statistics without updating them, and
/// dropout passes its input through without drawing from its generator.
public func inEvaluationMode<R, E: Error>(_ modules: [any Module], _ body: () throws(E) -> R) throws(E) -> R {
    var modes: [(any Module, Bool)] = []
    func collect(_ module: any Module) {
        modes.append((module, module.isTraining))
        for (_, child) in module.children { collect(child) }
    }
    for module in modules { collect(module) }
    for (module, _) in modes { module.isTraining = false }
    defer { for (module, mode) in modes { module.isTraining = mode } }
    return try body()
}

/// Dropout is the only module that draws random numbers while it runs.
private func dropouts(in module: any Module) -> [Dropout] {
    var found: [Dropout] = []
    if let dropout = module as? Dropout { found.append(dropout) }
    for (_, child) in module.children { found += dropouts(in: child) }
    return found
}
