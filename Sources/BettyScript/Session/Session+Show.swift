import Betty
import BettyNN
import BettyTensor

extension Session {
    static let showTopics = ["graph", "problems", "data", "config", "engine", "memory", "metrics", "values"]

    func show(_ words: [Name]) throws(ScriptError) {
        guard let first = words.first else {
            output.text([showData(), showProblems(), showGraph(), showMetrics(), showMemory()].filter { !$0.isEmpty }.joined(separator: "\n"))
            return
        }
        if program.bindings.refs[first.text]?.problem != nil {
            guard words.count == 1 else { throw ScriptError("show NAME takes no more words", at: words[1].location) }
            output.text(showProblem(try program.problem(first)))
            return
        }
        // Every topic but `config NAME` is one word; more words are refused, not ignored.
        if first.text != "config", words.count > 1, Self.showTopics.contains(first.text) {
            throw ScriptError("show \(first.text) takes no more words, got '\(words[1].text)'", at: words[1].location)
        }
        switch first.text {
        case "graph": output.text(showGraph())
        case "problems": output.text(showProblems())
        case "data": output.text(showData())
        case "memory": output.text(showMemory())
        case "metrics": output.text(showMetrics())
        case "values":
            output.text(program.bindings.values.keys.sorted().map { "\($0) = \(program.bindings.values[$0]!.value.summary)" }.joined(separator: "\n"))
        case "engine": output.text(showEngine())
        case "config":
            guard words.count == 2 else {
                throw ScriptError(words.count < 2 ? "show config takes a problem: show config NAME" : "show config NAME takes no more words, got '\(words[2].text)'",
                                  at: words.count < 2 ? first.location : words[2].location)
            }
            output.text(showConfig(try program.problem(words[1])))
        default:
            let known = Self.showTopics + program.bindings.problemOrder
            throw ScriptError("cannot show '\(first.text)'\(didYouMean(first.text, in: known)); one of \(known.joined(separator: ", "))", at: first.location)
        }
    }

    private func showData() -> String {
        program.bindings.datasetOrder.map { name in
            let made = program.dataSettings[name].map { " (\($0.joined(separator: ", then ")))" } ?? ""
            return "data \(name): \(program.describe(program.bindings.datasets[name]!.value, named: name))\(made)"
        }.joined(separator: "\n")
    }

    private func showProblems() -> String {
        program.bindings.problemOrder.compactMap { name -> String? in
            guard let p = program.bindings.refs[name]?.problem else { return nil }
            var line = "problem \(name): \(program.summary(of: p)), local step \(p.localStep)"
            if let loss = p.lastLoss { line += ", loss \(formatNumber(loss))" }
            if let norm = p.lastHypergradientNorm { line += ", hypergradient norm \(formatNumber(norm))" }
            if program.pendingChecks[name] != nil { line += " (loss not checked yet)" }
            return line
        }.joined(separator: "\n")
    }

    private func showGraph() -> String {
        guard let engine = program.engine else { return "graph: no problems" }
        var lines = ["graph: \(program.connections.isEmpty ? "no connections" : program.connections.map { "\($0.upper) -> \($0.lower)" }.joined(separator: ", "))"]
        lines.append(program.describe(engine.graph))
        return lines.joined(separator: "\n")
    }

    private func showMetrics() -> String {
        var lines: [String] = []
        for p in program.bindings.problems where !p.lastMetrics.isEmpty {
            lines.append("\(p.name): " + listing(p.lastMetrics))
        }
        if !program.bindings.lastValidation.isEmpty {
            lines.append("validation: " + listing(program.bindings.lastValidation))
        }
        return lines.joined(separator: "\n")
    }

    /// `name value, ...` in name order.
    private func listing(_ metrics: [String: Float]) -> String {
        metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(formatNumber($0.value))" }.joined(separator: ", ")
    }

    private func showMemory() -> String {
        let mib = { (b: Int) in String(format: "%.1f MiB", Double(b) / 1_048_576) }
        return "memory: tensors live \(mib(MemoryStats.liveBytes)), peak \(mib(MemoryStats.peakBytes))\n\(describeMemoryBudget())"
    }

    private func showProblem(_ p: Problem) -> String {
        var lines = ["problem \(p.name): \(program.summary(of: p)), local step \(p.localStep)"]
        if let loss = p.lastLoss { lines.append("  last loss \(formatNumber(loss))") }
        for (name, parameter) in p.module.namedParameters {
            let v = parameter.value.scalars
            let n = Float(v.count)
            let mean = v.reduce(0, +) / n
            let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            lines.append("  \(name) \(parameter.value.shape): mean \(String(format: "%.4g", mean)), std \(String(format: "%.4g", variance.squareRoot())), min \(String(format: "%.4g", v.min() ?? 0)), max \(String(format: "%.4g", v.max() ?? 0)), norm \(String(format: "%.4g", norm))")
        }
        if !p.lastMetrics.isEmpty {
            lines.append("  metrics: " + listing(p.lastMetrics))
        }
        lines += (program.settings[p.name] ?? []).map { "  " + $0 }
        lines.append(showConfig(p))
        return lines.joined(separator: "\n")
    }

    private func showConfig(_ p: Problem) -> String {
        "  config: " + Self.settings(OptionTables.config, Self.configValues(p.config))
    }

    /// Every option of the engine table with its value now.
    private func showEngine() -> String {
        let c = program.engineConfig
        var values: [String: OptionValue] = [
            "train_iters": .integer(c.trainIterations), "valid_step": .integer(c.validStep), "roll_back": .flag(c.rollBack),
            "early_stopping": .word(c.earlyStopping?.metric ?? "off"),
            "early_stopping_mode": .word((c.earlyStopping?.mode ?? .min).rawValue),
            "early_stopping_tolerance": .integer(c.earlyStopping?.tolerance ?? EngineConfig.EarlyStopping().tolerance),
            "log_every": .integer(program.logEvery), "compile": .flag(c.compile), "memory_limit": MemoryBudget.limit.map(OptionValue.integer) ?? .word("off"),
        ]
        if let csv = program.csvLogger { values["csv"] = .text(csv.path) }
        if let board = program.tensorBoardLogger { values["tensorboard"] = .text(board.directory) }
        // memory_limit is the table's last option: its size in units follows it.
        let size = MemoryBudget.limit.map { " (\(ByteCount.format($0)))" } ?? ""
        return "engine: global step \(program.engine?.globalStep ?? 0), \(Self.settings(OptionTables.engine, values))\(size)"
            + compileLines()
    }

    /// Per problem, how its step runs under `compile=on`: once something ran.
    private func compileLines() -> String {
        guard program.engineConfig.compile, let engine = program.engine else { return "" }
        var lines: [String] = []
        for p in engine.problems {
            guard let s = engine.compileStatus(of: p.name), s.recordings > 0 || s.refusal != nil else { continue }
            if let refusal = s.refusal {
                lines.append("  \(p.name): dynamic tape (\(refusal))")
            } else {
                lines.append("  \(p.name): compiled, \(s.kernels) kernel calls, buffers \(ByteCount.format(s.bufferBytes)); "
                             + "\(s.replays) step\(s.replays == 1 ? "" : "s") replayed, recorded \(s.recordings) time\(s.recordings == 1 ? "" : "s")")
            }
        }
        return lines.isEmpty ? "" : "\ncompile:\n" + lines.joined(separator: "\n")
    }

    /// `key=value` for each option of `table` that has a value, in the table's order.
    static func settings(_ table: OptionTable, _ values: [String: OptionValue]) -> String {
        table.options.compactMap { spec in values[spec.key].map { "\(spec.key)=\($0.text)" } }.joined(separator: " ")
    }

    /// A problem's config as the config table's options.
    static func configValues(_ c: ProblemConfig) -> [String: OptionValue] {
        ["type": .word(c.type.rawValue), "unroll_steps": .integer(c.unrollSteps), "first_order": .flag(c.firstOrder),
         "allow_unused": .flag(c.allowUnused), "gradient_accumulation": .integer(c.gradientAccumulation),
         "gradient_clipping": .real(c.gradientClipping), "precision": .word(c.precision.rawValue), "warmup_steps": .integer(c.warmupSteps),
         "log_step": .integer(c.logStep), "darts_alpha": .real(c.dartsAlpha), "neumann_iterations": .integer(c.neumannIterations),
         "neumann_alpha": .real(c.neumannAlpha), "cg_iterations": .integer(c.cgIterations), "sama_alpha": .real(c.samaAlpha)]
    }

    // MARK: - Completion

    /// Candidates for the word being typed, given the line so far.
    public func completions(for word: String, line: String) -> [String] {
        let before = line.prefix(max(0, line.count - word.count)).trimmingCharacters(in: .whitespaces)
        var candidates: [String]
        // The line editor breaks words at '=', so after `type=` the word is the value alone.
        if before.isEmpty {
            candidates = isContinuing ? Parser.blockCommands : Parser.commands
        } else if before.hasSuffix("type=") {
            candidates = ProblemConfig.Method.allCases.map(\.rawValue)
        } else if before.hasPrefix("config") {
            candidates = ProblemBuilder.configKeys.map { $0 + "=" } + program.bindings.problemOrder
        } else if before.hasPrefix("help") {
            candidates = Self.helpTopicNames
        } else if before.hasPrefix("show") {
            candidates = Self.showTopics + program.bindings.problemOrder
        } else {
            candidates = program.bindings.allNames
                + program.bindings.datasetOrder.flatMap { ["\($0).x", "\($0).y"] } + program.bindings.problemOrder.map { "\($0).params" }
                + program.bindings.lastValidation.keys.map { "validation.\($0)" } + (isContinuing ? ["x", "y", "params"] : [])
        }
        return Array(Set(candidates.filter { $0.hasPrefix(word) })).sorted()
    }
}

import Foundation
