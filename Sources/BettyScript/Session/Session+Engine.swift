import Betty
import BettyNN
import BettyTensor

extension Session {
    // MARK: - Problems

    func define(_ spec: ProblemSpec, at location: SourceLocation) throws(ScriptError) {
        let name = spec.name.text
        let built = try ProblemBuilder(session: self, spec: spec).build()
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
            if previous != nil { try? rebuildEngine(order: program.bindings.problemOrder) }
            throw error
        }
        program.specs[name] = spec
        program.problemReads[name] = built.reads
        program.pendingChecks[name] = pending.isEmpty ? nil : (built.forwardReferences, built.check)
        // Problems that were waiting for this one can be checked now; a failure is reported at `run`.
        for other in program.pendingChecks.keys where other != name { try? program.runPendingCheck(other) }
        var text = "\(previous == nil ? "problem" : "redefined problem") \(name): \(program.summary(of: built.problem))"
        if let first = pending.first {
            let names = Set(pending.map(\.text)).sorted().joined(separator: ", ")
            text += "\nnote: \(names) \(pending.count == 1 ? "is" : "are") not defined yet; \(name)'s loss is checked when \(pending.count == 1 ? "it is" : "they are") (\(first.location))"
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
        program.installValidation(on: built)
        program.engine = built
        publishProgram()
    }

    private func handle(_ event: EngineEvent) {
        program.csvLogger?.log(event)
        if let monitor {
            switch event {
            case let .step(e): monitor.publish(.step(e))
            case let .validation(step, metrics): monitor.publish(.validation(globalStep: step, metrics: metrics))
            case let .stopped(step, reason): monitor.publish(.stopped(globalStep: step, reason: reason))
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
        case .stopped:
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
        var reader = try OptionReader(options, context: "engine")
        var c = program.engineConfig
        c.trainIterations = try reader.integer("train_iters", default: c.trainIterations, minimum: 1)
        c.validStep = try reader.integer("valid_step", default: c.validStep, minimum: 0)
        c.rollBack = try reader.bool("roll_back", default: c.rollBack)
        let metrics = Array(Set(program.validationMetrics.map(\.name) + program.bindings.lastValidation.keys)).sorted()
        let meaning = metrics.isEmpty ? " (no validation metric is defined yet: validate every N: NAME = EXPR)" : " (a validation metric, or off)"
        if let metric = try reader.word("early_stopping", from: metrics + ["off"], default: nil, meaning: meaning) {
            c.earlyStopping = metric == "off" ? nil : .init(metric: metric)
        }
        if let mode = try reader.word("early_stopping_mode", from: ["min", "max"], default: nil) {
            guard c.earlyStopping != nil else { throw ScriptError("set early_stopping=METRIC first", at: options[0].keyLocation) }
            c.earlyStopping?.mode = .init(rawValue: mode)!
        }
        if let tolerance = try reader.optionalInteger("early_stopping_tolerance", minimum: 1) {
            guard c.earlyStopping != nil else { throw ScriptError("set early_stopping=METRIC first", at: options[0].keyLocation) }
            c.earlyStopping?.tolerance = tolerance
        }
        let every = try reader.integer("log_every", default: program.logEvery, minimum: 0)
        let csvPath = try reader.string("csv")
        let memoryLimit = try memoryLimitOption(&reader, in: options)
        try reader.finish()
        if let (path, l) = csvPath {
            // Kept by the session, not subscribed to one engine: it outlives engine rebuilds.
            do { program.csvLogger = try CSVLogger(path: path) } catch { throw ScriptError("\(error)", at: l) }
        }
        program.engineConfig = c
        program.logEvery = every
        program.engine?.config = c
        if let memoryLimit { MemoryBudget.limit = memoryLimit }
        output.text("engine: train_iters \(c.trainIterations), valid_step \(c.validStep), roll_back \(c.rollBack)"
                    + (c.earlyStopping.map { ", early stopping on \($0.metric) (\($0.mode.rawValue), tolerance \($0.tolerance))" } ?? "")
                    + (memoryLimit.map { ", memory_limit \($0.map(ByteCount.format) ?? "off")" } ?? ""))
    }

    func configure(_ name: Name, _ options: [Option]) throws(ScriptError) {
        let p = try program.problem(name)
        let config = try ProblemBuilder.apply(options, to: p.config, problem: name.text)
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
        let problems = program.bindings.problems
        for p in problems { p.module.eval() }
        defer { for p in problems { p.module.train() } }
        let metrics = try withoutGrad { () throws(ScriptError) in try Program.evaluate(program.validationMetrics) }
        handle(.validation(globalStep: program.engine?.globalStep ?? 0, metrics: metrics))
    }

    // MARK: - Running

    private func readyEngine(at location: SourceLocation) throws(ScriptError) -> Engine {
        guard let engine = program.engine else { throw ScriptError("there is nothing to run: define a problem first (problem NAME ... end)", at: location) }
        try program.checkPending()
        try program.checkReadsOfReverseModeLevels()
        return engine
    }

    func runSteps(_ countExpr: Expr?, at location: SourceLocation) throws(ScriptError) {
        let engine = try readyEngine(at: location)
        let count = try countExpr.map { (e) throws(ScriptError) in
            try stepCount(e, for: "run", atMost: Self.mostStepsPerRun,
                          beyond: "; for a longer run set engine train_iters=N and type run without a count")
        }
        try execute(count ?? program.engineConfig.trainIterations, on: engine, at: location)
    }

    /// The most steps one `run N` takes: a count typed by mistake (`run 1e12`) is refused rather than
    /// left running. `step N` logs every step, so it stops at `mostSingleSteps`.
    static let mostStepsPerRun = 999_999_999
    static let mostSingleSteps = 999_999

    /// A constant whole number of steps from 1 to `limit`; `advice` is added when the count is too large.
    func stepCount(_ e: Expr, for command: String, atMost limit: Int, beyond advice: String) throws(ScriptError) -> Int {
        let n = ExpressionCompiler.constantNumber(e)
        guard let n, n >= 1, n == n.rounded(), Double(n) <= Double(limit) else {
            let got = n.map(formatNumber) ?? "an expression that is not a constant number"
            let tooMany = n.map { Double($0) > Double(limit) } ?? false
            throw ScriptError("\(command) takes a whole number of steps from 1 to \(limit), got \(got)\(tooMany ? advice : "")", at: e.location)
        }
        return Int(n)
    }

    func resume() throws(ScriptError) {
        guard runs.pendingSteps > 0, let engine = program.engine else { throw ScriptError("nothing to continue: no run was interrupted") }
        try execute(runs.pendingSteps, on: engine, at: nil)
    }

    /// Runs `count` global steps: here, or on the background thread when `runsInBackground`, where a
    /// failure is reported when it happens instead of thrown.
    private func execute(_ count: Int, on engine: Engine, at location: SourceLocation?) throws(ScriptError) {
        guard runsInBackground else {
            try runInForeground(count, on: engine, at: location)
            return
        }
        runs.begin(total: count, globalStep: engine.globalStep)
        output.text("running \(count) step\(count == 1 ? "" : "s") in the background from global step \(engine.globalStep): 'wait' waits for the end, 'pause', 'stop', 'dashboard' watches")
        runs.startInBackground { [self] in
            do throws(ScriptError) {
                try runInForeground(count, on: engine, at: location, began: true)
            } catch {
                output.error(error)
            }
        }
    }

    /// Runs the engine on this thread, parking at step boundaries when the run controller asks.
    private func runInForeground(_ count: Int, on engine: Engine, at location: SourceLocation?, began: Bool = false) throws(ScriptError) {
        runs.runLogEvery = max(1, count / 10)
        _ = consumeInterrupt()
        let start = engine.globalStep
        if !began { runs.begin(total: count, globalStep: start) }
        engine.stepBoundary = { [runs, unowned engine] completed in runs.boundary(completed: completed, globalStep: engine.globalStep) }
        defer { engine.stepBoundary = nil }
        let clock = ContinuousClock.now
        let summary: RunSummary
        do {
            summary = try engine.run(iterations: count)
        } catch {
            runs.pendingSteps = 0
            let scriptError = runError(error, at: location)
            runs.end(.failed(scriptError.message), globalStep: engine.globalStep, completed: engine.globalStep - start)
            throw scriptError
        }
        let seconds = (ContinuousClock.now - clock) / .seconds(1)
        let ran = summary.completed
        var text = "ran \(ran) step\(ran == 1 ? "" : "s") (global step \(engine.globalStep)) in \(String(format: "%.2f", seconds)) s"
        let losses = program.bindings.problems.compactMap { p in p.lastLoss.map { "\(p.name) \(formatNumber($0))" } }
        if !losses.isEmpty { text += "; last loss: " + losses.joined(separator: ", ") }
        if let interruption = summary.interruption {
            _ = consumeInterrupt()
            runs.pendingSteps = count - summary.completed
            if let ended = endingText(ran: ran, remaining: runs.pendingSteps, globalStep: engine.globalStep) {
                text = ended
            } else if interruption.point == .stepBoundary {
                text = "interrupted: " + text + "; 'continue' runs the remaining \(runs.pendingSteps)"
            } else {
                text = interrupted(interruption, commandStart: start)
            }
        } else {
            runs.pendingSteps = 0
            if summary.stoppedEarly { text += "; stopped early" }
        }
        runs.end(.done, globalStep: engine.globalStep, completed: ran)
        output.text(text)
    }

    /// "interrupted during global step 41 (...): state is as after step 40; 'continue' runs the
    /// remaining N": a cancel inside a step undid it, back to the engine's restore point.
    private func interrupted(_ interruption: Interruption, commandStart: Int) -> String {
        let state = interruption.stateAfterStep == commandStart
            ? "state is as before this command (global step \(commandStart))"
            : "state is as after step \(interruption.stateAfterStep)"
        return "interrupted \(interruption): \(state); 'continue' runs the remaining \(runs.pendingSteps)"
    }

    /// A failure of a compiled loss or validation keeps its own position; anything else points at
    /// the command that ran the engine.
    func runError(_ error: EngineError, at location: SourceLocation?) -> ScriptError {
        switch error {
        case let .userCode(_, located as ScriptError):
            return located
        case let .nonFiniteLoss(problem, step, value):
            // The engine's text, with the session's ways back to finite parameters.
            return ScriptError("problem '\(problem)': loss is \(formatNumber(value)) at local step \(step), so the run stopped; lower the learning rate or check the data, then type 'reset' to start again from the initial parameters, or 'load \"FILE\"' to go back to a saved checkpoint",
                               at: location)
        default:
            return ScriptError("\(error)", at: location)
        }
    }

    func stepOnce(_ countExpr: Expr?, at location: SourceLocation) throws(ScriptError) {
        let engine = try readyEngine(at: location)
        let count = try countExpr.map { (e) throws(ScriptError) in
            try stepCount(e, for: "step", atMost: Self.mostSingleSteps,
                          beyond: " (step logs every step); run N takes up to \(Self.mostStepsPerRun)")
        } ?? 1
        let saved = program.logEvery
        program.logEvery = 1
        defer { program.logEvery = saved }
        _ = consumeInterrupt()
        let start = engine.globalStep
        for done in 0..<count {
            // Ctrl-C stops between steps, as it pauses a run; `continue` takes the rest.
            if consumeInterrupt() {
                runs.pendingSteps = count - done
                output.text("interrupted after \(done) of \(count) steps (global step \(engine.globalStep)); 'continue' runs the remaining \(runs.pendingSteps)")
                return
            }
            do {
                try engine.step()
            } catch let .cancelled(interruption) {
                // Undone back to the start of this step: the steps before it stay.
                _ = consumeInterrupt()
                runs.pendingSteps = count - done
                output.text(interrupted(interruption, commandStart: start))
                return
            } catch {
                runs.pendingSteps = 0
                throw runError(error, at: location)
            }
        }
        runs.pendingSteps = 0
    }

    func hypergrad(_ name: Name) throws(ScriptError) {
        let p = try program.problem(name)
        guard let engine = program.engine else { throw ScriptError("no engine yet", at: name.location) }
        try program.checkPending()
        try program.checkReadsOfReverseModeLevels()
        // A Ctrl-C pressed before this command (during one that does not run the engine) is spent.
        _ = consumeInterrupt()
        let grads: [Tensor]
        do {
            grads = try engine.hypergradient(of: name.text)
        } catch let .closedWindow(lower) {
            // Between commands a reverse-mode window is closed whenever the steps so far are a whole
            // number of windows: report what the engine computed at the problem's last step instead.
            var text = "hypergradient of \(name.text): cannot be taken now, because '\(lower)' is reverse mode and its unrolled window is closed"
            if let norm = p.lastHypergradientNorm {
                text += "; at \(name.text)'s last step (local step \(p.localStep)) its norm was \(formatNumber(norm))"
            }
            if let unroll = program.bindings.refs[lower]?.problem?.config.unrollSteps, unroll > 1 {
                text += "; after a step that leaves '\(lower)' inside its window of \(unroll) steps it can be taken whole"
            }
            output.text(text)
            return
        } catch let .cancelled(interruption) {
            _ = consumeInterrupt()
            output.text("hypergradient of \(name.text) interrupted (\(interruption.point)); nothing changed")
            return
        } catch {
            throw runError(error, at: name.location)
        }
        let names = p.module.namedParameters.map(\.name)
        var total: Float = 0
        var lines: [String] = []
        for (parameterName, g) in zip(names, grads) {
            let norm = euclideanNorm(g).scalar
            total += norm * norm
            var line = "  \(name.text).\(parameterName) \(g.shape): norm \(formatNumber(norm))"
            if g.count <= 20 { line += "  [" + g.scalars.map { String(format: "%.4g", $0) }.joined(separator: ", ") + "]" }
            lines.append(line)
        }
        let paths = engine.graph.paths[name.text]?.count ?? 0
        let header = "hypergradient of \(name.text) (direct term\(paths > 0 ? " + \(paths) path\(paths == 1 ? "" : "s")" : " only: no lower level")): norm \(formatNumber(total.squareRoot()))"
        output.text(([header] + lines).joined(separator: "\n"))
    }

    func expect(_ lhs: Expr, _ op: String, _ rhs: Expr, at location: SourceLocation) throws(ScriptError) {
        let a = try evaluate(lhs), b = try evaluate(rhs)
        guard let x = a.scalar else { throw ScriptError("expect compares numbers; this is \(a.summary)", at: lhs.location) }
        guard let y = b.scalar else { throw ScriptError("expect compares numbers; this is \(b.summary)", at: rhs.location) }
        let passed = switch op {
        case "<": x < y
        case ">": x > y
        case "<=": x <= y
        case ">=": x >= y
        case "==": x == y
        default: x != y
        }
        let text = "\(source(lhs)) = \(formatNumber(x)) \(op) \(formatNumber(y))"
        if !passed { failedExpectations += 1 }
        output.expectation(text, passed: passed, location: location)
    }

    /// The text of `e` as typed (its span of the line), for the expectation's report.
    private func source(_ e: Expr) -> String {
        let l = e.location
        guard let line = recentLines["\(l.file):\(l.line)"].map(Array.init), l.column - 1 + l.length <= line.count else {
            return e.dottedName ?? "value"
        }
        return String(line[(l.column - 1)..<(l.column - 1 + l.length)])
    }

    func reset() throws(ScriptError) {
        var rebuilt: [(ProblemRef, Problem?, Problem)] = []
        var checks = program.pendingChecks
        // Rebuilt problems draw their tasks from fresh episode streams, from the first task on.
        let episodes = program.bindings.episodes
        program.bindings.episodes = [:]
        do {
            for name in program.bindings.problemOrder {
                guard let spec = program.specs[name] else { continue }
                let built = try ProblemBuilder(session: self, spec: spec).build()
                rebuilt.append((program.bindings.ref(name), program.bindings.ref(name).problem, built.problem))
                // A deferred check must evaluate the rebuilt problem, not the one it replaces.
                if checks[name] != nil { checks[name] = (built.forwardReferences, built.check) }
            }
        } catch {
            program.bindings.episodes = episodes
            throw error
        }
        for (ref, _, fresh) in rebuilt { ref.bind(fresh) }
        do {
            try rebuildEngine()
        } catch {
            for (ref, old, _) in rebuilt { ref.bind(old) }
            program.bindings.episodes = episodes
            try? rebuildEngine()
            throw error
        }
        program.pendingChecks = checks
        runs.pendingSteps = 0
        output.text("reset \(rebuilt.count) problem\(rebuilt.count == 1 ? "" : "s") to their initial state (global step 0)")
    }

    func save(_ path: String, at location: SourceLocation) throws(ScriptError) {
        guard let engine = program.engine else { throw ScriptError("nothing to save: define a problem first", at: location) }
        do {
            try engine.saveCheckpoint(to: path, metadata: ["seed": "\(program.seed)"])
        } catch {
            throw ScriptError("\(error)", at: location)
        }
        output.text("saved \(program.bindings.problemOrder.count) problem\(program.bindings.problemOrder.count == 1 ? "" : "s") at global step \(engine.globalStep) to \(path)")
    }

    /// Restores parameters, buffers, optimizer state, counters and loaders into the problems as
    /// defined now; every mismatch is reported and nothing changes unless all of it fits.
    func load(_ path: String, at location: SourceLocation) throws(ScriptError) {
        guard let engine = program.engine else { throw ScriptError("define the problems the checkpoint holds before loading it", at: location) }
        let loaded: LoadedCheckpoint
        do {
            loaded = try engine.loadCheckpoint(from: path)
        } catch {
            throw ScriptError("\(error)", at: location)
        }
        runs.pendingSteps = 0
        output.text("loaded \(path): global step \(engine.globalStep)")
        if let first = loaded.uncheckedTensors.first {
            let which = loaded.uncheckedTensors.count == loaded.tensorCount
                ? "\(path) has no checksums (it was saved before checkpoints had them), so its data"
                : "\(loaded.uncheckedTensors.count) of the \(loaded.tensorCount) tensors in \(path) have no checksum (the first is '\(first)'), so their data"
            output.text("note: \(which) could not be checked for damage; save again to add them")
        }
    }
}

import Foundation
