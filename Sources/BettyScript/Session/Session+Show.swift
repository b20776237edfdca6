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
        case "engine":
            let c = program.engineConfig
            output.text("engine: global step \(program.engine?.globalStep ?? 0), train_iters \(c.trainIterations), valid_step \(c.validStep), roll_back \(c.rollBack), log_every \(program.logEvery == 0 ? "auto" : "\(program.logEvery)")"
                        + (c.earlyStopping.map { ", early_stopping \($0.metric) \($0.mode.rawValue) tolerance \($0.tolerance)" } ?? "")
                        + (MemoryBudget.limit.map { ", memory_limit \(ByteCount.format($0))" } ?? ""))
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
        program.bindings.datasetOrder.map { "data \($0): \(program.describe(program.bindings.datasets[$0]!.value, named: $0))" }.joined(separator: "\n")
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
        lines.append(showConfig(p))
        return lines.joined(separator: "\n")
    }

    private func showConfig(_ p: Problem) -> String {
        let c = p.config
        return "  config: type=\(c.type.rawValue) unroll_steps=\(c.unrollSteps) first_order=\(c.firstOrder) allow_unused=\(c.allowUnused) gradient_accumulation=\(c.gradientAccumulation) gradient_clipping=\(c.gradientClipping) precision=\(c.precision.rawValue) warmup_steps=\(c.warmupSteps) log_step=\(c.logStep) darts_alpha=\(c.dartsAlpha) neumann_iterations=\(c.neumannIterations) neumann_alpha=\(c.neumannAlpha) cg_iterations=\(c.cgIterations) sama_alpha=\(c.samaAlpha)"
    }

    // MARK: - Help

    static let helpTopics: [String: String] = [
        "data": """
            data NAME = digits | mnist5k [scale=1/255] [flatten]
            data NAME = logistic samples=1000 features=20 [seed=S]     Betty's regression generator
            data NAME = sinusoid tasks=10000 shots=10 query=10 [seed=S]  few-shot tasks y = A sin(x - phase)
            data NAME = npy "x.npy" "y.npy" | idx "images" "labels" | csv "file.csv" [label=-1] [header=auto|yes|no]
                                                  header=auto (default) takes a first row with a non-number as column names, and says so
            split NAME -> A 0.8, B 0.2            fractions, or counts (400, 10, 90); add per_class for counts per class
            imbalance NAME factor=100 [seed=S]    long-tailed classes (largest / smallest), a random subset of each
            noise NAME ratio=0.2 [kind=uniform|flip]
            scale NAME by=0.5
            normalize NAME [mean=0.1307 std=0.3081]   (x - mean) / std; without values, the data set's own
            """,
        "problem": """
            problem NAME
              module    linear IN -> OUT [bias=false] | mlp 784 -> 200 -> 10 [activation=relu out=sigmoid]
                        | params 20 [init=zeros|ones|constant|normal|uniform value= mean= std= low= high=] | params 20 from="start.npy" | from=DATA.x
                        | sequential conv2d(1, 8, kernel=3), relu, maxpool(2), flatten, linear(1352, 10)
              optimizer sgd lr=0.1 [momentum= dampening= weight_decay= nesterov] | adam/adamw lr= [beta1= beta2= eps= weight_decay= amsgrad]
              schedule  constant | step size= gamma= | multistep milestones=(a, b) gamma= | cosine period= min=   [warmup=N]
              data      SET batch=100 [shuffle=false] [drop_last]
                        | TASKS.support | TASKS.query   one task per batch; support keeps its task until query serves it
              let       NAME = EXPRESSION
              loss      EXPRESSION                 e.g. cross_entropy(NAME(x), y)
              metric    NAME = EXPRESSION          logged with every step, e.g. acc = accuracy(NAME(x), y)
              config    type=darts unroll=1 ...    (help config)
              reset_on_start [from=P]              at each inner loop start, restore the initial parameters (or take P's,
                                                   differentiably in reverse mode: MAML) and reset the optimizer state
              clamp     min=1e-8 [max=...]         after every optimizer step
            end
            """,
        "expressions": """
            numbers, + - * / @ (matrix product) ^ (power), parentheses
            x, y                 the problem's current batch
            params, P.params     a problem's parameter tensor (when it has one); P.NAME for a named one (P.0.weight)
            P(input)             call problem P's module;  P.loss, P.METRIC  its last loss and metrics
            P.mean_loss          the mean of P's losses over its last 100 steps
            D.x, D.y, D.count    a data set;  validation.METRIC  the latest validation
            functions: \(Functions.names.joined(separator: ", ")) (help functions)
            """,
        "config": """
            config NAME key=value ...   (or a config line inside the problem block)
            keys: \(ProblemBuilder.configKeys.joined(separator: ", "))
            type: darts | neumann | cg | sama | reverse
            type and its settings (darts_alpha, neumann_*, cg_iterations, sama_alpha) are read from the lower
            level a path runs through (config inner ...), never from the upper level that owns the path
            """,
        "run": """
            connect UPPER -> LOWER [-> ...]   the upper level's loss depends on the lower level's solution
            disconnect UPPER -> LOWER
            engine train_iters=N valid_step=N roll_back=true early_stopping=METRIC early_stopping_mode=max early_stopping_tolerance=5 log_every=N csv="run.csv"
                   memory_limit=2e9 | "512MB" | "1.5GiB" | off   cap on live tensors, checked before data sets and modules are allocated;
                                                                 units B, KB, MB, GB, TB (1000s), KiB, MiB, GiB, TiB (1024s), quoted
            validate every N: NAME = EXPRESSION, ...    define validation;  validate  runs it now
            run [N]        N global steps (Ctrl-C pauses);  continue  resumes;  step [N]  steps, printing every one (Ctrl-C stops it too)
                           Ctrl-C inside one long step (a huge neumann_iterations) undoes the step and says which step the state is at
                           at the interactive prompt a run goes to the background and the prompt shows its progress:
                           wait  until it ends (Ctrl-C pauses);  pause;  continue;  stop  ends it;  dashboard  watches it (q: back)
                           while it runs: show, print, hypergrad, check, expect, let answer at a step boundary; config and engine
                           settings apply from the next step; problem, connect, data, load, reset, save ... need 'pause' first
            reset          rebuild every problem from its definition (same seed)
            """,
        "inspect": """
            show [graph | problems | data | config NAME | engine | memory | metrics | values | NAME]
            hypergrad NAME [all]   the total gradient NAME would apply now, and its norm; all: every value, full precision
            check hypergrad NAME [against=reverse|fd] [steps=K] [reference_steps=R]
                           NAME's hypergradient by darts, neumann, cg, sama and reverse mode (K unrolled steps; default each
                           level's unroll), each after one window of the levels below from the current state (put back after),
                           against reverse mode or central differences through R steps (default: a reverse-mode level's unroll,
                           10x for the others); prints norm, cosine, relative error and time, and warns of a diverging
                           Neumann series; expressions read check.METHOD.rel_error | cosine | norm | time (METHOD: a row,
                           configured or reference)
            print EXPRESSION    let NAME = EXPRESSION
            expect EXPRESSION < | > | <= | >= | == | != EXPRESSION    fails the replay (exit 1) when false
            save "file.safetensors"   load "file.safetensors"   record "session.betty"   quit
            """,
    ]

    func help(_ topic: Name?) throws(ScriptError) {
        guard let topic else {
            output.text("""
                BettyScript: one statement per line, # starts a comment. Topics: help data | problem | expressions | functions | config | run | inspect
                commands: \(Parser.commands.joined(separator: ", "))
                """)
            return
        }
        if topic.text == "functions" {
            output.text(Functions.help.map { "  \($0.usage)" }.joined(separator: "\n"))
            return
        }
        guard let text = Self.helpTopics[topic.text] else {
            let topics = Array(Self.helpTopics.keys).sorted() + ["functions"]
            throw ScriptError("no help on '\(topic.text)'\(didYouMean(topic.text, in: topics)); topics: \(topics.joined(separator: ", "))", at: topic.location)
        }
        output.text(text)
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
            candidates = Array(Self.helpTopics.keys) + ["functions"]
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
