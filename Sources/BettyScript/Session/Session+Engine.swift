import Foundation
import Betty
import BettyDashboard
import BettyNN
import BettyTensor

/// The statements that shape the program's engine: problems, connections, engine and problem
/// settings, validation; and where the engine's events go.
extension Session {
    // MARK: - Problems

    func define(_ spec: ProblemSpec, at location: SourceLocation) throws(ScriptError) {
        let name = spec.name.text
        // Building a problem on a part of a task set starts that set's episode stream: a definition
        // that fails leaves no stream behind to fix the next one's task order.
        let episodes = program.bindings.episodes
        let built: ProblemBuilder.Built
        do {
            built = try ProblemBuilder(session: self, spec: spec).build()
        } catch {
            program.bindings.episodes = episodes
            throw error
        }
        let ref = program.bindings.ref(name)
        let previous = ref.problem
        ref.bind(built.problem)
        let pending = built.forwardReferences.filter { program.bindings.refs[$0.text]?.problem == nil }
        do {
            if pending.isEmpty { try built.check() }
            let order = program.bindings.problemOrder.contains(name) ? program.bindings.problemOrder : program.bindings.problemOrder + [name]
            try rebuildEngine(order: order)
            program.bindings.problemOrder = order
        } catch {
            ref.bind(previous)
            program.bindings.episodes = episodes
            if previous != nil { try? rebuildEngine(order: program.bindings.problemOrder) }
            throw error
        }
        program.specs[name] = spec
        program.settings[name] = built.settings
        program.problemReads[name] = built.reads
        program.pendingChecks[name] = pending.isEmpty ? nil : (built.forwardReferences, built.check)
        // Problems that were waiting for this one can be checked now; a failure is reported at `run`.
        for other in program.pendingChecks.keys where other != name { try? program.runPendingCheck(other) }
        var text = "\(previous == nil ? "problem" : "redefined problem") \(name): \(program.summary(of: built.problem))"
        if let first = pending.first {
            let unique = Set(pending.map(\.text)).sorted()
            let one = unique.count == 1
            text += "\nnote: \(unique.joined(separator: ", ")) \(one ? "is" : "are") not defined yet; \(name)'s loss is checked when \(one ? "it is" : "they are") (\(first.location))"
        }
        output.text(([text] + built.warnings).joined(separator: "\n"))
    }

    func rebuildEngine(order: [String]? = nil) throws(ScriptError) {
        let names = order ?? program.bindings.problemOrder
        let problems = names.compactMap { program.bindings.refs[$0]?.problem }
        guard !problems.isEmpty else { program.engine = nil; return }
        let (u2l, l2u) = program.dependencies(program.connections)
        let built: Engine
        do {
            built = try Engine(problems: problems, u2l: u2l, l2u: l2u, config: program.engineConfig)
        } catch {
            throw ScriptError("\(error)")
        }
        built.subscribe { [weak self] event in self?.handle(event) }
        built.cancellation = runs.cancellation
        built.rollsBack { [weak self] in self?.program.captureEventState() ?? {} }
        built.undoFailedSteps { [weak self] event in self?.program.keep(event) }
        program.installValidation(on: built)
        program.engine = built
        publishProgram()
    }

    private func handle(_ event: EngineEvent) {
        program.csvLogger?.log(event)
        program.tensorBoardLogger?.log(event)
        program.history.record(event)
        if let monitor {
            switch event {
            case let .step(e): monitor.publish(.step(e))
            case let .validation(step, metrics): monitor.publish(.validation(globalStep: step, metrics: metrics))
            case let .stopped(step, reason): monitor.publish(.stopped(globalStep: step, reason: reason))
            case let .notice(_, problem, message): monitor.publish(.output(OutputLine(.warning, "\(problem): \(message)")))
            }
        }
        switch event {
        case let .step(e):
            program.bindings.refs[e.problem]?.record(loss: e.loss)
            var progress: Bool
            if e.logStep > 0 {
                progress = e.localStep % e.logStep == 0
            } else {
                let every = program.logEvery > 0 ? program.logEvery : runs.runLogEvery
                progress = e.globalStep % every == 0
            }
            output.event(event, isProgress: progress)
        case let .validation(_, metrics):
            program.bindings.lastValidation = metrics
            output.event(event, isProgress: true)
        case .stopped, .notice:
            output.event(event, isProgress: true)
        }
    }

    // MARK: - Connections

    private func pairs(_ names: [Name]) throws(ScriptError) -> [(Name, Name)] {
        for n in names { _ = try program.problem(n) }
        var result: [(Name, Name)] = []
        for i in 0..<(names.count - 1) {
            if names[i].text == names[i + 1].text {
                throw ScriptError("a problem cannot be its own upper level", at: names[i].location.through(names[i + 1].location))
            }
            result.append((names[i], names[i + 1]))
        }
        return result
    }

    func connect(_ names: [Name]) throws(ScriptError) {
        var next = program.connections
        for (upper, lower) in try pairs(names) {
            guard !next.contains(where: { $0.upper == upper.text && $0.lower == lower.text }) else {
                throw ScriptError("\(upper.text) -> \(lower.text) is already connected", at: upper.location.through(lower.location))
            }
            next.append((upper.text, lower.text))
        }
        try apply(next, at: names[0].location.through(names.last!.location))
    }

    func disconnect(_ names: [Name]) throws(ScriptError) {
        var next = program.connections
        for (upper, lower) in try pairs(names) {
            guard let i = next.firstIndex(where: { $0.upper == upper.text && $0.lower == lower.text }) else {
                throw ScriptError("\(upper.text) -> \(lower.text) is not connected", at: upper.location.through(lower.location))
            }
            next.remove(at: i)
        }
        try apply(next, at: names[0].location.through(names.last!.location))
        for (upper, lower) in try pairs(names) { warnAboutReads(across: upper.text, lower.text) }
    }

    /// A disconnected pair whose losses still read each other keeps running, but not as before: say how.
    private func warnAboutReads(across upper: String, _ lower: String) {
        let reads = { (reader: String, read: String) in (self.program.problemReads[reader] ?? []).contains { $0.text == read } }
        let why = reads(upper, lower) ? "\(upper)'s loss reads \(lower)" : reads(lower, upper) ? "\(lower)'s loss reads \(upper)" : nil
        guard let why else { return }
        output.text("warning: \(why), but \(upper) -> \(lower) is disconnected: \(upper) now steps on its direct gradient alone, with no hypergradient through \(lower)'s steps; 'connect \(upper) -> \(lower)' restores it")
    }

    /// Checks the graph with the new connections before anything changes.
    private func apply(_ next: [(upper: String, lower: String)], at location: SourceLocation) throws(ScriptError) {
        let (u2l, l2u) = program.dependencies(next)
        let graph: DependencyGraph
        do {
            graph = try DependencyGraph(problems: program.bindings.problemOrder, u2l: u2l, l2u: l2u)
        } catch {
            throw ScriptError("\(error)", at: location)
        }
        do {
            try program.engine?.setDependencies(u2l: u2l, l2u: l2u)
        } catch {
            throw ScriptError("\(error)", at: location)
        }
        program.connections = next
        publishProgram()
        output.text(program.describe(graph))
    }

    // MARK: - Configuration

    func configureEngine(_ options: [Option]) throws(ScriptError) {
        var reader = try OptionReader(options, table: OptionTables.engine)
        var c = program.engineConfig
        c.trainIterations = try reader.integer("train_iters", default: c.trainIterations)
        c.validStep = try reader.integer("valid_step", default: c.validStep)
        c.rollBack = try reader.flag("roll_back", default: c.rollBack)
        let compileGiven = options.contains { $0.key == "compile" }
        c.compile = try reader.flag("compile", default: c.compile)
        let metrics = Array(Set(program.validationMetrics.map(\.name) + program.bindings.lastValidation.keys)).sorted()
        let meaning = metrics.isEmpty ? " (no validation metric is defined yet: validate every N: NAME = EXPR)" : " (a validation metric, or off)"
        if let metric = try reader.optionalWord("early_stopping", from: metrics + ["off"], meaning: meaning) {
            c.earlyStopping = metric == "off" ? nil : .init(metric: metric)
        }
        if let mode = try reader.optionalWord("early_stopping_mode") {
            guard c.earlyStopping != nil else { throw ScriptError("set early_stopping=METRIC first", at: options[0].keyLocation) }
            c.earlyStopping?.mode = .init(rawValue: mode)!
        }
        if let tolerance = try reader.optionalInteger("early_stopping_tolerance") {
            guard c.earlyStopping != nil else { throw ScriptError("set early_stopping=METRIC first", at: options[0].keyLocation) }
            c.earlyStopping?.tolerance = tolerance
        }
        let every = try reader.integer("log_every", default: program.logEvery)
        let csvPath = try reader.path("csv")
        let boardPath = try reader.path("tensorboard")
        let memoryLimit = try memoryLimitOption(&reader, in: options)
        try reader.finish()
        // Both writers are opened before either replaces the program's, so a refused one changes
        // nothing; the event directory first, as a failed CSV leaves only a small new file behind.
        var notes = ""
        var board = program.tensorBoardLogger
        if let (directory, l) = boardPath {
            let same = board.map { URL(fileURLWithPath: $0.directory).standardizedFileURL == URL(fileURLWithPath: directory).standardizedFileURL } ?? false
            if same {
                // A second file in the same directory would show one run's curves twice.
                notes += "\nnote: already writing TensorBoard events to \(directory); they go on in the same file"
            } else {
                do { board = try TensorBoardLogger(directory: directory) } catch { throw ScriptError("\(error)", at: l) }
                notes += "\ntensorboard: writing events to \(directory) (tensorboard --logdir \(directory) shows them)"
            }
        }
        var csv = program.csvLogger
        if let (path, l) = csvPath {
            let same = csv.map { URL(fileURLWithPath: $0.path).standardizedFileURL == URL(fileURLWithPath: path).standardizedFileURL } ?? false
            if same {
                // Starting the same file again would throw away the log written so far.
                notes = "\nnote: already logging to \(path); the log goes on in the same file" + notes
            } else {
                do { csv = try CSVLogger(path: path) } catch { throw ScriptError("\(error)", at: l) }
            }
        }
        // Kept by the program, not subscribed to one engine: they outlive engine rebuilds. A replaced
        // event writer is flushed and closed as it is released.
        program.csvLogger = csv
        program.tensorBoardLogger = board
        program.engineConfig = c
        program.logEvery = every
        program.engine?.config = c
        if let memoryLimit { MemoryBudget.limit = memoryLimit }
        output.text("engine: train_iters \(c.trainIterations), valid_step \(c.validStep), roll_back \(c.rollBack)"
                    + (c.earlyStopping.map { ", early stopping on \($0.metric) (\($0.mode.rawValue), tolerance \($0.tolerance))" } ?? "")
                    + (compileGiven ? ", compile \(c.compile ? "on" : "off")" : "")
                    + (memoryLimit.map { ", memory_limit \($0.map(ByteCount.format) ?? "off")" } ?? "") + notes)
    }

    func configure(_ name: Name, _ options: [Option]) throws(ScriptError) {
        let p = try program.problem(name)
        let config = try ProblemBuilder.apply(options, to: p.config, problem: name.text)
        // Inside an open window the recorded steps are the method and the window's length: changing
        // either there would leave a half-recorded window no method can finish. Refused, as `save` is.
        if let (steps, length) = program.engine?.openWindow(of: name.text),
           config.type != p.config.type || config.unrollSteps != p.config.unrollSteps || config.gradientAccumulation != p.config.gradientAccumulation {
            let key = options.first { ["type", "unroll", "gradient_accumulation"].contains($0.key) }
            throw ScriptError("\(name.text)'s unrolled window is open (step \(steps) of \(length)): its type, unroll and gradient_accumulation can change after \(length - steps) more step\(length - steps == 1 ? "" : "s") of it ('step \(length - steps)' ends the window if \(name.text) steps every global step)",
                              at: key?.location ?? name.location)
        }
        p.config = config
        program.specs[name.text]?.configChanges.append(options)
        let notes = idleSettings(options.map(\.key), of: name.text, config).map { "\nnote: " + $0 }
        output.text("\(name.text): \(config.type.rawValue), unroll \(config.unrollSteps)" + notes.joined())
    }

    /// Notes for settings just given that do nothing in the problem's present role or method. A
    /// method's settings are read from the lower level a path runs through, never from the upper
    /// that owns the path, and only for the method in `type`.
    private func idleSettings(_ keys: [String], of name: String, _ c: ProblemConfig) -> [String] {
        let methodOfKey: [String: ProblemConfig.Method] = [
            "darts_alpha": .darts, "sama_alpha": .sama, "neumann_iterations": .neumann, "neumann_alpha": .neumann, "cg_iterations": .cg,
        ]
        let paths = program.engine?.graph.paths ?? [:]
        var notes: [String] = []
        let methodKeys = keys.filter { $0 == "type" || methodOfKey[$0] != nil }
        let isLowerOnAPath = paths.values.joined().contains { $0.dropFirst().dropLast().contains(name) }
        if !methodKeys.isEmpty && !isLowerOnAPath {
            var text = "no upper level differentiates through \(name) (it is the lower level of no path), so \(methodKeys.joined(separator: ", ")) \(methodKeys.count == 1 ? "has" : "have") no effect until one does"
            let lowers = Set((paths[name] ?? []).flatMap { $0.dropFirst().dropLast() }).sorted()
            if !lowers.isEmpty {
                text += "; \(name)'s own path\(paths[name]!.count == 1 ? "" : "s") use\(paths[name]!.count == 1 ? "s" : "") the settings of \(lowers.joined(separator: ", ")) (config \(lowers[0]) ...)"
            }
            notes.append(text)
        }
        for key in keys {
            if let method = methodOfKey[key], method != c.type {
                notes.append("\(key) has no effect while \(name)'s type is \(c.type.rawValue) (it is for type=\(method.rawValue))")
            }
        }
        if keys.contains("first_order"), (paths[name] ?? []).isEmpty {
            notes.append("\(name) has no paths (no lower level's loss uses its parameters), so first_order has no effect until it has")
        }
        return notes
    }

    // MARK: - Validation

    func defineValidation(_ every: Expr?, _ metrics: [(Name, Expr)]) throws(ScriptError) {
        var compiled: [(String, Compiled)] = []
        for (name, e) in metrics {
            var compiler = ExpressionCompiler(bindings: program.bindings)
            let c = try compiler.compile(e)
            if let undefined = compiler.undefinedReference { throw undefined }
            compiled.append((name.text, c))
        }
        if let every {
            let n = try stepCount(every, for: "validate every", atMost: Self.mostStepsPerRun, beyond: "")
            program.engineConfig.validStep = n
            program.engine?.config.validStep = n
        }
        program.validationMetrics = compiled.map { (name: $0.0, compiled: $0.1) }
        if let engine = program.engine { program.installValidation(on: engine) }
        output.text("validation every \(program.engineConfig.validStep) steps: \(compiled.map(\.0).joined(separator: ", "))")
    }

    func validateNow() throws(ScriptError) {
        guard !program.validationMetrics.isEmpty else {
            throw ScriptError("no validation is defined; e.g. validate every 500: acc = accuracy(model(test.x), test.y)")
        }
        let metrics = try program.readOnly { () throws(ScriptError) in try Program.evaluate(program.validationMetrics) }
        handle(.validation(globalStep: program.engine?.globalStep ?? 0, metrics: metrics))
    }
}
