import Betty
import BettyDashboard

extension Session {
    /// The statements that act on the run itself. Returns false for a statement that is not one of
    /// them here (it then runs under the gate as usual).
    func control(_ statement: Statement) throws(ScriptError) -> Bool {
        switch statement {
        case .wait:
            waitForRun()
        case .pause:
            pauseRun()
        case .stop:
            stopRun()
        case .dashboard:
            guard let openDashboard else {
                throw ScriptError("the dashboard needs an interactive terminal: start betty-repl at a prompt, or betty-repl --dashboard FILE.betty")
            }
            openDashboard()
        case .resume where runs.isActive:
            guard runs.isPaused else {
                output.text("already running (\(progress)): 'pause' pauses it, 'wait' waits for the end")
                return true
            }
            runs.resume()
            let s = runs.current
            output.text("resumed at global step \(s.globalStep) (\(s.completed) of the run's \(s.total) steps done)")
            if !runsInBackground { waitForRun() }
        case let .run(_, location) where runs.isActive:
            throw ScriptError("a run is already under way (\(progress)): 'wait' for it, 'pause' it or 'stop' it", at: location)
        case let .step(countExpr, location) where runs.isActive:
            guard runs.isPaused else {
                throw ScriptError("the engine is running (\(progress)): 'pause' it first, then 'step' takes one step at a time", at: location)
            }
            let count = try countExpr.map { (e) throws(ScriptError) in
                try stepCount(e, for: "step", atMost: Self.mostSingleSteps, beyond: "")
            } ?? 1
            runs.step(count, tick: { self.whileWaiting?() })
            output.text(runs.isPaused ? "stepped to global step \(runs.current.globalStep) (\(progress)); still paused" : "the run ended")
        case .quit where runs.isActive:
            stopRun()
            return false
        default:
            return false
        }
        return true
    }

    /// "running 1200/5000"
    var progress: String {
        let s = runs.current
        let state = switch s.state {
        case .running: "running"
        case .paused: "paused"
        case .idle: "idle"
        case .done: "done"
        case .failed: "failed"
        }
        return "\(state) \(s.completed)/\(s.total)"
    }

    /// While a background run is under way, a statement that changes the program's structure or
    /// state is refused (running), or ends the paused run first (keeping its remaining steps for
    /// `continue`); settings say from which step they apply.
    func admit(_ statement: Statement) throws(ScriptError) {
        guard let (command, location) = Self.structuralCommand(statement) else { return }
        if command == "save" || command == "save weights", runs.isPaused { return }
        guard runs.isPaused else {
            throw ScriptError("'\(command)' changes the program, and the engine is running (\(progress)): type 'pause' first, or 'wait' for the run to end", at: location)
        }
        runs.ending = .makeRoom(command: command)
        defer { runs.ending = nil }
        runs.cancellation.request()
        runs.resume()
        runs.waitUntilFinished()
    }

    /// For a setting given while a background run is under way: from which step it applies. The
    /// statement ran at a step boundary, so that is the next step, except for early stopping, which
    /// a run reads when it starts.
    func liveSettingNote(_ statement: Statement) -> String? {
        let next = "note: the run is at global step \(runs.current.globalStep); this applies from global step \(runs.current.globalStep + 1)"
        switch statement {
        case .config, .validate:
            return next
        case let .engine(options):
            guard options.contains(where: { $0.key.hasPrefix("early_stopping") }) else { return next }
            return next + ", except early stopping, which applies from the next 'run'"
        default:
            return nil
        }
    }

    /// The statements that change what the engine runs (refused while it runs), with where to point.
    static func structuralCommand(_ statement: Statement) -> (String, SourceLocation?)? {
        switch statement {
        case let .seed(e): ("seed", e.location)
        case let .data(name, _, _, _): ("data", name.location)
        case let .split(source, _, _): ("split", source.location)
        case let .transform(kind, _, _): (kind.text, kind.location)
        case let .problemStart(name): ("problem", name.location)
        case let .connect(names): ("connect", names.first?.location)
        case let .disconnect(names): ("disconnect", names.first?.location)
        case let .load(_, location): ("load", location)
        case let .save(_, location): ("save", location)
        case let .loadWeights(_, _, location): ("load weights", location)
        case let .saveWeights(_, _, location): ("save weights", location)
        case .reset: ("reset", nil)
        default: nil
        }
    }

    /// Blocks until the background run ends or pauses (Ctrl-C meanwhile pauses it).
    func waitForRun() {
        guard runs.isActive else {
            output.text(runs.pendingSteps > 0 ? "nothing is running; 'continue' runs the remaining \(runs.pendingSteps) steps of the interrupted run" : "nothing is running")
            return
        }
        guard !runs.isPaused else {
            output.text("the run is paused at global step \(runs.current.globalStep) (\(progress)): 'continue' resumes it, 'stop' ends it")
            return
        }
        waitUntilSettled()
    }

    func pauseRun() {
        guard runs.isActive else {
            output.text("nothing is running: 'run' returns when done; press Ctrl-C during a run to pause it")
            return
        }
        guard !runs.isPaused else {
            output.text("already paused at global step \(runs.current.globalStep) (\(progress))")
            return
        }
        runs.requestPause()
        waitUntilSettled()
    }

    /// Waits (Ctrl-C pausing) until the run pauses or ends, and says so when it paused.
    private func waitUntilSettled() {
        runs.waitingForRun.store(true, ordering: .releasing)
        runs.waitUntilSettled(tick: { self.whileWaiting?() })
        runs.waitingForRun.store(false, ordering: .releasing)
        if runs.isPaused {
            output.text("paused at global step \(runs.current.globalStep) (\(progress)): 'continue' resumes, 'step' takes one step, 'stop' ends the run")
        }
    }

    func stopRun() {
        guard runs.isActive else {
            if runs.pendingSteps > 0 {
                output.text("stopped: the interrupted run's remaining \(runs.pendingSteps) steps are dropped")
                runs.pendingSteps = 0
            } else {
                output.text("nothing is running")
            }
            return
        }
        runs.ending = .stop
        defer { runs.ending = nil }
        runs.cancellation.request()
        runs.resume()
        runs.waitUntilFinished()
    }

    /// The run's status line when it was ended from the prompt, or nil to report it as usual.
    func endingText(ran: Int, remaining: Int, globalStep: Int) -> String? {
        switch runs.ending {
        case nil:
            return nil
        case .stop:
            runs.pendingSteps = 0
            return "stopped at global step \(globalStep) after \(ran) step\(ran == 1 ? "" : "s") of the run; the remaining \(remaining) are dropped"
        case let .makeRoom(command):
            return "the paused run ended at global step \(globalStep) so that '\(command)' can change the program; 'continue' runs its remaining \(remaining) steps"
        }
    }

    /// Tells the dashboard the program's levels and paths.
    func publishProgram() {
        guard let monitor else { return }
        let paths = program.bindings.problemOrder.flatMap { program.engine?.graph.paths[$0] ?? [] }
        monitor.publish(.program(levels: program.bindings.problemOrder, paths: paths))
    }
}
