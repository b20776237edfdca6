import Betty
import BettyNN
import BettyTensor

extension Session {
    static let dataSources = ["digits", "mnist5k", "logistic", "sinusoid", "npy", "npz", "csv", "idx", "cifar10", "cifar100"]

    func defineData(_ name: Name, _ source: Name, _ arguments: [Expr], _ options: [Option]) throws(ScriptError) {
        try program.claim(name, as: .data)
        guard let table = OptionTables.dataSources[source.text] else {
            throw ScriptError("unknown data source '\(source.text)'\(didYouMean(source.text, in: Self.dataSources)); one of \(Self.dataSources.joined(separator: ", "))",
                              at: source.location)
        }
        var reader = try OptionReader(options, table: table)
        func paths(_ count: ClosedRange<Int>) throws(ScriptError) -> [String] {
            var result: [String] = []
            for a in arguments {
                guard case let .string(path, _) = a else { throw ScriptError("expected a quoted file path", at: a.location) }
                result.append(path)
            }
            guard count.contains(result.count) else {
                let number = switch (count.lowerBound, count.upperBound) {
                case let (low, high) where low == high: "\(low)"
                case let (low, Int.max): "\(low) or more"
                case let (low, high): "\(low) or \(high)"
                }
                throw ScriptError("\(source.text) takes \(number) quoted path\(count.upperBound == 1 ? "" : "s")", at: source.location)
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
        /// `location`: where an error that is not about memory points, instead of the file it names.
        func loaded<T>(retell: Bool = false, at location: SourceLocation? = nil, _ body: () throws(DataError) -> T) throws(ScriptError) -> T {
            do { return try body() } catch {
                if case let .tooLarge(exceeded) = error {
                    throw memoryError(exceeded, purpose: retell ? statement : nil, at: typed)
                }
                // An error about one of the files points at that file's path.
                let file = arguments.first { if case let .string(path, _) = $0 { path == error.path } else { false } }
                throw ScriptError("\(error)", at: location ?? file?.location ?? source.location)
            }
        }
        // Read before anything is loaded: a bad value refuses the statement before it allocates.
        let scale = try reader.optionalReal("scale")
        let flatten = try reader.flag("flatten")
        var dataset: Dataset
        var shots: Int?
        var notes: [String] = []
        switch source.text {
        case "digits", "mnist5k":
            _ = try paths(0...0)
            dataset = try loaded { () throws(DataError) in try BuiltinDataset(rawValue: source.text)!.load() }
        case "logistic":
            _ = try paths(0...0)
            let samples = try reader.integer("samples")
            let features = try reader.integer("features")
            let dataSeed = try seedOption(&reader)
            dataset = try loaded(retell: true) { () throws(DataError) in try Dataset.logistic(samples: samples, features: features, seed: dataSeed) }
        case "sinusoid":
            _ = try paths(0...0)
            let count = try reader.integer("tasks")
            let support = try reader.integer("shots")
            let query = try reader.integer("query")
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
        case "npz":
            let files = try paths(1...1)
            // The arrays to take, as given or by default; checked against the archive once it is open.
            var members: [(key: String, name: String, given: Name?)] = []
            for key in ["x", "y"] {
                let given = try reader.name(key)
                if given == nil { reader.record(key, .word(key)) }
                members.append((key, given?.text ?? key, given))
            }
            let archive = try loaded { () throws(DataError) in try NPZArchive(path: files[0]) }
            for member in members where !archive.contains(member.name) {
                let held = archive.names.isEmpty ? "it holds no arrays" : "its arrays: \(archive.names.joined(separator: ", "))"
                let hint = member.given == nil ? "; name one with \(member.key)=NAME" : didYouMean(member.name, in: archive.names)
                throw ScriptError("\(files[0]) has no array '\(member.name)'\(hint); \(held)",
                                  at: member.given?.location ?? arguments[0].location)
            }
            // An error in one array points at the option that named it.
            var arrays: [Tensor] = []
            for member in members {
                arrays.append(try loaded(at: member.given?.location) { () throws(DataError) in try archive.array(member.name) })
            }
            dataset = try loaded { () throws(DataError) in try Dataset(x: arrays[0], y: arrays[1]) }
        case "cifar10", "cifar100":
            let files = try paths(1...Int.max)
            let variant: CIFARReader.Variant = if source.text == "cifar10" {
                .cifar10
            } else {
                .cifar100(labels: CIFARReader.Labels(rawValue: try reader.word("labels"))!)
            }
            dataset = try loaded { () throws(DataError) in try CIFARReader.read(paths: files, variant) }
        case "csv":
            let files = try paths(1...1)
            let label = try reader.integer("label")
            let header = try reader.word("header")
            let hasHeader: Bool? = switch header { case "yes": true; case "no": false; default: nil }
            var table: CSVReader.Table?
            dataset = try loaded { () throws(DataError) in
                let read = try CSVReader.read(path: files[0], hasHeader: hasHeader)
                table = read
                return try Dataset(csv: read, labelColumn: label, path: files[0])
            }
            if hasHeader == nil, let table { notes.append(Self.headerDecision(table, path: files[0])) }
        default:
            preconditionFailure("a data source without a reader: \(source.text)")
        }
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
        program.dataSettings[name.text] = ["\(source.text)\(arguments.isEmpty ? "" : " ")\(arguments.map(OptionReader.written).joined(separator: " ")) \(reader.canonical)"
            .trimmingTrailingSpaces]
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
        var reader = try OptionReader(options, table: OptionTables.split)
        let perClass = try reader.flag("per_class")
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
        // A count is an exact integer (16777217 samples is not 16777216), read as the other integers are.
        let exact = parts.map { ExpressionCompiler.constantInteger($0.1) }
        let counts = zip(exact, amounts).allSatisfy { e, x in
            if case let .integer(n) = e { n >= 1 } else { e == .tooLarge && x >= 1 }
        }
        let fractions = amounts.allSatisfy { $0 < 1 }
        guard counts || fractions else {
            throw ScriptError("give every part as a count (400) or every part as a fraction (0.8), not a mix", at: parts[0].1.location.through(parts.last!.1.location))
        }
        // Checked as numbers before any becomes an Int: 1e30 does not fit one.
        if counts, let (part, amount) = zip(parts, amounts).first(where: { $0.1 > Float(dataset.count) }) {
            throw ScriptError("part '\(part.0.text)' asks for \(formatNumber(amount)) samples; \(source.text) has \(dataset.count)", at: part.1.location)
        }
        let exactCounts = !counts ? [] : exact.map { e -> Int in
            if case let .integer(n) = e { n } else { preconditionFailure("a count past the set was refused above") }
        }
        let span = source.location.through(options.last?.location ?? parts.last!.1.location)
        // The parts are copies, together at most the whole set.
        try requireMemory(floats: dataset.x.count + dataset.y.count, for: typedText(span).map { "split \($0)" } ?? "split", at: span)
        var pieces: [Dataset]
        do {
            if perClass {
                guard counts else { throw ScriptError("per_class needs counts per class", at: parts[0].1.location) }
                pieces = try dataset.splitPerClass(counts: exactCounts, seed: splitSeed)
            } else if counts {
                let total = exactCounts.reduce(0, +)
                guard total <= dataset.count else {
                    throw ScriptError("the parts ask for \(total) samples; \(source.text) has \(dataset.count)", at: parts[0].1.location.through(parts.last!.1.location))
                }
                pieces = try dataset.split(counts: exactCounts, seed: splitSeed)
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
            program.dataSettings[part.text] = (program.dataSettings[source.text] ?? []) + ["split of \(source.text) \(reader.canonical)"]
            lines.append("\(part.text): \(program.describe(piece, named: part.text))")
            lines += notes
        }
        output.text(lines.joined(separator: "\n"))
    }

    func transform(_ kind: Name, _ name: Name, _ options: [Option]) throws(ScriptError) {
        let dataset = try program.dataset(name)
        var reader = try OptionReader(options, table: OptionTables.transforms[kind.text]!)
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
                let factor = try reader.real("factor")
                let imbalanceSeed = try seedOption(&reader)
                try reader.finish()
                result = try dataset.imbalanced(factor: factor, seed: imbalanceSeed)
            case "noise":
                let ratio = try reader.real("ratio")
                let kindWord = try reader.word("kind")
                let noiseSeed = try seedOption(&reader)
                try reader.finish()
                result = try dataset.withLabelNoise(LabelNoise(rawValue: kindWord)!, ratio: ratio,
                                                    classes: try dataset.classCount(), seed: noiseSeed)
            case "normalize":
                let x = dataset.x
                let n = Float(x.count)
                // The data set's own statistics only when a value is not given.
                let givenMean = try reader.optionalReal("mean"), givenStd = try reader.optionalReal("std")
                try reader.finish()
                let mean = givenMean ?? x.sum().scalar / n
                let std = givenStd ?? (pow(x - mean, 2).sum().scalar / n).squareRoot()
                // What was computed is shown as if given: `show data` says the mean and std used.
                if givenMean == nil { reader.record("mean", .real(mean)) }
                if givenStd == nil { reader.record("std", .real(std)) }
                guard std > 0 else { throw ScriptError("std must be positive", at: kind.location) }
                result = try Dataset(x: (x - mean) / std, y: dataset.y)
            default:
                let factor = try reader.real("by")
                try reader.finish()
                result = dataset.scaled(by: factor)
            }
        } catch let error as ScriptError {
            throw error
        } catch {
            throw ScriptError("\(error)", at: name.location)
        }
        let switches = try bind([NewData(name: name, dataset: result, shots: program.bindings.taskShots[name.text])])[0]
        program.dataSettings[name.text, default: []].append("\(kind.text) \(reader.canonical)".trimmingTrailingSpaces)
        output.text((["\(name.text): \(program.describe(result, named: name.text))"] + switches).joined(separator: "\n"))
    }

    // MARK: - Helpers

    /// The `seed=` option of a data command, defaulting to the session's seed.
    func seedOption(_ reader: inout OptionReader) throws(ScriptError) -> UInt64 {
        UInt64(try reader.integer("seed", default: Int(program.seed % (1 << 62))))
    }
}

extension Session {
    /// The loader of one part (support or query) of the episodes over the task set `set`. Both parts
    /// of a task set share one stream, so a problem on `.support` and one on `.query` see the same task.
    func episodeLoader(_ set: Name, part: Name, options: [Option]) throws(ScriptError) -> (DataLoader, String) {
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
        var reader = try OptionReader(options, table: OptionTables.taskData)
        // batch is 1..1: several tasks per meta step are not supported yet.
        _ = try reader.integer("batch")
        let shuffle = try reader.flag("shuffle")
        try reader.finish()
        if let episodes = program.bindings.episodes[set.text] {
            guard episodes.shuffle == shuffle else {
                throw ScriptError("both parts of '\(set.text)' share one task order, defined with shuffle=\(episodes.shuffle)",
                                  at: options.first { $0.key == "shuffle" }?.location ?? set.location)
            }
            return (episodes.loader(for: which), reader.canonical)
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
        return (episodes.loader(for: which), reader.canonical)
    }
}
