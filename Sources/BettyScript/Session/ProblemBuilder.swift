import Betty
import BettyNN
import BettyTensor

/// Builds a `Problem` from its block: module, optimizer, schedule, loaders, the compiled training
/// step, config and hooks. Everything is checked before anything is created.
struct ProblemBuilder {
    let session: Session
    let spec: ProblemSpec
    /// Each line as it took effect, every option with its value (given or default): what `show
    /// NAME` prints.
    private let settings = Settings()

    init(session: Session, spec: ProblemSpec) {
        self.session = session
        self.spec = spec
    }

    private final class Settings {
        var lines: [String] = []
    }

    struct Built {
        var problem: Problem
        /// Problems the expressions refer to that were not defined yet.
        var forwardReferences: [Name]
        /// Every other problem the loss, lets and metrics call or read.
        var reads: [Name]
        /// Evaluates loss and metrics on the first batch, to catch shape errors before any run.
        var check: () throws(ScriptError) -> Void
        /// Lines to show once the problem is defined (`warning: ...`).
        var warnings: [String]
        /// The module, optimizer, schedule, data and hook lines with every option's value.
        var settings: [String]
    }

    func build() throws(ScriptError) -> Built {
        let name = spec.name
        var generator = RandomGenerator(seed: session.program.seed ^ stableHash(name.text))
        guard let moduleLine = spec.module else { throw ScriptError("problem '\(name.text)' has no module line", at: name.location) }
        let module = try buildModule(moduleLine, using: &generator)
        let parameters = module.parameters
        guard !parameters.isEmpty else { throw ScriptError("problem '\(name.text)': its module has no parameters", at: name.location) }
        let optimizer = try buildOptimizer(parameters)
        let schedule = try buildSchedule()
        guard !spec.data.isEmpty else { throw ScriptError("problem '\(name.text)' has no data line (data SET batch=N)", at: name.location) }
        var loaders: [DataLoader] = []
        var warnings: [String] = []
        for (index, (set, part, options)) in spec.data.enumerated() {
            if let part {
                let (loader, canonical) = try session.episodeLoader(set, part: part, options: options)
                loaders.append(loader)
                settings.lines.append("data \(set.text).\(part.text) \(canonical)")
                continue
            }
            let dataset = try session.program.dataset(set)
            var reader = try OptionReader(options, table: OptionTables.problemData)
            let batch = try reader.integer("batch", default: min(32, dataset.count))
            let shuffle = try reader.flag("shuffle")
            let dropLast = try reader.flag("drop_last")
            try reader.finish()
            settings.lines.append(Self.line("data \(set.text)", reader))
            if batch > dataset.count {
                let batchLocation = options.first { $0.key == "batch" }?.location ?? set.location
                guard !dropLast else {
                    throw ScriptError("batch=\(batch) with drop_last is larger than '\(set.text)' (\(dataset.count) samples): no batch would ever be produced",
                                      at: batchLocation)
                }
                warnings.append("warning: problem \(name.text): batch=\(batch) is larger than '\(set.text)' (\(dataset.count) samples); every batch is the whole set (\(batchLocation))")
            }
            do {
                loaders.append(try DataLoader(dataset, batchSize: batch, shuffle: shuffle, dropLast: dropLast,
                                              seed: generator.next() &+ UInt64(index)))
            } catch {
                throw ScriptError("\(error)", at: set.location)
            }
        }
        let config = try buildConfig()
        guard let lossExpr = spec.loss else { throw ScriptError("problem '\(name.text)' has no loss line", at: name.location) }

        var compiler = ExpressionCompiler(bindings: session.program.bindings, problemName: name.text)
        var lets: [Compiled] = []
        for (letName, e) in spec.lets {
            lets.append(try compiler.compile(e))
            compiler.locals[letName.text] = lets.count - 1
        }
        let loss = try compiler.node(lossExpr)
        // Evaluated as a tensor without a detour through `Value` when its kind is known.
        let lossCode: TensorCode? = if case let .tensor(code) = loss { code } else { nil }
        let lossValue = loss.compiled
        var metrics: [(String, Compiled, SourceLocation)] = []
        for (metricName, e) in spec.metrics { metrics.append((metricName.text, try compiler.compile(e), e.location)) }

        let lossLocation = lossExpr.location
        let problemName = name.text
        /// The loss (and, when asked, the metrics, recorded with `Problem.log`) on one batch.
        let evaluate = { (p: Problem, batch: Batch, withMetrics: Bool) throws(ScriptError) -> Tensor in
            var env = Env(problem: p, batch: batch, locals: [])
            env.locals.reserveCapacity(lets.count)
            do throws(ScriptError) {
                for binding in lets { env.locals.append(try binding(&env)) }
                let t: Tensor
                if let lossCode {
                    t = try lossCode(&env)
                } else {
                    let value = try lossValue(&env)
                    guard case let .tensor(tensor) = value else {
                        throw ScriptError("the loss is a constant; it must depend on the parameters", at: lossLocation)
                    }
                    t = tensor
                }
                guard t.count == 1 else {
                    throw ScriptError("the loss must be one number, got \(t.shape); reduce it with mean(...) or sum(...)", at: lossLocation)
                }
                if withMetrics && !metrics.isEmpty {
                    try withoutGrad { () throws(ScriptError) in
                        for (metricName, metric, location) in metrics {
                            guard let v = try metric(&env).scalar else {
                                throw ScriptError("metric '\(metricName)' must be one number", at: location)
                            }
                            p.log(metricName, v)
                        }
                    }
                }
                return t
            } catch {
                var located = error
                if !located.message.hasPrefix("problem '") { located.message = "problem '\(problemName)': \(located.message)" }
                throw located
            }
        }
        let step: Problem.TrainingStep = { p, batch in try evaluate(p, batch, p.isRecordingMetrics) }
        let problem = Problem(name: name.text, module: module, optimizer: optimizer, data: loaders, config: config,
                              schedule: schedule, trainingStep: step)
        let startsFrom = try installHooks(problem)
        var forwardReferences = compiler.forwardReferences
        if let from = startsFrom, !session.program.bindings.isProblem(from.text) { forwardReferences.append(from) }
        let first = loaders[0]
        let check = { () throws(ScriptError) in
            let batch = first.sampleBatch()
            let loss = try evaluate(problem, batch, true)
            guard loss.requiresGrad else {
                throw ScriptError("problem '\(problemName)': the loss does not depend on any parameter, so there is nothing to train", at: lossLocation)
            }
            if let from = startsFrom, let source = session.program.bindings.refs[from.text]?.problem {
                try Self.checkStartingPoint(problem, from: source, at: from.location)
            }
        }
        return Built(problem: problem, forwardReferences: forwardReferences, reads: compiler.problemReads, check: check,
                     warnings: warnings, settings: settings.lines)
    }

    // MARK: - Module

    private func sizes(_ exprs: [Expr]) throws(ScriptError) -> [Int] {
        var result: [Int] = []
        for e in exprs { result.append(try OptionReader.integer(e, key: "a size", in: 1...99_999_999)) }
        return result
    }

    /// Throws when the parameters a module line or layer would allocate do not fit in memory,
    /// saying which, as typed (`span`), before anything is allocated.
    private func requireParameterMemory(_ floats: Int?, prefix: String, at span: SourceLocation) throws(ScriptError) {
        try session.requireMemory(floats: floats, for: "\(prefix)\(session.typedText(span) ?? "the module")", at: span)
    }

    /// Weight and bias of a linear map.
    private static func linearFloats(_ input: Int, _ output: Int, bias: Bool) -> Int? {
        MemoryBudget.sum([MemoryBudget.product([input, output]), bias ? output : 0])
    }

    private func buildModule(_ line: ProblemLine, using generator: inout RandomGenerator) throws(ScriptError) -> any Module {
        guard case let .module(kind, sizeExprs, layers, options) = line else { preconditionFailure() }
        var reader = try OptionReader(options, table: OptionTables.modules[kind.text]!)
        let span = kind.location.through(sizeExprs.last?.location ?? kind.location)
        switch kind.text {
        case "linear":
            let s = try sizes(sizeExprs)
            guard s.count == 2 else { throw ScriptError("linear takes IN -> OUT", at: kind.location) }
            let bias = try reader.flag("bias")
            try reader.finish()
            settings.lines.append(Self.line("module linear \(s[0]) -> \(s[1])", reader))
            try requireParameterMemory(Self.linearFloats(s[0], s[1], bias: bias), prefix: "module ", at: span)
            return Linear(s[0], s[1], bias: bias, using: &generator)
        case "mlp":
            let s = try sizes(sizeExprs)
            guard s.count >= 2 else { throw ScriptError("mlp takes at least IN -> OUT", at: kind.location) }
            let activation = try reader.word("activation")
            let out = try reader.word("out")
            let bias = try reader.flag("bias")
            try reader.finish()
            settings.lines.append(Self.line("module mlp \(s.map(String.init).joined(separator: " -> "))", reader))
            let floats = MemoryBudget.sum(zip(s, s.dropFirst()).map { Self.linearFloats($0, $1, bias: bias) })
            try requireParameterMemory(floats, prefix: "module ", at: span)
            return MLP(s, activation: Activation.Kind(rawValue: activation)!, output: Activation.Kind(rawValue: out)!,
                       bias: bias, using: &generator)
        case "params":
            let s = try sizes(sizeExprs)
            try requireParameterMemory(MemoryBudget.product(s), prefix: "module ", at: span)
            if let (_, source) = try reader.raw("from") {
                reader.record("from", source.dottedName.map(OptionValue.word) ?? .text(Self.quoted(source)))
                try reader.finish(unusedBecause: "with from=")
                settings.lines.append(Self.line("module params \(s.map(String.init).joined(separator: ", "))", reader))
                return ParameterTensor(try startingValues(source, shape: s))
            }
            // Only the values the initializer reads: `init=ones mean=3` is refused, not ignored.
            let initializer = try reader.word("init")
            let chosen: Initializer
            switch initializer {
            case "ones": chosen = .ones
            case "constant": chosen = .constant(try reader.real("value"))
            case "normal": chosen = .normal(mean: try reader.real("mean"), std: try reader.real("std"))
            case "uniform":
                let low = try reader.real("low"), high = try reader.real("high")
                guard low <= high else {
                    throw ScriptError("params: low must not exceed high, got low=\(formatNumber(low)) high=\(formatNumber(high))", at: kind.location)
                }
                chosen = .uniform(low: low, high: high)
            default: chosen = .zeros
            }
            try reader.finish(unusedBecause: "with init=\(initializer)")
            settings.lines.append(Self.line("module params \(s.map(String.init).joined(separator: ", "))", reader))
            return ParameterTensor(Shape(s), initializer: chosen, using: &generator)
        default:
            try reader.finish()
            var built: [any Module] = [], written: [String] = []
            for layer in layers {
                let (module, text) = try buildLayer(layer, using: &generator)
                built.append(module)
                written.append(text)
            }
            settings.lines.append("module sequential \(written.joined(separator: ", "))")
            return Sequential(built)
        }
    }

    static let layerNames = ["linear", "conv2d", "maxpool", "avgpool", "relu", "tanh", "sigmoid", "softplus", "flatten",
                             "dropout", "batchnorm"]

    /// A layer's keyword arguments; a layer without any refuses every one.
    static func layerOptions(_ name: String) -> OptionTable {
        OptionTables.layers[name] ?? OptionTable("\(name)", [])
    }

    /// The layer and how it took effect: `conv2d(1, 8, kernel=3, stride=1, padding=0, bias=true)`.
    private func buildLayer(_ e: Expr, using generator: inout RandomGenerator) throws(ScriptError) -> (any Module, String) {
        let name: String, location: SourceLocation, arguments: [Argument]
        switch e {
        case let .name(n, l): (name, location, arguments) = (n, l, [])
        case let .call(.name(n, l), args, _): (name, location, arguments) = (n, l, args)
        default: throw ScriptError("a layer is a name or a call, e.g. relu or linear(784, 10)", at: e.location)
        }
        var positional: [Int] = []
        var options: [Option] = []
        for a in arguments {
            if let label = a.label {
                options.append(Option(key: label, keyLocation: a.labelLocation!, value: a.value))
            } else {
                positional += try sizes([a.value])
            }
        }
        var reader = try OptionReader(options, table: Self.layerOptions(name))
        func expectCount(_ n: Int, _ usage: String) throws(ScriptError) {
            guard positional.count == n else { throw ScriptError("\(name) takes \(usage)", at: e.location) }
        }
        let module: any Module
        switch name {
        case "linear":
            try expectCount(2, "(in, out)")
            let bias = try reader.flag("bias")
            try requireParameterMemory(Self.linearFloats(positional[0], positional[1], bias: bias), prefix: "layer ", at: e.location)
            module = Linear(positional[0], positional[1], bias: bias, using: &generator)
        case "conv2d":
            try expectCount(2, "(in_channels, out_channels, kernel=k, stride=s, padding=p)")
            let k = try reader.integer("kernel"), s = try reader.integer("stride")
            let pad = try reader.integer("padding")
            let bias = try reader.flag("bias")
            let floats = MemoryBudget.sum([MemoryBudget.product([positional[1], positional[0], k, k]), bias ? positional[1] : 0])
            try requireParameterMemory(floats, prefix: "layer ", at: e.location)
            module = Conv2d(positional[0], positional[1], kernel: (k, k), stride: (s, s), padding: (pad, pad), bias: bias, using: &generator)
        case "maxpool", "avgpool":
            try expectCount(1, "(kernel)")
            let k = positional[0]
            module = name == "maxpool" ? MaxPool2d(kernel: (k, k)) as any Module : AvgPool2d(kernel: (k, k))
        case "relu", "tanh", "sigmoid", "softplus":
            try expectCount(0, "no arguments")
            module = Activation(Activation.Kind(rawValue: name)!)
        case "flatten":
            try expectCount(0, "no arguments")
            module = Flatten()
        case "dropout":
            try expectCount(0, "p=probability")
            let p = try reader.real("p")
            module = Dropout(p, seed: generator.next())
        case "batchnorm":
            try expectCount(1, "(features)")
            // Weight, bias, running mean and running variance.
            try requireParameterMemory(MemoryBudget.product([positional[0], 4]), prefix: "layer ", at: e.location)
            module = BatchNorm(positional[0])
        default:
            throw ScriptError("unknown layer '\(name)'\(didYouMean(name, in: Self.layerNames)); one of \(Self.layerNames.joined(separator: ", "))", at: location)
        }
        try reader.finish()
        let written = positional.map(String.init) + reader.canonical.split(separator: " ").map(String.init)
        return (module, written.isEmpty ? name : "\(name)(\(written.joined(separator: ", ")))")
    }

    /// `head key=value ...`.
    private static func line(_ head: String, _ reader: OptionReader) -> String {
        reader.canonical.isEmpty ? head : "\(head) \(reader.canonical)"
    }

    /// A quoted path as written.
    private static func quoted(_ e: Expr) -> String {
        if case let .string(text, _) = e { return text }
        return "?"
    }

    // MARK: - Optimizer, schedule, config, hooks

    private func buildOptimizer(_ parameters: [Parameter]) throws(ScriptError) -> any Optimizer {
        guard let (kind, options) = spec.optimizer else {
            throw ScriptError("problem '\(spec.name.text)' has no optimizer line (e.g. optimizer sgd lr=0.1)", at: spec.name.location)
        }
        guard let table = OptionTables.optimizers[kind.text] else {
            throw ScriptError("unknown optimizer '\(kind.text)'\(didYouMean(kind.text, in: ["sgd", "adam", "adamw"])); one of sgd, adam, adamw", at: kind.location)
        }
        var reader = try OptionReader(options, table: table)
        let optimizer: any Optimizer
        switch kind.text {
        case "sgd":
            let lr = try reader.real("lr")
            let momentum = try reader.real("momentum")
            let dampening = try reader.real("dampening")
            let decay = try reader.real("weight_decay")
            let nesterov = try reader.flag("nesterov")
            // PyTorch's rule: without momentum, or with dampening, Nesterov's look-ahead is not defined.
            guard !nesterov || (momentum > 0 && dampening == 0) else {
                throw ScriptError("nesterov needs momentum > 0 and dampening=0, got momentum=\(formatNumber(momentum)) dampening=\(formatNumber(dampening))",
                                  at: options.first { $0.key == "nesterov" }?.location ?? kind.location)
            }
            optimizer = SGD(parameters, learningRate: lr, momentum: momentum, dampening: dampening, weightDecay: decay, nesterov: nesterov)
        case "adam", "adamw":
            let lr = try reader.real("lr")
            let beta1 = try reader.real("beta1"), beta2 = try reader.real("beta2")
            let eps = try reader.real("eps")
            let decay = try reader.real("weight_decay")
            let amsgrad = try reader.flag("amsgrad")
            optimizer = kind.text == "adam"
                ? Adam(parameters, learningRate: lr, beta1: beta1, beta2: beta2, epsilon: eps, weightDecay: decay, amsgrad: amsgrad)
                : AdamW(parameters, learningRate: lr, beta1: beta1, beta2: beta2, epsilon: eps, weightDecay: decay, amsgrad: amsgrad)
        default:
            preconditionFailure("an optimizer without a builder: \(kind.text)")
        }
        try reader.finish()
        settings.lines.append(Self.line("optimizer \(kind.text)", reader))
        return optimizer
    }

    private func buildSchedule() throws(ScriptError) -> LearningRateSchedule? {
        guard let (kind, options) = spec.schedule else { return nil }
        guard let table = OptionTables.schedules[kind.text] else {
            throw ScriptError("unknown schedule '\(kind.text)'\(didYouMean(kind.text, in: ["constant", "step", "multistep", "cosine"])); one of constant, step, multistep, cosine (each takes warmup=N)", at: kind.location)
        }
        var reader = try OptionReader(options, table: table)
        var schedule: LearningRateSchedule
        switch kind.text {
        case "step": schedule = .step(stepSize: try reader.integer("size"), gamma: try reader.real("gamma"))
        case "multistep": schedule = .multiStep(milestones: try reader.integers("milestones") ?? [], gamma: try reader.real("gamma"))
        case "cosine": schedule = .cosine(period: try reader.integer("period"), minimum: try reader.real("min"))
        default: schedule = .constant
        }
        if let warmup = try reader.optionalInteger("warmup") {
            schedule = .linearWarmup(steps: warmup, startFactor: try reader.real("warmup_start"), then: schedule)
        }
        try reader.finish()
        settings.lines.append(Self.line("schedule \(kind.text)", reader))
        return schedule
    }

    static var configKeys: [String] { OptionTables.config.keys }

    /// Betty's config fields that have nothing to set here, with why: accepting them would pretend.
    static let bettyKeysWithoutEffect = [
        "retain_graph": "the engine keeps a graph exactly as long as a hypergradient needs it (Betty needs retain_graph=True on every problem with paths); remove it",
        "cg_alpha": "cg here is textbook conjugate gradient, whose iterates do not change when the Hessian is scaled (Betty's cg.py uses cg_alpha in a non-textbook update); remove it",
    ]

    func buildConfig() throws(ScriptError) -> ProblemConfig {
        var config = try Self.apply(spec.config, to: ProblemConfig(), problem: spec.name.text)
        for change in spec.configChanges { config = try Self.apply(change, to: config, problem: spec.name.text) }
        return config
    }

    /// `config` options applied over `base`, validated as a whole.
    static func apply(_ options: [Option], to base: ProblemConfig, problem: String) throws(ScriptError) -> ProblemConfig {
        var c = base
        if let option = options.first(where: { bettyKeysWithoutEffect[$0.key] != nil }) {
            throw ScriptError("config has no \(option.key): \(bettyKeysWithoutEffect[option.key]!)", at: option.keyLocation)
        }
        var reader = try OptionReader(options, table: OptionTables.config)
        if let t = try reader.optionalWord("type") { c.type = .init(rawValue: t)! }
        if options.contains(where: { $0.key == "unroll" }), let both = options.first(where: { $0.key == "unroll_steps" }) {
            throw ScriptError("unroll and unroll_steps are the same option: give one", at: both.keyLocation)
        }
        if let u = try reader.optionalInteger("unroll_steps") { c.unrollSteps = u }
        if let u = try reader.optionalInteger("unroll") { c.unrollSteps = u }
        c.firstOrder = try reader.flag("first_order", default: c.firstOrder)
        c.allowUnused = try reader.flag("allow_unused", default: c.allowUnused)
        c.gradientAccumulation = try reader.integer("gradient_accumulation", default: c.gradientAccumulation)
        c.gradientClipping = try reader.real("gradient_clipping", default: c.gradientClipping)
        if let p = try reader.optionalWord("precision") { c.precision = .init(rawValue: p)! }
        c.warmupSteps = try reader.integer("warmup_steps", default: c.warmupSteps)
        c.logStep = try reader.integer("log_step", default: c.logStep)
        c.dartsAlpha = try reader.real("darts_alpha", default: c.dartsAlpha)
        c.neumannIterations = try reader.integer("neumann_iterations", default: c.neumannIterations)
        c.neumannAlpha = try reader.real("neumann_alpha", default: c.neumannAlpha)
        c.cgIterations = try reader.integer("cg_iterations", default: c.cgIterations)
        c.samaAlpha = try reader.real("sama_alpha", default: c.samaAlpha)
        try reader.finish()
        do { try c.validate(problem: problem) } catch {
            throw ScriptError("\(error)", at: options.first.map { $0.keyLocation.through(options.last!.location) })
        }
        return c
    }

    /// Installs the hooks; returns the problem named by `reset_on_start from=NAME`, if any.
    private func installHooks(_ problem: Problem) throws(ScriptError) -> Name? {
        var startsFrom: Name?
        for (kind, options) in spec.hooks {
            var reader = try OptionReader(options, table: OptionTables.hooks[kind.text]!)
            switch kind.text {
            case "reset_on_start":
                let from = try reader.name("from")
                try reader.finish()
                settings.lines.append(Self.line(kind.text, reader))
                if let from {
                    guard from.text != problem.name else { throw ScriptError("a problem cannot start from its own parameters", at: from.location) }
                    startsFrom = from
                    let ref = session.program.bindings.ref(from.text)
                    problem.onInnerLoopStart = { p in
                        let source = try ref.resolved(at: from.location)
                        try Self.checkStartingPoint(p, from: source, at: from.location)
                        for (parameter, start) in zip(p.trainable, source.trainable) {
                            if p.isIterative {
                                // Inside the graph: the unrolled steps start at θ₀ = φ, so the reverse-mode
                                // hypergradient reaches φ through the whole adaptation (MAML).
                                parameter.value = start.value * 1
                            } else {
                                // A copy: the in-place steps that follow must not move the source.
                                parameter.assign(start.value.detached())
                            }
                        }
                        p.optimizer.resetState()
                    }
                    continue
                }
                // Copies: the values the problem starts from, restored at every inner loop start.
                let initial = problem.trainable.map { $0.value.detached() * 1 }
                problem.onInnerLoopStart = { p in
                    for (parameter, value) in zip(p.trainable, initial) { parameter.assign(value) }
                    p.optimizer.resetState()
                }
            default:
                let lower = try reader.real("min", default: -.infinity), upper = try reader.real("max", default: .infinity)
                try reader.finish()
                guard lower <= upper else {
                    throw ScriptError("clamp: min must not exceed max, got min=\(formatNumber(lower)) max=\(formatNumber(upper))", at: kind.location)
                }
                settings.lines.append(Self.line(kind.text, reader))
                problem.paramCallback = { p in
                    for parameter in p.trainable { parameter.assign(clamp(parameter.value.detached(), min: lower, max: upper)) }
                }
            }
        }
        return startsFrom
    }

    /// `reset_on_start from=` copies parameter for parameter: the two modules must have the same shapes.
    static func checkStartingPoint(_ problem: Problem, from source: Problem, at location: SourceLocation) throws(ScriptError) {
        let mine = problem.trainable.map(\.value.shape), theirs = source.trainable.map(\.value.shape)
        guard mine == theirs else {
            throw ScriptError("problem '\(problem.name)' cannot start from '\(source.name)': its parameters have shapes \(mine.map(\.description).joined(separator: ", ")), those of '\(source.name)' \(theirs.map(\.description).joined(separator: ", "))",
                              at: location)
        }
    }

    /// `params N from="start.npy"` or `from=DATA.x` / `from=DATA.y`: the starting values, which must hold
    /// exactly the parameters' number of values (they are laid out in the parameters' shape).
    private func startingValues(_ source: Expr, shape: [Int]) throws(ScriptError) -> Tensor {
        let tensor: Tensor
        if case let .string(path, location) = source {
            do { tensor = try NPYReader.read(path: path) } catch { throw ScriptError("\(error)", at: location) }
        } else if let dotted = source.dottedName, dotted.hasSuffix(".x") || dotted.hasSuffix(".y") {
            let name = Name(text: String(dotted.dropLast(2)), location: source.location)
            let data = try session.program.dataset(name)
            tensor = dotted.hasSuffix(".x") ? data.x : data.y
        } else {
            throw ScriptError("from takes a quoted .npy file or a data set's tensor (NAME.x or NAME.y)", at: source.location)
        }
        let count = shape.reduce(1, *)
        guard tensor.count == count else {
            throw ScriptError("from gives \(tensor.count) values (shape \(tensor.shape)), and params \(shape.map(String.init).joined(separator: " ")) needs \(count)", at: source.location)
        }
        do { return try tensor.reshaped(to: Shape(shape)) } catch { throw ScriptError("\(error)", at: source.location) }
    }
}
