import Betty
import BettyNN

/// Every statement's options, declared once (see `OptionTable`). Ranges are what makes sense and
/// no more: a negative learning rate, decay factor or warmup start would ascend, so each is refused
/// like `lr=-0.1`; counts stop at the most steps one `run` takes.
enum OptionTables {
    static let mostSteps = 999_999_999
    static let count = 1...Int(Int32.max)
    static let steps = 1...mostSteps
    static let stepsOrOff = 0...mostSteps
    static let seedRange = 0...Int.max
    static let seed = OptionSpec("seed", .integer(seedRange), .described("the session's seed"), "its own random stream")

    // MARK: - Data

    static let scale = OptionSpec("scale", .real(.any), .none, "multiplies x (scale=1/255)")
    static let flatten = OptionSpec("flatten", .flag, .flag(false), "x as one row per sample")

    static let dataSources: [String: OptionTable] = [
        "digits": OptionTable("data NAME = digits", [scale, flatten]),
        "mnist5k": OptionTable("data NAME = mnist5k", [scale, flatten]),
        "logistic": OptionTable("data NAME = logistic", [
            OptionSpec("samples", .integer(count), .integer(1000), unit: "samples"),
            OptionSpec("features", .integer(count), .integer(20)),
            seed, scale, flatten,
        ]),
        "sinusoid": OptionTable("data NAME = sinusoid", [
            OptionSpec("tasks", .integer(count), .integer(10000), unit: "tasks"),
            OptionSpec("shots", .integer(count), .integer(10), unit: "points", "support points per task"),
            OptionSpec("query", .integer(count), .integer(10), unit: "points", "query points per task"),
            seed, scale, flatten,
        ]),
        "npy": OptionTable("data NAME = npy \"x.npy\" \"y.npy\"", [scale, flatten]),
        "idx": OptionTable("data NAME = idx \"images\" \"labels\"", [scale, flatten]),
        "npz": OptionTable("data NAME = npz \"file.npz\"", [
            OptionSpec("x", .name("an array of the archive"), .word("x"), "the inputs: np.savez(file, x=..., y=...)"),
            OptionSpec("y", .name("an array of the archive"), .word("y"), "the labels or targets"),
            scale, flatten,
        ]),
        "cifar10": OptionTable("data NAME = cifar10 \"data_batch_1.bin\" ...", [scale, flatten]),
        "cifar100": OptionTable("data NAME = cifar100 \"train.bin\" ...", [
            OptionSpec("labels", .choice(CIFARReader.Labels.allCases.map(\.rawValue)), .word("fine"), "fine: the 100 classes; coarse: the 20 superclasses"),
            scale, flatten,
        ]),
        "csv": OptionTable("data NAME = csv \"file.csv\"", [
            OptionSpec("label", .integer(-1_000_000...1_000_000), .integer(-1), unit: "column", "the label column; negative counts from the end"),
            OptionSpec("header", .choice(["yes", "no", "auto"]), .word("auto"), "auto: a first row with a non-number is column names, and says so"),
            scale, flatten,
        ]),
    ]

    static let split = OptionTable("split NAME -> A n, B n", [
        OptionSpec("per_class", .flag, .flag(false), "counts per class"),
        seed,
    ])

    static let transforms: [String: OptionTable] = [
        "imbalance": OptionTable("imbalance NAME", [
            OptionSpec("factor", .real(.atLeast(1)), .real(100), "largest class / smallest class (long-tailed)"), seed,
        ]),
        "noise": OptionTable("noise NAME", [
            OptionSpec("ratio", .real(.closed(0, 1)), .real(0.2), "the fraction of labels replaced"),
            OptionSpec("kind", .choice(LabelNoise.allCases.map(\.rawValue)), .word("uniform"), "uniform: any class; flip: the next class"),
            seed,
        ]),
        "scale": OptionTable("scale NAME", [OptionSpec("by", .real(.any), .real(1), "multiplies x")]),
        "normalize": OptionTable("normalize NAME", [
            OptionSpec("mean", .real(.any), .described("the data set's own"), "(x - mean) / std"),
            OptionSpec("std", .real(.above(0)), .described("the data set's own")),
        ]),
    ]

    // MARK: - Problem lines

    static let problemData = OptionTable("data SET", [
        OptionSpec("batch", .integer(count), .described("32, or the whole set when smaller"), unit: "samples"),
        OptionSpec("shuffle", .flag, .flag(true), "a new order every epoch"),
        OptionSpec("drop_last", .flag, .flag(false), "skip a last batch smaller than batch"),
    ])

    static let taskData = OptionTable("data TASKS.support | TASKS.query", [
        OptionSpec("batch", .integer(1...1), .integer(1), unit: "tasks", "one task per batch; several tasks per meta step are not supported yet"),
        OptionSpec("shuffle", .flag, .flag(true), "a new task order every epoch (both parts share it)"),
    ])

    static let activations = Activation.Kind.allCases.map(\.rawValue)
    static let bias = OptionSpec("bias", .flag, .flag(true))

    static let modules: [String: OptionTable] = [
        "linear": OptionTable("module linear IN -> OUT", [bias]),
        "mlp": OptionTable("module mlp A -> B -> ... -> Z", [
            OptionSpec("activation", .choice(activations), .word("relu"), "between layers"),
            OptionSpec("out", .choice(activations), .word("identity"), "after the last layer"),
            bias,
        ]),
        "params": OptionTable("module params N, ...", [
            OptionSpec("from", .source, .none, "starting values, laid out in the parameters' shape"),
            OptionSpec("init", .choice(["zeros", "ones", "constant", "normal", "uniform"]), .word("zeros")),
            OptionSpec("value", .real(.any), .real(0), "init=constant"),
            OptionSpec("mean", .real(.any), .real(0), "init=normal"),
            OptionSpec("std", .real(.atLeast(0)), .real(1), "init=normal"),
            OptionSpec("low", .real(.any), .real(-1), "init=uniform"),
            OptionSpec("high", .real(.any), .real(1), "init=uniform"),
        ]),
        "sequential": OptionTable("module sequential LAYER, ...", []),
    ]

    /// Layers of `module sequential`, whose options are keyword arguments: `conv2d(1, 8, kernel=3)`.
    static let layers: [String: OptionTable] = [
        "linear": OptionTable("linear(in, out)", [bias]),
        "conv2d": OptionTable("conv2d(in_channels, out_channels)", [
            OptionSpec("kernel", .integer(1...1024), .integer(3), unit: "pixels"),
            OptionSpec("stride", .integer(1...1024), .integer(1), unit: "pixels"),
            OptionSpec("padding", .integer(0...1024), .integer(0), unit: "pixels"),
            bias,
        ]),
        "dropout": OptionTable("dropout", [OptionSpec("p", .real(.halfOpen(0, 1)), .real(0.5), "the probability of zeroing a value")]),
    ]

    static let weightDecay = OptionSpec("weight_decay", .real(.atLeast(0)), .real(0))

    static func adam(_ kind: String, decay: Float) -> OptionTable {
        OptionTable("optimizer \(kind)", [
            OptionSpec("lr", .real(.atLeast(0)), .real(1e-3), "the learning rate"),
            OptionSpec("beta1", .real(.halfOpen(0, 1)), .real(0.9)),
            OptionSpec("beta2", .real(.halfOpen(0, 1)), .real(0.999)),
            OptionSpec("eps", .real(.atLeast(0)), .real(1e-8)),
            OptionSpec("weight_decay", .real(.atLeast(0)), .real(decay), kind == "adamw" ? "decoupled from the gradient" : "added to the gradient"),
            OptionSpec("amsgrad", .flag, .flag(false)),
        ])
    }

    static let optimizers: [String: OptionTable] = [
        "sgd": OptionTable("optimizer sgd", [
            OptionSpec("lr", .real(.atLeast(0)), .real(0.01), "the learning rate"),
            OptionSpec("momentum", .real(.atLeast(0)), .real(0)),
            // Above 1 the gradient would enter the momentum with its sign flipped.
            OptionSpec("dampening", .real(.closed(0, 1)), .real(0)),
            weightDecay,
            OptionSpec("nesterov", .flag, .flag(false), "needs momentum > 0 and dampening 0"),
        ]),
        "adam": adam("adam", decay: 0),
        "adamw": adam("adamw", decay: 1e-2),
    ]

    static let warmup = [
        OptionSpec("warmup", .integer(steps), .none, unit: "steps", "linear warmup before the schedule"),
        OptionSpec("warmup_start", .real(.aboveUpTo(0, 1)), .real(0.1), "the warmup's first factor of lr", requires: "warmup=N"),
    ]

    static let schedules: [String: OptionTable] = [
        "constant": OptionTable("schedule constant", warmup),
        "step": OptionTable("schedule step", [
            OptionSpec("size", .integer(steps), .integer(1000), unit: "steps", "lr times gamma every size steps"),
            OptionSpec("gamma", .real(.atLeast(0)), .real(0.1)),
        ] + warmup),
        "multistep": OptionTable("schedule multistep", [
            OptionSpec("milestones", .integers(stepsOrOff), .none, unit: "steps", "lr times gamma at each"),
            OptionSpec("gamma", .real(.atLeast(0)), .real(0.1)),
        ] + warmup),
        "cosine": OptionTable("schedule cosine", [
            OptionSpec("period", .integer(steps), .integer(1000), unit: "steps", "from lr down to min"),
            OptionSpec("min", .real(.atLeast(0)), .real(0), "the smallest learning rate"),
        ] + warmup),
    ]

    static let hooks: [String: OptionTable] = [
        "reset_on_start": OptionTable("reset_on_start", [
            OptionSpec("from", .name("a problem"), .none, "start from P's parameters (differentiably in reverse mode: MAML)"),
        ]),
        "clamp": OptionTable("clamp", [
            OptionSpec("min", .real(.any), .described("none"), "after every optimizer step"),
            OptionSpec("max", .real(.any), .described("none")),
        ]),
    ]

    // MARK: - Config, engine, check

    static let config: OptionTable = {
        let d = ProblemConfig()
        return OptionTable("config NAME (or a config line in the problem)", [
            OptionSpec("type", .choice(ProblemConfig.Method.allCases.map(\.rawValue)), .word(d.type.rawValue),
                       "how a hypergradient passes through this level"),
            OptionSpec("unroll_steps", .integer(steps), .integer(d.unrollSteps), unit: "steps", "local steps per trigger of its uppers"),
            OptionSpec("unroll", .integer(steps), .integer(d.unrollSteps), unit: "steps", aliasOf: "unroll_steps"),
            OptionSpec("first_order", .flag, .flag(d.firstOrder), "false skips this level's hypergradient paths"),
            OptionSpec("allow_unused", .flag, .flag(d.allowUnused), "false: a parameter the loss does not read is an error"),
            OptionSpec("gradient_accumulation", .integer(steps), .integer(d.gradientAccumulation), unit: "steps"),
            OptionSpec("gradient_clipping", .real(.atLeast(0)), .real(d.gradientClipping), "global norm; 0 is off"),
            OptionSpec("precision", .choice(["fp32"]), .word(d.precision.rawValue), refusalNote: "fp16 and bf16 are not supported yet"),
            OptionSpec("warmup_steps", .integer(stepsOrOff), .integer(d.warmupSteps), unit: "steps", "local steps before it triggers its uppers"),
            OptionSpec("log_step", .integer(stepsOrOff), .integer(d.logStep), unit: "steps", "print every this many local steps; 0: automatic"),
            OptionSpec("darts_alpha", .real(.above(0)), .real(d.dartsAlpha), "finite-difference step / the vector's norm"),
            OptionSpec("neumann_iterations", .integer(0...Int(Int32.max)), .integer(d.neumannIterations)),
            OptionSpec("neumann_alpha", .real(.above(0)), .real(d.neumannAlpha), "the series' step; alpha times the largest Hessian eigenvalue below 2 converges"),
            OptionSpec("cg_iterations", .integer(0...Int(Int32.max)), .integer(d.cgIterations)),
            OptionSpec("sama_alpha", .real(.above(0)), .real(d.samaAlpha)),
        ])
    }()

    static let engine: OptionTable = {
        let d = EngineConfig()
        return OptionTable("engine", [
            OptionSpec("train_iters", .integer(steps), .integer(d.trainIterations), unit: "global steps", "what 'run' alone runs"),
            OptionSpec("valid_step", .integer(stepsOrOff), .integer(d.validStep), unit: "global steps", "validate every this many; 0 is off"),
            OptionSpec("roll_back", .flag, .flag(d.rollBack), "end on the parameters of the best validation"),
            OptionSpec("early_stopping", .name("a validation metric, or off"), .word("off")),
            OptionSpec("early_stopping_mode", .choice(["min", "max"]), .word("min")),
            OptionSpec("early_stopping_tolerance", .integer(steps), .integer(5), unit: "validations", "without improvement before stopping"),
            OptionSpec("log_every", .integer(stepsOrOff), .integer(0), unit: "global steps", "print every this many; 0: automatic"),
            OptionSpec("csv", .path, .none, "log every step to this file"),
            OptionSpec("tensorboard", .path, .none, "write TensorBoard event files into this directory"),
            OptionSpec("compile", .flag, .flag(Program.defaultEngineConfig.compile),
                       "record each problem's step once and replay it (same numbers bit for bit, no graph)"),
            OptionSpec("memory_limit", .size, .word("off"), unit: "bytes", "a cap on live tensors; units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"),
        ])
    }()

    static let checkHypergrad = OptionTable("check hypergrad NAME", [
        OptionSpec("against", .choice(HypergradientCheck.Reference.allCases.map(\.rawValue)), .described("reverse when it fits in memory"),
                   "the reference: reverse mode through a long unroll, or central differences"),
        OptionSpec("steps", .integer(steps), .described("each level's unroll"), unit: "steps", "unrolled steps of each method"),
        OptionSpec("reference_steps", .integer(steps), .described("the unroll, or 10x"), unit: "steps", "unrolled steps of the reference"),
    ])

    /// Every table, for help and the schema's property test.
    static var all: [OptionTable] {
        dataSources.sorted { $0.key < $1.key }.map(\.value) + [split] + transforms.sorted { $0.key < $1.key }.map(\.value)
            + [problemData, taskData] + modules.sorted { $0.key < $1.key }.map(\.value) + layers.sorted { $0.key < $1.key }.map(\.value)
            + optimizers.sorted { $0.key < $1.key }.map(\.value) + schedules.sorted { $0.key < $1.key }.map(\.value)
            + hooks.sorted { $0.key < $1.key }.map(\.value) + [config, engine, checkHypergrad]
    }
}
