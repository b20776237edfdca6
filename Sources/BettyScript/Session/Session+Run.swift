import Betty
import BettyNN
import BettyTensor

/// The commands that run the engine or use the state a run leaves: `run`, `continue`, `step`,
/// `hypergrad`, `expect`, `reset`, `save` and `load`.
extension Session {
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
        let constant = ExpressionCompiler.constantInteger(e)
        if case let .integer(n) = constant, (1...limit).contains(n) { return n }
        let got = switch constant {
        case let .integer(n): String(n)
        case let .fractional(x): ExpressionCompiler.written(x)
        case .tooLarge: OptionReader.written(e)
        case .notConstant: "an expression that is not a constant number"
        }
        let tooMany = switch constant {
        case let .integer(n): n > limit
        case .tooLarge: true
        default: false
        }
        throw ScriptError("\(command) takes a whole number of steps from 1 to \(limit), got \(got)\(tooMany ? advice : "")", at: e.location)
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
        // A Ctrl-C from before is spent here, on the prompt's thread: a `stop` typed right after `run`
        // must find its request still there when the run's thread starts.
        _ = consumeInterrupt()
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
        if !began { _ = consumeInterrupt() }
        let start = engine.globalStep
        if !began { runs.begin(total: count, globalStep: start) }
        engine.stepBoundary = { [runs, unowned engine] completed in runs.boundary(completed: completed, globalStep: engine.globalStep) }
        defer { engine.stepBoundary = nil }
        let clock = ContinuousClock.now
        let summary: RunSummary
        do {
            summary = try engine.run(iterations: count)
        } catch {
            program.flushLogs()
            runs.pendingSteps = 0
            let scriptError = runError(error, at: location, undone: engine.lastFailure, commandStart: start)
            runs.end(.failed(scriptError.message), globalStep: engine.globalStep, completed: engine.globalStep - start)
            throw scriptError
        }
        // Before the run is reported over: whoever waits for it finds the event file complete.
        program.flushLogs()
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
    /// the command that ran the engine. For a run or step, `undone` (the engine's `lastFailure`) adds
    /// which global step the state is at now.
    func runError(_ error: EngineError, at location: SourceLocation?, undone: StepFailure? = nil, commandStart: Int = 0) -> ScriptError {
        let state = undone.map { undoneText($0, commandStart: commandStart) } ?? ""
        switch error {
        case let .userCode(_, located as ScriptError):
            var located = located
            located.message += state
            return located
        case let .nonFiniteLoss(problem, step, value):
            // The engine's text, with the session's ways back to finite parameters.
            return ScriptError("problem '\(problem)': loss is \(formatNumber(value)) at local step \(step), so the run stopped\(state); lower the learning rate or check the data, then type 'reset' to start again from the initial parameters, or 'load \"FILE\"' to go back to a saved checkpoint",
                               at: location)
        case let .earlyStoppingMetricMissing(metric, returned):
            // The session's commands for each way out.
            let watch = returned.isEmpty ? "" : "watch \(returned.count == 1 ? "it" : "one of them") (engine early_stopping=\(returned.count == 1 ? returned[0] : "NAME")), "
            return ScriptError("early stopping watches '\(metric)', but the validation computes \(returned.isEmpty ? "no metrics" : "only " + returned.joined(separator: ", ")), so the run stopped\(state); \(watch)turn it off (engine early_stopping=off), or define \(metric) in the validation again (validate every N: \(metric) = EXPR)",
                               at: location)
        default:
            return ScriptError("\(error)\(state)", at: location)
        }
    }

    /// "; global step 41 was undone, so the state is as after step 40": where a failed run or step
    /// left the state (docs/BETTY_SEMANTICS.md §9).
    private func undoneText(_ failure: StepFailure, commandStart: Int) -> String {
        guard let after = failure.stateAfterStep else {
            return "; global step \(failure.globalStep) could not be undone (the engine keeps no restore point inside a reverse-mode level's open unrolled window, and this command began, or the program was changed, inside one), so the state is as the failure left it"
        }
        let state = after == commandStart ? "as before this command (global step \(after))" : "as after step \(after)"
        return "; global step \(failure.globalStep) was undone, so the state is \(state)"
    }

    func stepOnce(_ countExpr: Expr?, at location: SourceLocation) throws(ScriptError) {
        let engine = try readyEngine(at: location)
        let count = try countExpr.map { (e) throws(ScriptError) in
            try stepCount(e, for: "step", atMost: Self.mostSingleSteps,
                          beyond: " (step logs every step); run N takes up to \(Self.mostStepsPerRun)")
        } ?? 1
        let saved = program.logEvery
        program.logEvery = 1
        defer { program.logEvery = saved; program.flushLogs() }
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
                throw runError(error, at: location, undone: engine.lastFailure, commandStart: start)
            }
        }
        runs.pendingSteps = 0
    }

    func hypergrad(_ name: Name, all: Bool = false) throws(ScriptError) {
        let p = try program.problem(name)
        guard let engine = program.engine else { throw ScriptError("no engine yet", at: name.location) }
        try program.checkPending()
        try program.checkReadsOfReverseModeLevels()
        // Without a batch of its own the engine would draw one from the problem's loader, and the run
        // under way would then see other batches than it would have: not while a run is going on.
        if runs.isActive, p.currentBatch == nil {
            throw ScriptError("'\(name.text)' has not taken a step in this program yet, so its hypergradient would draw a batch the run needs; ask again after its first step", at: name.location)
        }
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
            guard all, let last = engine.lastHypergradient(of: name.text) else {
                output.text(text)
                return
            }
            // With `all`, the values that step applied (the engine keeps them after the window closed).
            let report = hypergradientReport(p, last, paths: engine.graph.paths[name.text]?.count ?? 0, all: true,
                                             header: text + "; the gradient of that step:")
            output.hypergradient(report)
            return
        } catch let .cancelled(interruption) {
            _ = consumeInterrupt()
            output.text("hypergradient of \(name.text) interrupted (\(interruption.point)); nothing changed")
            return
        } catch {
            throw runError(error, at: name.location)
        }
        output.hypergradient(hypergradientReport(p, grads, paths: engine.graph.paths[name.text]?.count ?? 0, all: all, header: nil))
    }

    /// The report of `hypergrad`: a norm per parameter tensor and its values (four digits for tensors
    /// of at most 20 values; with `all`, every value at full precision). `--json` carries the numbers.
    func hypergradientReport(_ p: Problem, _ grads: [Tensor], paths: Int, all: Bool, header given: String?) -> HypergradientReport {
        let names = p.module.namedParameters.map(\.name)
        var total: Float = 0
        var lines: [String] = []
        var parameters: [HypergradientReport.Parameter] = []
        for (parameterName, g) in zip(names, grads) {
            let norm = euclideanNorm(g).scalar
            total += norm * norm
            let values = g.scalars
            var line = "  \(p.name).\(parameterName) \(g.shape): norm \(formatNumber(norm))"
            if all {
                line += "\n    [" + values.map { String(format: "%.9g", $0) }.joined(separator: ", ") + "]"
            } else if g.count <= 20 {
                line += "  [" + values.map { String(format: "%.4g", $0) }.joined(separator: ", ") + "]"
            }
            lines.append(line)
            parameters.append(.init(name: parameterName, shape: Array(g.shape), values: values, norm: norm))
        }
        let norm = total.squareRoot()
        let header = given ?? "hypergradient of \(p.name) (direct term\(paths > 0 ? " + \(paths) path\(paths == 1 ? "" : "s")" : " only: no lower level")): norm \(formatNumber(norm))"
        return HypergradientReport(problem: p.name, norm: norm, paths: paths, parameters: parameters,
                                   text: ([header] + lines).joined(separator: "\n"))
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
        var settings = program.settings
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
                // Rebuilt on the data as it is now: `show NAME` says what the rebuilt line took.
                settings[name] = built.settings
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
        program.settings = settings
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
