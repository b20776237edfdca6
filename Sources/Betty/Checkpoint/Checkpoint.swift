import BettyNN
import BettyTensor

extension Engine {
    /// Writes the whole engine to `path` in the safetensors layout: every problem's parameters
    /// (`<problem>.<parameter name>`), buffers (`<problem>.<buffer name>`), optimizer state
    /// (`<problem>.optimizer.<parameter name>.<state name>`), accumulated gradients, roll-back copies
    /// and latest batch, with the counters, schedule flags and data-loader and generator positions
    /// in the metadata (keys `betty.*`, JSON values) beside `metadata`. A run restored from it
    /// continues bit for bit as this one would. Call it between steps.
    ///
    /// The file is replaced only once the new one is complete, and only if it is absent or a regular
    /// file (see `SafeTensorsFile.write`); each tensor's checksum is stored with it. Refused while a
    /// reverse-mode problem is inside an unrolled window, whose parameters are nodes of a recorded graph.
    public func saveCheckpoint(to path: String, metadata: [String: String] = [:]) throws(CheckpointError) {
        for p in problems {
            guard let (steps, length) = openWindow(of: p.name) else { continue }
            throw .openUnrolledWindow(problem: p.name, localStep: state(p).localStep, stepsToClose: length - steps)
        }
        if let key = metadata.keys.sorted().first(where: { $0.hasPrefix(CheckpointKey.prefix) }) {
            throw .invalidContents(reason: "metadata key '\(key)' is reserved: keys starting with '\(CheckpointKey.prefix)' hold the engine state")
        }
        var all = metadata
        all[CheckpointKey.format] = CheckpointKey.currentFormat
        all[CheckpointKey.globalStep] = String(globalStep)
        all[CheckpointKey.problems] = try encodeJSON(problems.map(\.name))
        all[CheckpointKey.graph] = try encodeJSON(GraphRecord(graph))
        var tensors: [(String, Tensor)] = []
        for p in problems {
            let layout = CheckpointLayout(p, state(p))
            tensors += layout.savedTensors()
            all[CheckpointKey.problem(p.name)] = try encodeJSON(layout.record())
        }
        try SafeTensors.write(tensors: tensors, metadata: all, to: path)
    }

    /// Restores the state `saveCheckpoint` wrote into this engine, built the same way, and returns
    /// the user's metadata. The data is checked against its checksums, then every tensor name, shape
    /// and dtype and every counter that must agree; any difference, all of them listed in one
    /// `CheckpointError.mismatch`, leaves the engine exactly as it was.
    @discardableResult
    public func loadCheckpoint(from path: String) throws(CheckpointError) -> LoadedCheckpoint {
        let file = try SafeTensors.open(path)
        let saved = try SavedEngine(metadata: file.metadata, path: path)
        var check = CheckpointCheck(file: file)

        let graphMatches = GraphRecord(graph) == saved.graph
        if !graphMatches {
            check.mismatch(.wrongState(item: "level graph", expected: GraphRecord(graph).description, found: saved.graph.description))
        }
        var restores: [(CheckpointLayout, ProblemRecord)] = []
        for p in problems {
            guard let record = saved.records[p.name] else {
                check.mismatch(.missingProblem(p.name))
                continue
            }
            let layout = CheckpointLayout(p, state(p))
            layout.validate(record, against: &check, readyCount: graphMatches ? graph.children(of: p.name).count : nil)
            restores.append((layout, record))
        }
        for name in saved.problems where problem(named: name) == nil {
            check.mismatch(.unexpectedProblem(name, tensors: check.claim(prefix: name + ".")))
        }
        check.reportUnclaimed()
        guard check.mismatches.isEmpty else { throw .mismatch(path: path, check.mismatches) }

        // Converted before anything is assigned, so even an unforeseen failure changes nothing.
        let values = try check.values()
        for (layout, record) in restores { layout.restore(record, from: values) }
        globalStep = saved.globalStep
        return LoadedCheckpoint(metadata: saved.user, tensorCount: file.entries.count, uncheckedTensors: file.uncheckedTensors)
    }
}

/// The tensor names of one problem in a checkpoint, and its save, check and restore; saving and
/// loading share the names here so they cannot drift apart.
struct CheckpointLayout {
    let problem: Problem
    /// The engine's run state of `problem`, saved and restored with it.
    let run: ProblemRun
    /// Module order, which is `problem.trainable`'s.
    let parameterNames: [String]
    /// The optimizer's parameters by their module names: the optimizer may hold a subset.
    let optimizerParameterNames: [String]
    let buffers: [(name: String, buffer: Buffer)]
    let generators: [(path: String, dropout: Dropout)]

    init(_ problem: Problem, _ run: ProblemRun) {
        self.problem = problem
        self.run = run
        let named = problem.module.namedParameters
        parameterNames = named.map(\.name)
        var byIdentity: [ObjectIdentifier: String] = [:]
        for (name, parameter) in named where byIdentity[ObjectIdentifier(parameter)] == nil {
            byIdentity[ObjectIdentifier(parameter)] = name
        }
        optimizerParameterNames = problem.optimizer.parameters.enumerated().map { i, parameter in
            byIdentity[ObjectIdentifier(parameter)] ?? "#\(i)"
        }
        buffers = problem.module.namedBuffers
        generators = Self.dropouts(in: problem.module, path: "")
    }

    /// Dropout is the only module that draws random numbers while it runs.
    private static func dropouts(in module: any Module, path: String) -> [(path: String, dropout: Dropout)] {
        var found: [(path: String, dropout: Dropout)] = []
        if let dropout = module as? Dropout { found.append((path, dropout)) }
        for (name, child) in module.children {
            found += dropouts(in: child, path: path.isEmpty ? name : path + "." + name)
        }
        return found
    }

    private var prefix: String { problem.name + "." }
    func parameterName(_ i: Int) -> String { prefix + parameterNames[i] }
    func bufferName(_ name: String) -> String { prefix + name }
    func optimizerStateName(_ i: Int, _ key: String) -> String { prefix + "optimizer." + optimizerParameterNames[i] + "." + key }
    func accumulatedName(_ i: Int) -> String { prefix + "accumulated." + parameterNames[i] }
    func rollBackParameterName(_ i: Int) -> String { prefix + "rollback." + parameterNames[i] }
    func rollBackStateName(_ i: Int, _ key: String) -> String { prefix + "rollback.optimizer." + optimizerParameterNames[i] + "." + key }
    var batchXName: String { prefix + "batch.x" }
    var batchYName: String { prefix + "batch.y" }
    private func moduleName(_ path: String) -> String { path.isEmpty ? problem.name : prefix + path }

    // MARK: Save

    /// Lists are walked against the name lists (`zip`), so a state array of the wrong length, which
    /// only code outside the engine could make, saves what it can name instead of trapping.
    func savedTensors() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for (i, parameter) in zip(parameterNames.indices, problem.trainable) { out.append((parameterName(i), parameter.value.detached())) }
        for (name, buffer) in buffers { out.append((bufferName(name), buffer.value.detached())) }
        func append(_ states: [ParameterState], _ names: (Int, String) -> String) {
            for (i, state) in zip(optimizerParameterNames.indices, states) {
                for key in state.tensors.keys.sorted() { out.append((names(i, key), state.tensors[key]!.detached())) }
            }
        }
        append(problem.optimizer.states, optimizerStateName)
        if let accumulated = run.accumulated {
            for (i, g) in zip(parameterNames.indices, accumulated) { out.append((accumulatedName(i), g.detached())) }
        }
        if let cache = run.rollBackCache {
            for (i, value) in zip(parameterNames.indices, cache.values) { out.append((rollBackParameterName(i), value.detached())) }
            append(cache.states, rollBackStateName)
        }
        if let batch = run.currentBatch {
            out.append((batchXName, batch.x.detached()))
            out.append((batchYName, batch.y.detached()))
        }
        return out
    }

    func record() -> ProblemRecord {
        func states(_ states: [ParameterState]) -> [ParameterStateRecord] {
            states.map { ParameterStateRecord(step: $0.step, tensors: $0.tensors.keys.sorted()) }
        }
        let optimizer = problem.optimizer
        return ProblemRecord(
            localStep: run.localStep,
            ready: run.ready,
            innerLoopStart: run.innerLoopStart,
            optimizer: OptimizerRecord(type: Self.typeName(optimizer), learningRate: ExactFloat(optimizer.learningRate),
                                       states: states(optimizer.states)),
            accumulated: run.accumulated != nil,
            rollBack: run.rollBackCache.map { states($0.states) },
            loaders: problem.loaders.map(LoaderRecord.init),
            generators: generators.map { GeneratorRecord(module: $0.path, state: GeneratorState($0.dropout.generator)) },
            batchIndices: run.currentBatch?.indices,
            lastLoss: run.lastLoss.map(ExactFloat.init),
            lastHypergradientNorm: run.lastHypergradientNorm.map(ExactFloat.init),
            lastMetrics: run.lastMetrics.mapValues(ExactFloat.init))
    }

    private static func typeName(_ optimizer: any Optimizer) -> String { String(describing: type(of: optimizer)) }

    // MARK: Load

    /// Records every difference between `record` (and the file's tensors) and this problem.
    /// `readyCount` is nil when the level graphs differ, which is reported once for the engine.
    func validate(_ record: ProblemRecord, against check: inout CheckpointCheck, readyCount: Int?) {
        let name = problem.name
        for (i, parameter) in problem.trainable.enumerated() { check.tensor(parameterName(i), shape: parameter.shape) }
        for (bufferPath, buffer) in buffers { check.tensor(bufferName(bufferPath), shape: buffer.value.shape) }

        let optimizer = problem.optimizer
        let optimizerType = Self.typeName(optimizer)
        if record.optimizer.type != optimizerType {
            check.mismatch(.wrongState(item: "optimizer of '\(name)'", expected: optimizerType, found: record.optimizer.type))
        }
        validateStates(record.optimizer.states, item: "optimizer state of '\(name)'", names: optimizerStateName, against: &check)
        if record.accumulated {
            for (i, parameter) in problem.trainable.enumerated() { check.tensor(accumulatedName(i), shape: parameter.shape) }
        }
        if let states = record.rollBack {
            for (i, parameter) in problem.trainable.enumerated() { check.tensor(rollBackParameterName(i), shape: parameter.shape) }
            validateStates(states, item: "roll-back optimizer state of '\(name)'", names: rollBackStateName, against: &check)
        }
        if record.batchIndices != nil {
            check.tensor(batchXName, shape: nil)
            check.tensor(batchYName, shape: nil)
        }
        if let readyCount, record.ready.count != readyCount {
            check.mismatch(.wrongState(item: "ready flags of '\(name)'", expected: "\(readyCount) (one per lower problem)", found: "\(record.ready.count)"))
        }
        if record.localStep < 0 {
            check.mismatch(.wrongState(item: "local step of '\(name)'", expected: "a non-negative count", found: "\(record.localStep)"))
        }

        if record.loaders.count != problem.loaders.count {
            check.mismatch(.wrongState(item: "data loaders of '\(name)'", expected: "\(problem.loaders.count)", found: "\(record.loaders.count)"))
        } else {
            for (i, (loader, saved)) in zip(problem.loaders, record.loaders).enumerated() {
                let item = "data loader \(i) of '\(name)'"
                let settings = LoaderRecord(loader).settings
                guard saved.settings == settings else {
                    check.mismatch(.wrongState(item: item, expected: settings, found: saved.settings))
                    continue
                }
                do {
                    try loader.check(saved.state)
                } catch {
                    check.mismatch(.wrongState(item: item, expected: "a position this loader can reach", found: "\(error)"))
                }
            }
        }

        let savedGenerators = Set(record.generators.map(\.module))
        let engineGenerators = Set(generators.map(\.path))
        for path in generators.map(\.path) where !savedGenerators.contains(path) {
            check.mismatch(.wrongState(item: "random generator of module '\(moduleName(path))'", expected: "a saved state (the module is a Dropout)", found: "none"))
        }
        for path in record.generators.map(\.module) where !engineGenerators.contains(path) {
            check.mismatch(.wrongState(item: "random generator of module '\(moduleName(path))'", expected: "no such Dropout module", found: "a saved state"))
        }
    }

    private func validateStates(_ states: [ParameterStateRecord], item: String, names: (Int, String) -> String,
                                against check: inout CheckpointCheck) {
        let parameters = problem.optimizer.parameters
        guard states.count == parameters.count else {
            check.mismatch(.wrongState(item: item, expected: "\(parameters.count) parameters", found: "\(states.count)"))
            return
        }
        for (i, state) in states.enumerated() {
            // Every state tensor of SGD and Adam is elementwise, so it has its parameter's shape.
            for key in state.tensors { check.tensor(names(i, key), shape: parameters[i].shape) }
            if state.step < 0 {
                check.mismatch(.wrongState(item: "\(item), parameter '\(optimizerParameterNames[i])'", expected: "a non-negative step count", found: "\(state.step)"))
            }
        }
    }

    /// Assigns everything; only called once `validate` found no difference, so every tensor named
    /// here is in `values` with the right shape and every loader state is reachable.
    func restore(_ record: ProblemRecord, from values: [String: Tensor]) {
        func states(_ saved: [ParameterStateRecord], _ names: (Int, String) -> String) -> [ParameterState] {
            saved.enumerated().map { i, state in
                // A name listed twice in edited metadata names one tensor, so either copy is right.
                ParameterState(tensors: Dictionary(state.tensors.map { ($0, values[names(i, $0)]!) }, uniquingKeysWith: { a, _ in a }),
                               step: state.step)
            }
        }
        // Fresh leaves, as at the close of an unrolled window: a value in a recorded graph of this
        // engine would otherwise tie the loaded state to that graph.
        for (i, parameter) in problem.trainable.enumerated() { parameter.value = values[parameterName(i)]!.requiringGrad() }
        for (path, buffer) in buffers { buffer.value = values[bufferName(path)]! }
        let optimizer = problem.optimizer
        optimizer.states = states(record.optimizer.states, optimizerStateName)
        optimizer.learningRate = record.optimizer.learningRate.value
        run.accumulated = record.accumulated ? problem.trainable.indices.map { values[accumulatedName($0)]! } : nil
        run.rollBackCache = record.rollBack.map { saved in
            (problem.trainable.indices.map { values[rollBackParameterName($0)]! }, states(saved, rollBackStateName))
        }
        run.trajectoryStates = nil
        run.localStep = record.localStep
        run.ready = record.ready
        run.innerLoopStart = record.innerLoopStart
        for (loader, saved) in zip(problem.loaders, record.loaders) {
            do {
                try loader.restore(saved.state)
            } catch {
                preconditionFailure("checkpoint: a loader state passed its check and then failed to restore: \(error)")
            }
        }
        let savedGenerators = Dictionary(record.generators.map { ($0.module, $0.state) }, uniquingKeysWith: { a, _ in a })
        for (path, dropout) in generators { dropout.generator = savedGenerators[path]!.generator }
        run.currentBatch = record.batchIndices.map { Batch(x: values[batchXName]!, y: values[batchYName]!, indices: $0) }
        run.lastLoss = record.lastLoss?.value
        run.lastHypergradientNorm = record.lastHypergradientNorm?.value
        run.lastMetrics = record.lastMetrics.mapValues(\.value)
    }
}

/// Compares the file's tensors with what the engine expects, collecting every difference.
struct CheckpointCheck {
    let file: SafeTensorsFile
    private let entries: [String: SafeTensorsFile.Entry]
    private var claimed = Set<String>()
    private(set) var mismatches: [CheckpointMismatch] = []

    init(file: SafeTensorsFile) {
        self.file = file
        entries = Dictionary(file.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    mutating func mismatch(_ m: CheckpointMismatch) { mismatches.append(m) }

    /// Expects an F32 tensor `name`, of `shape` when one is given (the latest batch has any shape).
    mutating func tensor(_ name: String, shape: Shape?) {
        claimed.insert(name)
        let expected = shape.map { Array($0) }
        guard let entry = entries[name] else {
            mismatches.append(.missingTensor(name: name, expectedShape: expected))
            return
        }
        if entry.dtype != "F32" {
            mismatches.append(.wrongDType(name: name, expected: "F32", found: entry.dtype))
        }
        if let expected, entry.shape != expected {
            mismatches.append(.wrongShape(name: name, expected: expected, found: entry.shape))
        } else if !SafeTensorsFile.isRepresentable(entry.shape) {
            mismatches.append(.wrongState(item: "tensor '\(name)'", expected: "rank at most \(Shape.maxRank) and dimensions below 2^31",
                                          found: "shape \(entry.shape)"))
        }
    }

    /// Claims the unclaimed tensors whose names start with `prefix` (those of a problem the engine
    /// does not have, reported once for the problem) and returns how many there were.
    mutating func claim(prefix: String) -> Int {
        let names = file.entries.map(\.name).filter { $0.hasPrefix(prefix) && !claimed.contains($0) }
        claimed.formUnion(names)
        return names.count
    }

    mutating func reportUnclaimed() {
        for entry in file.entries where !claimed.contains(entry.name) {
            mismatches.append(.unexpectedTensor(name: entry.name, dtype: entry.dtype, shape: entry.shape))
        }
    }

    /// Every expected tensor, converted.
    func values() throws(CheckpointError) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for entry in file.entries where claimed.contains(entry.name) { out[entry.name] = try SafeTensors.tensor(entry, of: file) }
        return out
    }
}
