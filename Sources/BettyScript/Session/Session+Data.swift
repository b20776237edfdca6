import Betty
import BettyNN
import BettyTensor

extension Session {
    static let dataSources = ["digits", "mnist5k", "logistic", "sinusoid", "npy", "csv", "idx"]

    func defineData(_ name: Name, _ source: Name, _ arguments: [Expr], _ options: [Option]) throws(ScriptError) {
        try program.claim(name, as: .data)
        var reader = try OptionReader(options, context: "data source \(source.text)")
        func paths(_ count: ClosedRange<Int>) throws(ScriptError) -> [String] {
            var result: [String] = []
            for a in arguments {
                guard case let .string(path, _) = a else { throw ScriptError("expected a quoted file path", at: a.location) }
                result.append(path)
            }
            guard count.contains(result.count) else {
                throw ScriptError("\(source.text) takes \(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound) or \(count.upperBound)") quoted path\(count.upperBound == 1 ? "" : "s")", at: source.location)
            }
            return result
        }
        // The command as typed, from the name to its last argument or option: what a memory error
        // says needs the memory, and where its caret goes.
        let typed = ([source.location] + arguments.map(\.location) + options.map(\.location))
            .max { $0.column + $0.length < $1.column + $1.length }.map { name.location.through($0) } ?? name.location
        let statement = typedText(typed).map { "data \($0)" }
        /// `retell`: a memory refusal says the command as typed (generators) rather than what the
        /// library asked (a reader names its file and shape, which says more).
        func loaded(retell: Bool = false, _ body: () throws(DataError) -> Dataset) throws(ScriptError) -> Dataset {
            do { return try body() } catch {
                if case let .tooLarge(exceeded) = error {
                    throw memoryError(exceeded, purpose: retell ? statement : nil, at: typed)
                }
                // An error about one of the files points at that file's path.
                let file = arguments.first { if case let .string(path, _) = $0 { path == error.path } else { false } }
                throw ScriptError("\(error)", at: file?.location ?? source.location)
            }
        }
        var dataset: Dataset
        var shots: Int?
        var notes: [String] = []
        switch source.text {
        case "digits", "mnist5k":
            _ = try paths(0...0)
            dataset = try loaded { () throws(DataError) in try BuiltinDataset(rawValue: source.text)!.load() }
        case "logistic":
            _ = try paths(0...0)
            let samples = try reader.integer("samples", default: 1000, minimum: 1)
            let features = try reader.integer("features", default: 20, minimum: 1)
            let dataSeed = try seedOption(&reader)
            dataset = try loaded(retell: true) { () throws(DataError) in try Dataset.logistic(samples: samples, features: features, seed: dataSeed) }
        case "sinusoid":
            _ = try paths(0...0)
            let count = try reader.integer("tasks", default: 10000, minimum: 1)
            let support = try reader.integer("shots", default: 10, minimum: 1)
            let query = try reader.integer("query", default: 10, minimum: 1)
            let dataSeed = try seedOption(&reader)
            dataset = try loaded(retell: true) { () throws(DataError) in
                var tasks = SinusoidTasks(seed: dataSeed)
                return try tasks.pool(count: count, support: support, query: query)
            }
            shots = support
        case "npy":
            let files = try paths(2...2)
            dataset = try loaded { () throws(DataError) in
                try Dataset(x: NPYReader.read(path: files[0]), y: NPYReader.read(path: files[1]))
            }
        case "idx":
            let files = try paths(2...2)
            dataset = try loaded { () throws(DataError) in
                try Dataset(x: IDXReader.read(path: files[0]), y: IDXReader.read(path: files[1]))
            }
        case "csv":
            let files = try paths(1...1)
            let label = try reader.integer("label", default: -1)
            let header = try reader.word("header", from: ["yes", "no", "auto"], default: "auto")!
            let hasHeader: Bool? = switch header { case "yes": true; case "no": false; default: nil }
            var table: CSVReader.Table?
            dataset = try loaded { () throws(DataError) in
                let read = try CSVReader.read(path: files[0], hasHeader: hasHeader)
                table = read
                return try Dataset(csv: read, labelColumn: label, path: files[0])
            }
            if hasHeader == nil, let table { notes.append(Self.headerDecision(table, path: files[0])) }
        default:
            throw ScriptError("unknown data source '\(source.text)'\(didYouMean(source.text, in: Self.dataSources)); one of \(Self.dataSources.joined(separator: ", "))",
                              at: source.location)
        }
        let scale = try reader.optionalNumber("scale")
        let flatten = try reader.bool("flatten", default: false)
        try reader.finish()
        if let scale {
            try requireMemory(floats: dataset.x.count, for: statement ?? "scale=", at: typed)
            dataset = dataset.scaled(by: scale)
        }
        if flatten, dataset.x.rank > 2 {
            dataset = try loaded { () throws(DataError) in
                let n = dataset.x.shape[0]
                return try Dataset(x: try! dataset.x.reshaped(to: [n, -1]), y: dataset.y)
            }
        }
        let switches = try bind([NewData(name: name, dataset: dataset, shots: shots)])[0]
        output.text((notes + ["\(name.text): \(program.describe(dataset, named: name.text))"] + switches).joined(separator: "\n"))
    }

    /// What `header=auto` decided about a CSV file's first row, and why.
    static func headerDecision(_ table: CSVReader.Table, path: String) -> String {
        guard let header = table.header else { return "\(path): first row read as data (every field is a number); header=yes reads it as column names" }
        let reason = CSVReader.firstNonNumericField(header).map { "'\($0.text)' in column \($0.column + 1) is not a number" } ?? "it is not numeric"
        return "\(path): first row read as a header (\(reason))"
    }

    func split(_ source: Name, _ parts: [(Name, Expr)], _ options: [Option]) throws(ScriptError) {
        let dataset = try program.dataset(source)
        var reader = try OptionReader(options, context: "split")
        let perClass = try reader.bool("per_class", default: false)
        let splitSeed = try seedOption(&reader)
        try reader.finish()
        var seen: Set<String> = []
        var amounts: [Float] = []
        for (part, amount) in parts {
            try program.claim(part, as: .data)
            guard seen.insert(part.text).inserted else { throw ScriptError("'\(part.text)' appears twice", at: part.location) }
            guard let x = ExpressionCompiler.constantNumber(amount), x > 0 else {
                throw ScriptError("a part's size must be a positive number (a count, or a fraction below 1)", at: amount.location)
            }
            amounts.append(x)
        }
        let counts = amounts.allSatisfy { $0 >= 1 && $0 == $0.rounded() }
        let fractions = amounts.allSatisfy { $0 < 1 }
        guard counts || fractions else {
            throw ScriptError("give every part as a count (400) or every part as a fraction (0.8), not a mix", at: parts[0].1.location.through(parts.last!.1.location))
        }
        // Checked as numbers before any becomes an Int: 1e30 does not fit one.
        if counts, let (part, amount) = zip(parts, amounts).first(where: { $0.1 > Float(dataset.count) }) {
            throw ScriptError("part '\(part.0.text)' asks for \(formatNumber(amount)) samples; \(source.text) has \(dataset.count)", at: part.1.location)
        }
        let span = source.location.through(options.last?.location ?? parts.last!.1.location)
        // The parts are copies, together at most the whole set.
        try requireMemory(floats: dataset.x.count + dataset.y.count, for: typedText(span).map { "split \($0)" } ?? "split", at: span)
        var pieces: [Dataset]
        do {
            if perClass {
                guard counts else { throw ScriptError("per_class needs counts per class", at: parts[0].1.location) }
                pieces = try dataset.splitPerClass(counts: amounts.map { Int($0) }, seed: splitSeed)
            } else if counts {
                let total = amounts.reduce(0, +)
                guard Int(total) <= dataset.count else {
                    throw ScriptError("the parts ask for \(Int(total)) samples; \(source.text) has \(dataset.count)", at: parts[0].1.location.through(parts.last!.1.location))
                }
                pieces = try dataset.split(counts: amounts.map { Int($0) }, seed: splitSeed)
            } else {
                pieces = try dataset.split(fractions: amounts, seed: splitSeed)
            }
        } catch let error as ScriptError {
            throw error
        } catch {
            throw ScriptError("\(error)", at: source.location)
        }
        let shots = program.bindings.taskShots[source.text]
        let switches = try bind(zip(parts, pieces).map { NewData(name: $0.0.0, dataset: $0.1, shots: shots) })
        var lines: [String] = []
        for (((part, _), piece), notes) in zip(zip(parts, pieces), switches) {
            lines.append("\(part.text): \(program.describe(piece, named: part.text))")
            lines += notes
        }
        output.text(lines.joined(separator: "\n"))
    }

    func transform(_ kind: Name, _ name: Name, _ options: [Option]) throws(ScriptError) {
        let dataset = try program.dataset(name)
        var reader = try OptionReader(options, context: kind.text)
        let span = kind.location.through(options.last?.location ?? name.location)
        // What the transform allocates beside the data set: new labels (noise), a subset of the
        // samples (imbalance), or new x values and normalize's temporaries of the same size.
        let floats = switch kind.text {
        case "noise": dataset.y.count
        case "imbalance": dataset.x.count + dataset.y.count
        case "normalize": 2 * dataset.x.count
        default: dataset.x.count
        }
        try requireMemory(floats: floats, for: typedText(span) ?? kind.text, at: span)
        let result: Dataset
        do {
            switch kind.text {
            case "imbalance":
                let factor = try reader.number("factor", default: 100)
                let imbalanceSeed = try seedOption(&reader)
                try reader.finish()
                guard factor >= 1 else { throw ScriptError("factor must be at least 1", at: kind.location) }
                result = try dataset.imbalanced(factor: factor, seed: imbalanceSeed)
            case "noise":
                let ratio = try reader.number("ratio", default: 0.2)
                let kindWord = try reader.word("kind", from: LabelNoise.allCases.map(\.rawValue), default: "uniform")!
                let noiseSeed = try seedOption(&reader)
                try reader.finish()
                guard (0...1).contains(ratio) else { throw ScriptError("ratio must be in [0, 1]", at: kind.location) }
                result = try dataset.withLabelNoise(LabelNoise(rawValue: kindWord)!, ratio: ratio,
                                                    classes: try dataset.classCount(), seed: noiseSeed)
            case "normalize":
                let x = dataset.x
                let n = Float(x.count)
                // The data set's own statistics only when a value is not given.
                let mean = try reader.optionalNumber("mean") ?? x.sum().scalar / n
                let std = try reader.optionalNumber("std") ?? (pow(x - mean, 2).sum().scalar / n).squareRoot()
                try reader.finish()
                guard std > 0 else { throw ScriptError("std must be positive", at: kind.location) }
                result = try Dataset(x: (x - mean) / std, y: dataset.y)
            default:
                let factor = try reader.number("by", default: 1)
                try reader.finish()
                result = dataset.scaled(by: factor)
            }
        } catch let error as ScriptError {
            throw error
        } catch {
            throw ScriptError("\(error)", at: name.location)
        }
        let switches = try bind([NewData(name: name, dataset: result, shots: program.bindings.taskShots[name.text])])[0]
        output.text((["\(name.text): \(program.describe(result, named: name.text))"] + switches).joined(separator: "\n"))
    }

    // MARK: - Helpers

    /// The `seed=` option of a data command, defaulting to the session's seed.
    func seedOption(_ reader: inout OptionReader) throws(ScriptError) -> UInt64 {
        UInt64(try reader.integer("seed", default: Int(program.seed % (1 << 62)), minimum: 0))
    }
}

extension Session {
    /// The loader of one part (support or query) of the episodes over the task set `set`. Both parts
    /// of a task set share one stream, so a problem on `.support` and one on `.query` see the same task.
    func episodeLoader(_ set: Name, part: Name, options: [Option]) throws(ScriptError) -> DataLoader {
        let dataset = try program.dataset(set)
        guard let shots = program.bindings.taskShots[set.text] else {
            throw ScriptError("'\(set.text)' is not a set of few-shot tasks; .\(part.text) applies to task data (data NAME = sinusoid ...)",
                              at: set.location.through(part.location))
        }
        let parts = Episodes.Part.allCases.map(\.rawValue)
        guard let which = Episodes.Part(rawValue: part.text) else {
            throw ScriptError("a set of tasks has the parts \(parts.joined(separator: " and ")), not '\(part.text)'\(didYouMean(part.text, in: parts))",
                              at: part.location)
        }
        var reader = try OptionReader(options, context: "data \(set.text).\(part.text)")
        let batch = try reader.integer("batch", default: 1, minimum: 1)
        let shuffle = try reader.bool("shuffle", default: true)
        try reader.finish()
        guard batch == 1 else {
            throw ScriptError("a part of a task set serves one task per batch (batch=1); several tasks per meta step are not supported yet",
                              at: options.first { $0.key == "batch" }?.location ?? set.location)
        }
        if let episodes = program.bindings.episodes[set.text] {
            guard episodes.shuffle == shuffle else {
                throw ScriptError("both parts of '\(set.text)' share one task order, defined with shuffle=\(episodes.shuffle)",
                                  at: options.first { $0.key == "shuffle" }?.location ?? set.location)
            }
            return episodes.loader(for: which)
        }
        // The support and query parts are copies of the task set.
        try requireMemory(floats: dataset.x.count + dataset.y.count, for: "the support and query parts of '\(set.text)'",
                          at: set.location.through(part.location))
        let episodes: Episodes
        do {
            episodes = try Episodes(tasks: dataset, shots: shots, shuffle: shuffle, seed: program.seed ^ stableHash(set.text))
        } catch {
            throw ScriptError("\(error)", at: set.location)
        }
        program.bindings.episodes[set.text] = episodes
        return episodes.loader(for: which)
    }
}
