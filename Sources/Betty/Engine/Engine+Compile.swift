import BettyNN
import BettyTensor

/// A problem's gradient computation as a step plan (`EngineConfig.compile`).
struct CompiledGradient {
    var plan: StepPlan?
    /// Replays in a row that left their recording; past `Engine.changeLimit` the problem stays on the
    /// dynamic tape.
    var changes = 0
    /// Why this problem runs on the dynamic tape, once it does.
    var refusal: String?
    /// Whether a module holds buffers or random streams that a step left part-way must put back.
    var keepsModuleState = true
    var recordings = 0
    var replays = 0
}

/// How a problem's gradient computation runs under `EngineConfig.compile`.
public struct CompileStatus: Sendable, Equatable {
    /// Steps recorded (the first, and each after a step changed).
    public var recordings: Int
    /// Steps replayed from a recording.
    public var replays: Int
    /// Kernel calls in the current recording (0 when there is none).
    public var kernels: Int
    /// Bytes of the buffers the current recording keeps between steps.
    public var bufferBytes: Int
    /// Why the problem runs on the dynamic tape, when it does.
    public var refusal: String?
}

extension Engine {
    /// A step that changes this many times in a row is not worth recording again.
    static let changeLimit = 3

    /// How problem `name` runs under `EngineConfig.compile`, or nil for an unknown name.
    public func compileStatus(of name: String) -> CompileStatus? {
        guard let p = problem(named: name), let c = run(of: p)?.compiled else { return nil }
        return CompileStatus(recordings: c.recordings, replays: c.replays, kernels: c.plan?.kernelCount ?? 0,
                             bufferBytes: c.plan?.bufferBytes ?? 0, refusal: c.refusal)
    }

    /// `totalGradient`, recorded at a problem's first step and replayed after (`StepPlan`). A replay
    /// that leaves its recording is undone (module buffers and random streams put back; parameters
    /// and optimizer are not touched before the gradient is complete) and the step recorded again,
    /// so the numbers are always the dynamic tape's.
    func compiledTotalGradient(_ p: Problem, batch: Batch) throws(EngineError) -> (Float, [Tensor]) {
        let r = state(p)
        // An open reverse-mode window is a graph recorded across steps: not a plan of one step.
        guard config.compile, r.compiled.refusal == nil, !recordingWindowIsOpen else {
            return try totalGradient(p, batch: batch)
        }
        if let plan = r.compiled.plan {
            let modules = r.compiled.keepsModuleState ? ModuleState(problems.map(\.module)) : nil
            do {
                let result = try plan.replay { () throws(EngineError) in try totalGradient(p, batch: batch) }
                if plan.divergence == nil {
                    r.compiled.changes = 0
                    r.compiled.replays += 1
                    return result
                }
            } catch {
                // A failure of the step itself is the dynamic tape's failure too.
                guard plan.divergence != nil else { throw error }
            }
            modules?.restore()
            r.compiled.plan = nil
            r.compiled.changes += 1
            if r.compiled.changes >= Engine.changeLimit {
                stayDynamic(p, "its step changed \(Engine.changeLimit) times in a row since it was recorded (last: \(plan.divergence!))",
                            notice: " from now on: ")
                return try totalGradient(p, batch: batch)
            }
        }
        let plan = StepPlan()
        r.compiled.keepsModuleState = !ModuleState(problems.map(\.module)).isEmpty
        r.compiled.recordings += 1
        let result = try plan.record { () throws(EngineError) in try totalGradient(p, batch: batch) }
        if let refusal = plan.refusal {
            stayDynamic(p, refusal, notice: ": ")
        } else {
            r.compiled.plan = plan
        }
        return result
    }

    /// Leaves `p` on the dynamic tape and says why once (`notice` joins the two halves of the message).
    private func stayDynamic(_ p: Problem, _ reason: String, notice: String) {
        state(p).compiled.refusal = reason
        emit(.notice(globalStep: globalStep, problem: p.name, message: "compile: runs on the dynamic tape\(notice)\(reason)"))
    }
}
