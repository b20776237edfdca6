import BettyNN
import BettyTensor

/// What `Engine.checkHypergradient` found: one problem's total gradient computed with every method
/// that applies, each against a reference (docs/BETTY_SEMANTICS.md §4.3).
public struct HypergradientCheck: Sendable {
    public enum Reference: String, Sendable, CaseIterable {
        /// Reverse mode through the reference window.
        case reverse
        /// Central differences of the loss at the end of the reference window, one coordinate at a
        /// time, at steps h and h/2 combined by Richardson extrapolation.
        case fd
    }

    public struct Settings: Sendable, Equatable {
        /// nil: `fd` when every level below is reverse mode (the check then compares the engine with
        /// the objective the program defines), `reverse` otherwise.
        public var reference: Reference?
        /// Unrolled steps of every level below for the reverse-mode row; nil: each level's own unroll.
        public var steps: Int?
        /// Unrolled steps of every level below in the reference window; nil: a reverse-mode level's own
        /// unroll (the objective the program defines), ten times the unroll of the others (a stand-in
        /// for the best response the implicit methods assume).
        public var referenceSteps: Int?
        /// Power iterations on the Hessian-vector product that estimate a Neumann level's curvature.
        public var powerIterations = 20
        /// Above this many parameters central differences are refused (four windows per parameter).
        public var finiteDifferenceLimit = 1000

        public init(reference: Reference? = nil, steps: Int? = nil, referenceSteps: Int? = nil) {
            self.reference = reference
            self.steps = steps
            self.referenceSteps = referenceSteps
        }
    }

    public struct Row: Sendable {
        public enum Outcome: Sendable {
            case computed(gradient: [Float], norm: Double, cosine: Double, relativeError: Double)
            /// The method does not apply to this program (why, in the engine's words).
            case notApplicable(String)
            /// The method ran and failed (a non-finite value): what went wrong.
            case failed(String)
        }
        /// `darts`, `neumann`, `cg`, `sama`, `reverse`, or `configured` for a program whose levels mix methods.
        public var method: String
        /// The settings the row used, e.g. "unroll 100, 5 terms, alpha·λmax 0.42".
        public var detail: String
        /// Whether this is what the program as configured computes.
        public var isConfigured: Bool
        public var outcome: Outcome
        /// Wall time of the trial window: the levels below stepping, then the total gradient.
        public var seconds: Double
    }

    public var problem: String
    public var reference: Reference
    /// How the reference was made, e.g. "reverse mode through 1000 unrolled steps of inner".
    public var referenceDetail: String
    public var referenceGradient: [Float]
    public var referenceNorm: Double
    /// For `fd`: its error estimate relative to its norm (the extrapolation's correction and the
    /// float32 rounding of the loss, combined); a row's relative error below it means nothing more.
    /// nil for `reverse`.
    public var referenceError: Double?
    public var referenceSeconds: Double
    public var rows: [Row]
    /// Settings that cannot converge (a Neumann series whose terms grow), in words.
    public var warnings: [String]

    public func row(_ method: String) -> Row? { rows.first { $0.method == method } }
}

/// The problem whose step ends a check's trial window, and what to do when it is reached.
final class Probe {
    let problem: Problem
    private let relevant: Set<String>
    private let action: (Engine) throws(EngineError) -> Void
    private(set) var reached = false

    init(problem: Problem, relevant: Set<String>, action: @escaping (Engine) throws(EngineError) -> Void) {
        self.problem = problem
        self.relevant = relevant
        self.action = action
    }

    /// Whether the trial window steps `name` (levels outside the checked problem's subtree hold still).
    func steps(_ name: String) -> Bool { relevant.contains(name) }

    func reach(_ engine: Engine) throws(EngineError) {
        reached = true
        try action(engine)
    }
}

extension Engine {
    /// `name`'s total gradient computed with every method that applies, each against a reference,
    /// leaving every state as it was. Each row runs one fresh window of the levels below `name` from the
    /// current state (their window-start hooks run, as at any window start) with that method on every
    /// level below, and takes `name`'s total gradient on its latest batch where its next step would.
    public func checkHypergradient(of name: String, settings: HypergradientCheck.Settings = .init()) throws(EngineError) -> HypergradientCheck {
        guard let p = problem(named: name) else {
            throw .graph(.unknownProblem(name, suggestion: closestName(to: name, in: graph.problems)))
        }
        guard !(graph.paths[name] ?? []).isEmpty else {
            throw .cannotCheck(problem: name, reason: "no lower level is connected to it, so its gradient is the direct term alone")
        }
        for (option, value) in [("steps", settings.steps), ("reference_steps", settings.referenceSteps)] {
            if let value, value < 1 { throw .cannotCheck(problem: name, reason: "\(option) must be at least 1, got \(value)") }
        }
        for other in problems {
            if let (steps, length) = openWindow(of: other.name) {
                throw .cannotCheck(problem: name, reason: "the unrolled window of '\(other.name)' is open (step \(steps) of \(length)); check at a window boundary")
            }
        }
        guard p.config.firstOrder else {
            throw .cannotCheck(problem: name, reason: "its first_order is off, so it takes no hypergradient: its gradient is the direct term alone")
        }
        let below = levels(below: p)
        guard let start = RestorePoint(self, outside: []) else { throw .cannotCheck(problem: name, reason: "a window is open") }

        // Everything a trial changes is put back: the state, the settings, and the cancel scope of a
        // run this check may be interrupting at a step boundary.
        let savedConfigs = problems.map(\.config), savedRollBack = config.rollBack
        let savedScope = (restorePoint, cancelSeen, problemStepsInThisStep)
        if cancellation != nil { restorePoint = start }
        defer {
            probe = nil
            for (problem, saved) in zip(problems, savedConfigs) { problem.config = saved }
            config.rollBack = savedRollBack
            start.restore(into: self)
            (restorePoint, cancelSeen, problemStepsInThisStep) = savedScope
        }
        // Roll-back acts only after the checked problem steps, where a trial has already ended.
        config.rollBack = false
        // Drawn after the restore point: a batch taken for the check is put back with everything else.
        let batch: Batch
        if let current = p.currentBatch { batch = current } else { batch = try p.nextBatch() }

        let configured = Dictionary(uniqueKeysWithValues: below.map { ($0.name, ($0.config.type, $0.config.unrollSteps)) })
        func uniform(_ method: ProblemConfig.Method, unroll: ((Problem) -> Int)? = nil) -> [String: (ProblemConfig.Method, Int)] {
            Dictionary(uniqueKeysWithValues: below.map { ($0.name, (method, unroll?($0) ?? $0.config.unrollSteps)) })
        }
        func same(_ a: [String: (ProblemConfig.Method, Int)], _ b: [String: (ProblemConfig.Method, Int)]) -> Bool {
            a.allSatisfy { key, value in b[key].map { $0 == value } ?? false }
        }
        var variants: [(method: String, levels: [String: (ProblemConfig.Method, Int)])] = [
            ("darts", uniform(.darts)), ("neumann", uniform(.neumann)), ("cg", uniform(.cg)), ("sama", uniform(.sama)),
            ("reverse", uniform(.reverse) { settings.steps ?? $0.config.unrollSteps }),
        ]
        if !variants.contains(where: { same($0.levels, configured) }) { variants.insert(("configured", configured), at: 0) }

        let allReverse = below.allSatisfy(\.isIterative)
        let reference = settings.reference ?? (allReverse ? .fd : .reverse)
        let referenceLevels = uniform(.reverse) { level in
            settings.referenceSteps ?? (level.isIterative ? level.config.unrollSteps : level.config.unrollSteps.multipliedReportingOverflow(by: 10).partialValue)
        }

        // The reference first: a row without one to compare with is of no use.
        let clock = ContinuousClock()
        let referenceStart = clock.now
        let referenceGradient: [Float]
        var spread: Double?
        do {
            switch reference {
            case .reverse:
                referenceGradient = try trialGradient(p, batch: batch, below: below, levels: referenceLevels, from: start)
            case .fd:
                (referenceGradient, spread) = try finiteDifferences(p, batch: batch, below: below, levels: referenceLevels,
                                                                     from: start, limit: settings.finiteDifferenceLimit)
            }
        } catch {
            // Both references run the levels below in reverse mode (for fd, so that a middle level's own
            // steps are exact); what reverse mode cannot do, the check cannot refer to.
            switch error {
            case .notImplemented, .unsupportedPath:
                throw .cannotCheck(problem: name, reason: "its reference runs every level below it in reverse mode, and \(error.description)")
            default: throw error
            }
        }
        let referenceSeconds = (clock.now - referenceStart) / .seconds(1)

        var rows: [HypergradientCheck.Row] = []
        var warnings: [String] = []
        for variant in variants {
            let began = clock.now
            var detail = Self.describe(variant.levels, below: below)
            var curvatures: [(String, Double)] = []
            let outcome: HypergradientCheck.Row.Outcome
            do {
                let gradient = try trialGradient(p, batch: batch, below: below, levels: variant.levels, from: start,
                                                 powerIterations: settings.powerIterations) { curvatures.append(($0, $1)) }
                outcome = .computed(gradient: gradient, norm: norm(gradient), cosine: cosine(gradient, referenceGradient),
                                    relativeError: distance(gradient, referenceGradient) / max(norm(referenceGradient), .leastNormalMagnitude))
            } catch {
                switch error {
                case .unsupportedPath, .notImplemented: outcome = .notApplicable(error.description)
                case .nonFiniteGradient, .nonFiniteLoss, .cannotCheck: outcome = .failed(error.description)
                default: throw error
                }
            }
            // Measured before the series is summed, so a series that blew up is still explained.
            for (level, curvature) in curvatures {
                let alpha = Double(problem(named: level)!.config.neumannAlpha)
                let factor = alpha * curvature
                detail += ", alpha·λmax \(Self.short(factor))"
                if curvature < 0 {
                    warnings.append("neumann on '\(level)': its Hessian has a negative eigenvalue (\(Self.short(curvature))), so the level is not at a minimum and no positive alpha makes the series converge")
                } else if factor >= 2 {
                    warnings.append("neumann on '\(level)': alpha \(Self.short(alpha)) × largest curvature \(Self.short(curvature)) = \(Self.short(factor)), so the series' terms grow as |1 − alpha·λ|^k and it diverges; use neumann_alpha below \(Self.short(2 / curvature))")
                }
            }
            rows.append(HypergradientCheck.Row(method: variant.method, detail: detail, isConfigured: same(variant.levels, configured),
                                               outcome: outcome, seconds: (clock.now - began) / .seconds(1)))
        }
        let referenceDetail = switch reference {
        case .reverse: "reverse mode through " + Self.describe(referenceLevels, below: below)
        case .fd: "central differences of \(name)'s loss after " + Self.describe(referenceLevels, below: below)
        }
        return HypergradientCheck(problem: name, reference: reference, referenceDetail: referenceDetail,
                                  referenceGradient: referenceGradient, referenceNorm: norm(referenceGradient),
                                  referenceError: spread, referenceSeconds: referenceSeconds, rows: rows, warnings: warnings)
    }

    /// Every level whose steps come before `p`'s next step: its lowers, theirs, and so on.
    private func levels(below p: Problem) -> [Problem] {
        var found = Set<String>(), frontier = [p.name]
        while let next = frontier.popLast() {
            for child in graph.children(of: next) where found.insert(child).inserted { frontier.append(child) }
        }
        return problems.filter { found.contains($0.name) }
    }

    /// Runs one window of the levels below `p` from `start`, each with the given method and unroll,
    /// until `p` would step; there runs `action` instead of `p`'s step.
    private func trial(_ p: Problem, below: [Problem], levels: [String: (ProblemConfig.Method, Int)], from start: RestorePoint,
                       prepare: () throws(EngineError) -> Void = {}, action: @escaping (Engine) throws(EngineError) -> Void) throws(EngineError) {
        start.restore(into: self)
        try prepare()
        var window = 1
        for level in below {
            let (method, unroll) = levels[level.name]!
            level.config.type = method
            level.config.unrollSteps = unroll
            level.config.warmupSteps = 0
            try level.config.validate(problem: level.name)
            let r = state(level)
            r.windowStart = r.localStep
            r.innerLoopStart = true
            r.accumulated = nil
            r.ready = r.ready.map { _ in false }
            let (perWindow, overflowed) = unroll.multipliedReportingOverflow(by: level.config.gradientAccumulation)
            let (product, overflow) = window.multipliedReportingOverflow(by: perWindow)
            guard !overflow, !overflowed, product <= 100_000_000 else {
                throw .cannotCheck(problem: p.name, reason: "one window of the levels below it would take more than 10^8 steps")
            }
            window = product
        }
        // The checked problem's own window is not what is checked: its parameters stay as they are.
        state(p).innerLoopStart = false
        state(p).ready = state(p).ready.map { _ in false }
        let relevant = Set(below.map(\.name) + [p.name])
        let probe = Probe(problem: p, relevant: relevant, action: action)
        self.probe = probe
        defer { self.probe = nil }
        let leaves = graph.leaves.filter { relevant.contains($0) }
        let baseline = MemoryStats.liveBytes
        for step in 0..<window {
            try checkCancellation(.checkWindow(problem: p.name, step: step + 1, count: window))
            // A recorded window keeps every step: refused as soon as its growth says it cannot fit.
            if step == 1 || step & 63 == 0 && step > 0 {
                try requireRoom(grown: MemoryStats.liveBytes - baseline, steps: step, of: window, checking: p.name)
            }
            globalStep += 1
            problemStepsInThisStep = 0
            for leaf in leaves {
                try stepNormal(problem(named: leaf)!)
                if probe.reached { return }
            }
            closeEndedWindows()
        }
        throw .cannotCheck(problem: p.name, reason: "it did not step within one window of the levels below it (\(window) steps)")
    }

    /// Throws when a window that grew by `grown` bytes in its first `steps` steps would, at that rate,
    /// not fit in the memory budget (or the system's memory) by its end.
    private func requireRoom(grown: Int, steps: Int, of window: Int, checking name: String) throws(EngineError) {
        guard grown > 0 else { return }
        let perStep = grown / steps
        let (more, overflow) = perStep.multipliedReportingOverflow(by: window - steps)
        do {
            try MemoryBudget.check(bytes: overflow ? nil : more, for: "a check's window below '\(name)'")
        } catch {
            throw .cannotCheck(problem: name, reason: "its window of \(grouped(window)) steps keeps about \(grouped(perStep)) bytes per step recorded, and the rest of it does not fit: \(error.description); use fewer steps or reference_steps")
        }
    }

    /// `p`'s total gradient at the end of a trial window, flattened. Before it, with `powerIterations`,
    /// each Neumann level's largest curvature there goes to `curvature`.
    private func trialGradient(_ p: Problem, batch: Batch, below: [Problem], levels: [String: (ProblemConfig.Method, Int)],
                               from start: RestorePoint, powerIterations: Int = 0,
                               curvature: @escaping (String, Double) -> Void = { _, _ in }) throws(EngineError) -> [Float] {
        var gradient: [Float] = []
        try trial(p, below: below, levels: levels, from: start) { (engine: Engine) throws(EngineError) in
            for level in below where level.config.type == .neumann && powerIterations > 0 {
                guard let lowerBatch = engine.state(level).currentBatch else { continue }
                curvature(level.name, try BestResponse.largestCurvature(of: level, batch: lowerBatch, iterations: powerIterations))
            }
            gradient = try engine.totalGradient(p, batch: batch).1.flatMap(\.scalars)
        }
        return gradient
    }

    /// Central differences of `p`'s loss at the end of the trial window, per coordinate of `p`'s
    /// parameters, at h = 0.1·max(|x|, 0.1) and h/2, extrapolated (4·D(h/2) − D(h)) / 3. Steps this
    /// wide keep float32 rounding of the loss (relative 6e-8 per evaluation) small against the
    /// difference; the extrapolation removes the h² term their width would leave. Returns the
    /// estimate and its error estimate relative to its norm: the extrapolation's correction and the
    /// rounding, combined.
    private func finiteDifferences(_ p: Problem, batch: Batch, below: [Problem], levels: [String: (ProblemConfig.Method, Int)],
                                   from start: RestorePoint, limit: Int) throws(EngineError) -> ([Float], Double) {
        let values = p.trainable.map(\.value.scalars)
        let count = values.reduce(0) { $0 + $1.count }
        guard count <= limit else {
            throw .cannotCheck(problem: p.name, reason: "central differences take four windows per parameter and '\(p.name)' has \(count) (at most \(limit)); use against=reverse")
        }
        func loss(tensor: Int, index: Int, shift: Float) throws(EngineError) -> Double {
            var result = Double.nan
            try trial(p, below: below, levels: levels, from: start, prepare: { () throws(EngineError) in
                var shifted = values[tensor]
                shifted[index] += shift
                let parameter = p.trainable[tensor]
                parameter.value = try attributed(p) { () throws(TensorError) in
                    try Tensor(shape: parameter.shape, scalars: shifted).requiringGrad()
                }
            }) { (engine: Engine) throws(EngineError) in
                result = Double(try withoutGrad { () throws(EngineError) in try p.loss(on: batch).scalar })
            }
            guard result.isFinite else {
                throw .cannotCheck(problem: p.name, reason: "its loss is not finite with a parameter shifted by \(shift) for central differences; use against=reverse")
            }
            return result
        }
        var estimate: [Double] = [], errorSquared = 0.0
        for (t, tensorValues) in values.enumerated() {
            for (i, x) in tensorValues.enumerated() {
                let h = 0.1 * max(abs(x), 0.1)
                var largest = 0.0
                func central(_ step: Float) throws(EngineError) -> Double {
                    // The steps actually taken, after rounding x ± step to Float.
                    let up = (x + step) - x, down = x - (x - step)
                    let (a, b) = (try loss(tensor: t, index: i, shift: up), try loss(tensor: t, index: i, shift: -down))
                    largest = max(largest, abs(a), abs(b))
                    return (a - b) / Double(up + down)
                }
                let wide = try central(h), narrow = try central(h / 2)
                // As the engine's gradients: the loss divided by the accumulated steps.
                let share = Double(p.config.gradientAccumulation)
                let extrapolated = (4 * narrow - wide) / 3 / share
                let rounding = Double(Float.ulpOfOne) / 2 * largest / Double(h / 2)
                let correction = narrow / share - extrapolated
                errorSquared += correction * correction + rounding / share * rounding / share
                estimate.append(extrapolated)
            }
        }
        return (estimate.map { Float($0) }, errorSquared.squareRoot() / max(norm(estimate), .leastNormalMagnitude))
    }

    /// "unroll 5 of bottom, unroll 2 of middle" (methods named when the levels are not all reverse).
    static func describe(_ levels: [String: (ProblemConfig.Method, Int)], below: [Problem]) -> String {
        below.map { level in
            let (method, unroll) = levels[level.name]!
            let steps = "\(unroll) unrolled step\(unroll == 1 ? "" : "s") of \(level.name)"
            switch method {
            case .reverse: return steps
            case .darts: return steps + " (alpha \(short(Double(level.config.dartsAlpha))))"
            case .neumann: return steps + " (\(level.config.neumannIterations) terms, alpha \(short(Double(level.config.neumannAlpha))))"
            case .cg: return steps + " (\(level.config.cgIterations) iterations)"
            case .sama: return steps + " (alpha \(short(Double(level.config.samaAlpha))))"
            }
        }.joined(separator: ", ")
    }

    static func short(_ x: Double) -> String { String(format: "%.3g", x) }
}

private func norm<T: BinaryFloatingPoint>(_ a: [T]) -> Double {
    a.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
}

private func distance<T: BinaryFloatingPoint>(_ a: [T], _ b: [T]) -> Double {
    zip(a, b).reduce(0) { sum, pair in
        let d = Double(pair.0) - Double(pair.1)
        return sum + d * d
    }.squareRoot()
}

private func cosine(_ a: [Float], _ b: [Float]) -> Double {
    let dot = zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    let scale = norm(a) * norm(b)
    return scale > 0 ? dot / scale : 0
}
