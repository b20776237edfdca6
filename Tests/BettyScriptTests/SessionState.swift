@testable import Betty
@testable import BettyScript
import BettyNN
import BettyTensor

/// Everything a step, a run or a statement could change in a session, one labelled entry each, as
/// bits: the engine's global step; per problem its parameters, buffers, dropout generators, optimizer
/// state and rate, loader positions, orders and generators, and the engine's run record (local step,
/// window, ready flags, accumulated gradients, roll-back copies, open trajectory, latest batch, loss,
/// metrics and hypergradient); and what the session keeps from events (`mean_loss`'s recent losses,
/// the latest validation; with `history`, the history `export history` and `plot` read). Two sessions in the same state give equal snapshots; a difference names
/// its entry.
enum SessionState {
    static func snapshot(_ session: Session, history: Bool = false) -> [String] {
        session.runs.withGate { take(session, history: history) }
    }

    private static func take(_ session: Session, history: Bool) -> [String] {
        func bits(_ t: Tensor) -> String { "\(t.shape)" + t.scalars.map { String($0.bitPattern, radix: 16) }.joined(separator: ",") }
        func bits(_ ts: [Tensor]?) -> String { ts.map { $0.map(bits).joined(separator: ";") } ?? "nil" }
        func bits(_ s: ParameterState) -> String {
            "step \(s.step) " + s.tensors.keys.sorted().map { "\($0)=\(bits(s.tensors[$0]!))" }.joined(separator: " ")
        }
        func dropouts(_ m: any Module) -> [Dropout] {
            ((m as? Dropout).map { [$0] } ?? []) + m.children.flatMap { dropouts($0.module) }
        }
        let program = session.program
        var out = ["global step \(program.engine?.globalStep ?? -1)"]
        for name in program.bindings.problemOrder {
            guard let ref = program.bindings.refs[name], let p = ref.problem else { out.append("\(name): unbound"); continue }
            out.append("\(name).parameters: \(bits(p.module.parameters.map(\.value)))")
            out.append("\(name).buffers: \(p.module.namedBuffers.map { "\($0.name)=\(bits($0.buffer.value))" }.joined(separator: " "))")
            out.append("\(name).dropout: \(dropouts(p.module).map { "\($0.generator)" }.joined(separator: " "))")
            out.append("\(name).training: \(p.module.isTraining)")
            out.append("\(name).optimizer: lr \(p.optimizer.learningRate.bitPattern) " + p.optimizer.states.map(bits).joined(separator: " | "))
            out.append("\(name).loaders: \(p.loaders.map { "\($0.state)" }.joined(separator: " | "))")
            let ring = ref.recentLossState
            out.append("\(name).recent losses: \(ring.losses.map(\.bitPattern)) next \(ring.nextSlot)")
            guard let engine = program.engine, let r = engine.run(of: p) else { out.append("\(name): no run record"); continue }
            out.append("\(name).local step \(r.localStep), window start \(r.windowStart), ready \(r.ready), inner loop start \(r.innerLoopStart)")
            out.append("\(name).accumulated: \(bits(r.accumulated))")
            out.append("\(name).roll-back cache: \(r.rollBackCache.map { bits($0.values) + " " + $0.states.map(bits).joined(separator: " | ") } ?? "nil")")
            out.append("\(name).trajectory: \(r.trajectoryStates.map { $0.map(bits).joined(separator: " | ") } ?? "nil")")
            out.append("\(name).batch: \(r.currentBatch.map { bits([$0.x, $0.y]) } ?? "nil")")
            out.append("\(name).last loss \(r.lastLoss.map { String($0.bitPattern) } ?? "nil"), metrics \(r.lastMetrics.keys.sorted().map { "\($0)=\(r.lastMetrics[$0]!.bitPattern)" })")
            out.append("\(name).hypergradient: \(r.lastHypergradientNorm.map { String($0.bitPattern) } ?? "nil") \(bits(r.lastHypergradient))")
        }
        let validation = program.bindings.lastValidation
        out.append("validation: \(validation.keys.sorted().map { "\($0)=\(validation[$0]!.bitPattern)" })")
        // The history `export history` and `plot` read (memory aside: tensor bytes are the process's).
        // A problem's own series under its name, as its other entries are (tests split on "NAME.").
        for tag in program.history.order where history && !tag.hasPrefix("memory/") {
            let c = program.history.columns[tag]!
            let parts = tag.split(separator: "/", maxSplits: 1).map(String.init)
            let owner = parts[0] == "hypergradient_norm" ? parts[1] + "." : parts[0] == "validation" ? "" : parts[0] + "."
            out.append("\(owner)history \(tag): \(c.steps) \(c.localSteps) \(c.values.map(\.bitPattern))")
        }
        return out
    }

    /// The entries of `a` and `b` that differ, for a test's message.
    static func difference(_ a: [String], _ b: [String]) -> String {
        guard a.count == b.count else { return "\(a.count) entries against \(b.count)" }
        return zip(a, b).filter { $0 != $1 }.map { "\n- \($0.prefix(300))\n+ \($1.prefix(300))" }.joined()
    }
}
