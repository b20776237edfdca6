/// `help`: the language in one screen (README's summary is this text, checked by a test), and a
/// topic per part, whose options are printed from the option tables that parse them.
extension Session {
    /// The grammar of every statement, with `{table}` where a table's options go in compact form.
    private static let summaryTemplate = """
        seed N
        data NAME = digits {data digits}  |  mnist5k {data mnist5k}
                  | logistic {data logistic}     Betty's regression generator
                  | sinusoid {data sinusoid}     few-shot tasks y = A sin(x - phase)
                  | npy "x.npy" "y.npy" {data npy}  |  idx "images" "labels" {data idx}
                  | npz "file.npz" {data npz}     arrays of np.savez / np.savez_compressed
                  | cifar10 "data_batch_1.bin" ... {data cifar10}  |  cifar100 "train.bin" ... {data cifar100}
                  | csv "file.csv" {data csv}
        split NAME -> A n, B n {split}     counts (400, 10), or fractions below 1 (0.8, 0.2)
        imbalance NAME {imbalance}      noise NAME {noise}
        scale NAME {scale}      normalize NAME {normalize}
        problem NAME
          module    linear IN -> OUT {module linear}
                    | mlp A -> B -> C {module mlp}
                    | params N, ... {module params}
                    | sequential LAYER, ...    each LAYER one of: linear(in, out, {layer linear})
                      conv2d(in, out, {layer conv2d})  maxpool(k)  avgpool(k)  batchnorm(features)
                      dropout({layer dropout})  relu  tanh  sigmoid  softplus  flatten
          optimizer sgd {optimizer sgd}
                    | adam {optimizer adam}
                    | adamw {optimizer adamw}
          schedule  constant | step {schedule step} | multistep {schedule multistep}
                    | cosine {schedule cosine}     each with {warmup}
          data      SET {problem data}   |   TASKS.support | TASKS.query {task data}
          let NAME = EXPR      loss EXPR      metric NAME = EXPR      config key=value ...   (as config NAME below)
          reset_on_start {reset_on_start}      clamp {clamp}
        end
        connect UPPER -> LOWER [-> ...]     disconnect UPPER -> LOWER
        config NAME {config}
        engine {engine}
        validate every N: NAME = EXPR, ...   validate      run [N]   step [N]   continue   reset   wait   pause   stop
        dashboard   show [graph|problems|data|config NAME|engine|memory|metrics|values|NAME]    hypergrad NAME [all]
        check hypergrad NAME {check}
        let NAME = EXPR   print EXPR   expect EXPR OP EXPR   save "f"   load "f"   record "f"   help [TOPIC]   quit
        export NAME.params|NAME.PARAM "f.npy"   export history "f.csv"   plot ["f.svg"] [log]
        save weights NAME "f"   load weights "f" into NAME     NAME's module as a PyTorch state dict (safetensors)
        EXPR: numbers, + - * / @ ^, x y (the batch), params, P(input), P.params, P.NAME, P.loss, P.mean_loss, D.x, D.y,
              validation.METRIC, check.METHOD.rel_error|cosine|norm|time, and the functions
              {functions}
        """

    /// The tables the template names.
    private static var summaryTables: [String: OptionTable] {
        var tables: [String: OptionTable] = [
            "split": OptionTables.split, "problem data": OptionTables.problemData, "task data": OptionTables.taskData,
            "config": OptionTables.config, "engine": OptionTables.engine, "check": OptionTables.checkHypergrad,
            "warmup": OptionTable("warmup", OptionTables.warmup),
        ]
        for (kind, table) in OptionTables.dataSources { tables["data \(kind)"] = table }
        for (kind, table) in OptionTables.transforms { tables[kind] = table }
        for (kind, table) in OptionTables.modules { tables["module \(kind)"] = table }
        for (kind, table) in OptionTables.layers { tables["layer \(kind)"] = table }
        for (kind, table) in OptionTables.optimizers { tables["optimizer \(kind)"] = table }
        // A schedule's warmup options are shown once, after all of them.
        let warmup = Set(OptionTables.warmup.map(\.key))
        for (kind, table) in OptionTables.schedules {
            tables["schedule \(kind)"] = OptionTable(table.statement, table.options.filter { !warmup.contains($0.key) })
        }
        for (kind, table) in OptionTables.hooks { tables[kind] = table }
        return tables
    }

    /// The language in one screen: `help` prints it, and README shows it.
    public static var languageSummary: String {
        let tables = summaryTables
        var text = summaryTemplate.replacingOccurrences(of: "{functions}", with: Functions.names.joined(separator: " "))
        for (name, table) in tables {
            // A layer's options are keyword arguments, between commas.
            let compact = name.hasPrefix("layer ") ? table.compact.replacingOccurrences(of: " ", with: ", ") : table.compact
            text = text.replacingOccurrences(of: "{\(name)}", with: compact)
        }
        precondition(!text.contains("{"), "a table the summary names is missing")
        return text.split(separator: "\n", omittingEmptySubsequences: false).flatMap { wrapped(String($0), width: 120) }
            .map(\.trimmingTrailingSpaces).joined(separator: "\n")
    }

    /// `line` broken at spaces to at most `width` columns, continuation lines indented under its
    /// first word after the indentation, plus two.
    static func wrapped(_ line: String, width: Int) -> [String] {
        guard line.count > width else { return [line] }
        let indent = line.prefix { $0 == " " }.count
        let body = line.dropFirst(indent)
        let firstWord = body.prefix { $0 != " " }.count
        // A statement continues under its first option; an indented line, two further in.
        let continuation = String(repeating: " ", count: min(indent == 0 ? firstWord + 1 : indent + 2, width / 2))
        var lines: [String] = []
        var current = String(repeating: " ", count: indent)
        for word in body.split(separator: " ", omittingEmptySubsequences: false) {
            let fresh = current.allSatisfy { $0 == " " }
            let candidate = fresh ? current + word : current + " " + word
            if candidate.count > width, !fresh {
                lines.append(current)
                current = continuation + word
            } else {
                current = candidate
            }
        }
        lines.append(current)
        return lines
    }

    // MARK: - Topics

    /// Each topic: what its statements look like, then every option of its tables, one per line.
    private static var helpTopics: [String: (prose: String, tables: [OptionTable])] {
        let sources = OptionTables.dataSources
        let transforms = OptionTables.transforms
        return [
            "data": ("""
                data NAME = SOURCE [files] [options]     a data set: x and y (labels or targets)
                split NAME -> A 0.8, B 0.2            fractions, or counts (400, 10, 90); per_class for counts per class
                imbalance | noise | scale | normalize NAME [options]   transform a data set in place
                npz: x= and y= name two arrays of the archive (np.savez, np.savez_compressed: members stored or deflated)
                cifar10, cifar100: the binary batches, in the order given; x [N, 3, 32, 32] of pixel bytes 0 to 255 (scale=1/255), y [N]
                a problem that draws from a changed set takes it up at its next epoch (the statement says from which step)
                """, ["digits", "mnist5k", "logistic", "sinusoid", "npy", "npz", "idx", "csv", "cifar10", "cifar100"].map { sources[$0]! } + [OptionTables.split]
                    + ["imbalance", "noise", "scale", "normalize"].map { transforms[$0]! }),
            "problem": ("""
                problem NAME
                  module    linear IN -> OUT | mlp 784 -> 200 -> 10 | params 20 | sequential conv2d(1, 8, kernel=3), relu, maxpool(2), flatten, linear(1352, 10)
                  optimizer sgd | adam | adamw  [options]
                  schedule  constant | step | multistep | cosine  [options]
                  data      SET [options] | TASKS.support | TASKS.query   one task per batch; support keeps its task until query serves it
                  let       NAME = EXPRESSION
                  loss      EXPRESSION                 e.g. cross_entropy(NAME(x), y)
                  metric    NAME = EXPRESSION          logged with every step, e.g. acc = accuracy(NAME(x), y)
                  config    key=value ...              (help config)
                  reset_on_start [from=P]              at each inner loop start, restore the initial parameters (or take P's,
                                                       differentiably in reverse mode: MAML) and reset the optimizer state
                  clamp     [min=] [max=]              after every optimizer step
                end
                Each line once; its options:
                """, ["linear", "mlp", "params", "sequential"].map { OptionTables.modules[$0]! }
                    + ["linear", "conv2d", "dropout"].map { OptionTables.layers[$0]! }
                    + ["sgd", "adam", "adamw"].map { OptionTables.optimizers[$0]! }
                    + ["constant", "step", "multistep", "cosine"].map { OptionTables.schedules[$0]! }
                    + [OptionTables.problemData, OptionTables.taskData, OptionTables.hooks["reset_on_start"]!, OptionTables.hooks["clamp"]!]),
            "expressions": ("""
                numbers, + - * / @ (matrix product) ^ (power), parentheses
                x, y                 the problem's current batch
                params, P.params     a problem's parameter tensor (when it has one); P.NAME for a named one (P.0.weight)
                P(input)             call problem P's module;  P.loss, P.METRIC  its last loss and metrics
                P.mean_loss          the mean of P's losses over its last 100 steps
                D.x, D.y, D.count    a data set;  validation.METRIC  the latest validation
                functions: \(Functions.names.joined(separator: ", ")) (help functions)
                """, []),
            "config": ("""
                config NAME key=value ...   (or a config line inside the problem block)
                type and its settings (darts_alpha, neumann_*, cg_iterations, sama_alpha) are read from the lower
                level a path runs through (config inner ...), never from the upper level that owns the path
                """, [OptionTables.config]),
            "run": ("""
                connect UPPER -> LOWER [-> ...]   the upper level's loss depends on the lower level's solution
                disconnect UPPER -> LOWER
                engine key=value ...                        the engine's settings (below)
                validate every N: NAME = EXPRESSION, ...    define validation;  validate  runs it now
                run [N]        N global steps (Ctrl-C pauses);  continue  resumes;  step [N]  steps, printing every one (Ctrl-C stops it too)
                               Ctrl-C inside one long step (a huge neumann_iterations) undoes the step and says which step the state is at
                               at the interactive prompt a run goes to the background and the prompt shows its progress:
                               wait  until it ends (Ctrl-C pauses);  pause;  continue;  stop  ends it;  dashboard  watches it (q: back)
                               while it runs: show, print, hypergrad, check, expect, let answer at a step boundary; config and engine
                               settings apply from the next step; problem, connect, data, load, reset, save ... need 'pause' first
                reset          rebuild every problem from its definition (same seed)
                """, [OptionTables.engine]),
            "inspect": ("""
                show [graph | problems | data | config NAME | engine | memory | metrics | values | NAME]
                               NAME: its parameters, and every line of its definition with every option's value
                hypergrad NAME [all]   the total gradient NAME would apply now, and its norm; all: every value, full precision
                check hypergrad NAME [options]
                               NAME's hypergradient by darts, neumann, cg, sama and reverse mode (steps unrolled steps; default each
                               level's unroll), each after one window of the levels below from the current state (put back after),
                               against reverse mode or central differences through reference_steps steps (default: a reverse-mode
                               level's unroll, 10x for the others); prints norm, cosine, relative error and time, and warns of a
                               diverging Neumann series; expressions read check.METHOD.rel_error | cosine | norm | time (METHOD: a
                               row, configured or reference)
                print EXPRESSION    let NAME = EXPRESSION
                expect EXPRESSION < | > | <= | >= | == | != EXPRESSION    fails the replay (exit 1) when false
                save "file.safetensors"   load "file.safetensors"   record "session.betty"   quit
                export NAME.params "f.npy"   a problem's parameter tensor (NAME.PARAM for one of several: net.0.weight)
                               as a float32 .npy (np.load reads the same values bit for bit)
                export history "f.csv"   every recorded series, one row per value: series,global_step,local_step,value
                               (P/loss, hypergradient_norm/P, P/METRIC, validation/METRIC, memory/live_bytes, memory/peak_bytes)
                plot ["f.svg"] [log]   an SVG (default betty-plot.svg) of each level's loss, the hypergradient norms and the
                               validation metrics; log: log-scale y (a panel with values <= 0 stays linear and says so)
                               The history is the current trajectory's: it starts over when the global step goes back (reset, load)
                save weights NAME "file.safetensors"   load weights "file.safetensors" into NAME
                               NAME's module as a PyTorch state dict: parameters and buffers under torch's names (0.weight,
                               1.running_mean ...), F32 written, F16/BF16/F64 converted on load; every missing, unexpected or
                               misshapen name is listed and nothing changes unless all fit (num_batches_tracked is ignored)
                """, [OptionTables.checkHypergrad]),
        ]
    }

    /// Statements with options, as help topics of their own: `help optimizer`, `help engine`.
    private static var statementTopics: [String: [OptionTable]] {
        [
            "module": OptionTables.modules.sorted { $0.key < $1.key }.map(\.value),
            "layers": OptionTables.layers.sorted { $0.key < $1.key }.map(\.value),
            "optimizer": ["sgd", "adam", "adamw"].map { OptionTables.optimizers[$0]! },
            "schedule": ["constant", "step", "multistep", "cosine"].map { OptionTables.schedules[$0]! },
            "engine": [OptionTables.engine], "split": [OptionTables.split], "check": [OptionTables.checkHypergrad],
            "clamp": [OptionTables.hooks["clamp"]!], "reset_on_start": [OptionTables.hooks["reset_on_start"]!],
        ].merging(OptionTables.transforms.mapValues { [$0] }) { a, _ in a }
    }

    static var helpTopicNames: [String] { (Array(helpTopics.keys) + Array(statementTopics.keys) + ["functions"]).sorted() }

    func help(_ topic: Name?) throws(ScriptError) {
        guard let topic else {
            let topics = "BettyScript: one statement per line, # starts a comment. help TOPIC for more: \(Self.helpTopicNames.joined(separator: ", "))"
            output.text((Self.wrapped(topics, width: 120) + [Self.languageSummary]).joined(separator: "\n"))
            return
        }
        if topic.text == "functions" {
            output.text(Functions.help.map { "  \($0.usage)" }.joined(separator: "\n"))
            return
        }
        if let (prose, tables) = Self.helpTopics[topic.text] {
            output.text(([prose] + tables.map(\.detailed)).joined(separator: "\n"))
            return
        }
        guard let tables = Self.statementTopics[topic.text] else {
            let topics = Self.helpTopicNames
            throw ScriptError("no help on '\(topic.text)'\(didYouMean(topic.text, in: topics)); topics: \(topics.joined(separator: ", "))", at: topic.location)
        }
        output.text(tables.map(\.detailed).joined(separator: "\n"))
    }
}

import Foundation
