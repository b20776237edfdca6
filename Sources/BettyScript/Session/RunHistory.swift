import Betty

/// Every value the engine reported in this session, at full resolution, for `export history` and
/// `plot`: per problem its loss at each local step (with the global step), its hypergradient norm and
/// the metrics its loss logged; the validation metrics; tensor memory at each global step. Columns of
/// 4- and 8-byte numbers, about 30 bytes a local step, so even a million steps cost tens of megabytes
/// (the dashboard's `Series` stays bounded by folding old points, which an export must not do).
///
/// It is the history of the current trajectory: when the engine's global step goes back (`reset`, a
/// checkpoint loaded from an earlier step, an engine rebuilt at step 0) it starts over.
struct RunHistory {
    /// One named curve over global steps (`localSteps` filled for a problem's own series).
    struct Column {
        var steps: [Int] = []
        var localSteps: [Int] = []
        /// Doubles, so byte counts stay exact; a Float series's values are Floats widened.
        var values: [Double] = []
        var count: Int { steps.count }

        mutating func append(step: Int, local: Int? = nil, _ value: Double) {
            steps.append(step)
            if let local { localSteps.append(local) }
            values.append(value)
        }

        mutating func truncate(to n: Int) {
            if steps.count > n { steps.removeLast(steps.count - n) }
            if localSteps.count > n { localSteps.removeLast(localSteps.count - n) }
            if values.count > n { values.removeLast(values.count - n) }
        }
    }

    /// Series by name, each name in order of first appearance: `P/loss`, `hypergradient_norm/P`,
    /// `P/METRIC`, `validation/METRIC`, `memory/live_bytes`, `memory/peak_bytes` (TensorBoard's tags).
    private(set) var columns: [String: Column] = [:]
    private(set) var order: [String] = []
    /// The problems in the order their first step came.
    private(set) var problems: [String] = []
    private var lastGlobalStep = 0
    private var lastMemoryStep: Int?

    var isEmpty: Bool { columns.isEmpty }

    static func lossTag(_ problem: String) -> String { "\(problem)/loss" }
    static func hypergradientTag(_ problem: String) -> String { "hypergradient_norm/\(problem)" }
    static func validationTag(_ metric: String) -> String { "validation/\(metric)" }
    static let liveTag = "memory/live_bytes"
    static let peakTag = "memory/peak_bytes"

    mutating func record(_ event: EngineEvent) {
        switch event {
        case let .step(e):
            if e.globalStep < lastGlobalStep { self = RunHistory() }
            lastGlobalStep = e.globalStep
            if !problems.contains(e.problem) { problems.append(e.problem) }
            append(Self.lossTag(e.problem), step: e.globalStep, local: e.localStep, Double(e.loss))
            if let norm = e.hypergradientNorm {
                append(Self.hypergradientTag(e.problem), step: e.globalStep, local: e.localStep, Double(norm))
            }
            for (name, value) in e.metrics.sorted(by: { $0.key < $1.key }) {
                append("\(e.problem)/\(name)", step: e.globalStep, local: e.localStep, Double(value))
            }
            // Several problems step within one global step: memory once per global step, at its end.
            if lastMemoryStep == e.globalStep {
                columns[Self.liveTag]!.values[columns[Self.liveTag]!.count - 1] = Double(e.liveBytes)
                columns[Self.peakTag]!.values[columns[Self.peakTag]!.count - 1] = Double(e.peakBytes)
            } else {
                append(Self.liveTag, step: e.globalStep, Double(e.liveBytes))
                append(Self.peakTag, step: e.globalStep, Double(e.peakBytes))
                lastMemoryStep = e.globalStep
            }
        case let .validation(step, metrics):
            lastGlobalStep = max(lastGlobalStep, step)
            for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
                append(Self.validationTag(name), step: step, Double(value))
            }
        case .stopped, .notice:
            break
        }
    }

    private mutating func append(_ tag: String, step: Int, local: Int? = nil, _ value: Double) {
        if columns[tag] == nil { order.append(tag) }
        columns[tag, default: Column()].append(step: step, local: local, value)
    }

    /// What `restore` puts back: the lengths now (a cancelled step's events are then dropped).
    struct Mark {
        fileprivate var counts: [String: Int]
        fileprivate var order: [String]
        fileprivate var problems: [String]
        fileprivate var lastGlobalStep: Int
        fileprivate var lastMemoryStep: Int?
        fileprivate var lastMemory: (live: Double, peak: Double)?
    }

    var mark: Mark {
        let memory = columns[Self.liveTag].flatMap { live in columns[Self.peakTag].map { (live.values.last!, $0.values.last!) } }
        return Mark(counts: columns.mapValues(\.count), order: order, problems: problems, lastGlobalStep: lastGlobalStep,
                    lastMemoryStep: lastMemoryStep, lastMemory: memory)
    }

    mutating func restore(_ mark: Mark) {
        // A history that started over since the mark cannot be put back; it keeps what it has.
        guard mark.order.allSatisfy({ columns[$0] != nil }) else { return }
        for tag in order where !mark.order.contains(tag) { columns[tag] = nil }
        for (tag, n) in mark.counts { columns[tag]!.truncate(to: n) }
        order = mark.order
        problems = mark.problems
        lastGlobalStep = mark.lastGlobalStep
        lastMemoryStep = mark.lastMemoryStep
        if let (live, peak) = mark.lastMemory {
            columns[Self.liveTag]!.values[columns[Self.liveTag]!.count - 1] = live
            columns[Self.peakTag]!.values[columns[Self.peakTag]!.count - 1] = peak
        }
    }

    // MARK: - CSV

    /// Long ("tidy") CSV, one row per value: `series,global_step,local_step,value`, each series's rows
    /// together in order; `local_step` empty for validation and memory. Values print as the shortest
    /// text that reads back as the same Float (`nan`, `inf`, `-inf` for the others, as NumPy and
    /// pandas read them).
    func csv() -> String {
        var out = "series,global_step,local_step,value\n"
        for tag in order {
            let c = columns[tag]!
            let hasLocal = c.localSteps.count == c.count
            for i in 0..<c.count {
                out += tag
                out += ","
                out += String(c.steps[i])
                out += ","
                if hasLocal { out += String(c.localSteps[i]) }
                out += ","
                out += Self.text(c.values[i])
                out += "\n"
            }
        }
        return out
    }

    /// Every value came from a Float except byte counts, which are whole numbers: the Float's
    /// shortest text, or the integer.
    static func text(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(Float(v))"
    }
}
