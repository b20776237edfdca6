import BettyTensor
import Foundation
import Testing
import _TestSupport
@testable import BettyScript

/// For every statement and every option of `OptionTables`: generated valid values are accepted and
/// `show` prints them back exactly; generated invalid values (wrong type, out of range, fractional,
/// huge, NaN, infinite) are one error each and leave the state exactly as it was.
@Suite(.serialized) final class OptionSchemaPropertyTests {
    private var trial = 0

    static let base = """
        seed 5
        data d = logistic samples=40 features=3
        split d -> tr 20, va 20
        data three = logistic samples=3 features=1
        data tasks = sinusoid tasks=20 shots=5 query=5
        data img = digits
        problem p
          module    params 3
          optimizer sgd lr=0.1
          data      tr batch=10
          loss      bce_logits(x @ params, y)
        end
        problem q
          module    params 3
          optimizer sgd lr=0.1
          data      va batch=10
          loss      bce_logits(x @ params, y) + mean(square(p.params))
        end
        connect q -> p
        validate every 5: acc = mean(square(p.params))
        """

    /// How one table's statement is written around an option (`OPT`), and what shows it back.
    struct Fixture {
        var table: OptionTable
        var lines: String
        var show: String?
        /// Run before each value, outside what an invalid value must leave unchanged.
        var setup = ""
        /// Valid values a fixture can take (a kernel larger than the 8x8 images is refused by the
        /// layer, not the schema): narrower ranges than the table's.
        var integerRange: [String: ClosedRange<Int>] = [:]
        var realRange: [String: ClosedRange<Float>] = [:]
        /// Options another needs beside it (`value=` needs `init=constant`).
        var companions: [String: String] = [:]
        /// Layer options are keyword arguments: a flag is written `bias=true`, never bare.
        var inCall = false
        /// Valid values of a `.name` option this fixture's files or state define (an archive's arrays).
        var names: [String: [String]] = [:]
    }

    static func problem(_ body: String) -> String { "problem r\n" + body + "\nend" }

    static func fixtures(files: Files) -> [Fixture] {
        var result: [Fixture] = []
        let sourceFiles = ["npy": "\"\(files.npyX)\" \"\(files.npyY)\"", "idx": "\"\(files.idxX)\" \"\(files.idxY)\"", "csv": "\"\(files.csv)\"",
                           "npz": "\"\(files.npz)\"", "cifar10": "\"\(files.cifar10)\" \"\(files.cifar10)\"", "cifar100": "\"\(files.cifar100)\""]
        for (source, table) in OptionTables.dataSources.sorted(by: { $0.key < $1.key }) {
            result.append(Fixture(table: table, lines: "data z = \(source) \(sourceFiles[source] ?? "") OPT", show: "show data",
                                  integerRange: ["samples": 1...60, "features": 1...8, "tasks": 1...30, "shots": 1...6, "query": 1...6, "label": -3...2],
                                  names: ["x": ["x", "features"], "y": ["y", "labels"]]))
        }
        result.append(Fixture(table: OptionTables.split, lines: "split d -> a 5, b 5 OPT", show: "show data"))
        for (kind, table) in OptionTables.transforms.sorted(by: { $0.key < $1.key }) {
            result.append(Fixture(table: table, lines: "\(kind) z OPT", show: "show data", setup: "data z = logistic samples=40 features=3",
                                  realRange: ["factor": 1...10]))
        }
        result.append(Fixture(table: OptionTables.problemData, lines: problem("module params 3\noptimizer sgd\ndata tr OPT\nloss bce_logits(x @ params, y)"),
                              show: "show r", integerRange: ["batch": 1...100]))
        // A task set's order is fixed by its first user: each value gets a task set of its own.
        result.append(Fixture(table: OptionTables.taskData, lines: problem("module mlp 1 -> 4 -> 1\noptimizer sgd\ndata tasks{n}.support OPT\nloss mse(r(x), y)"),
                              show: "show r", setup: "data tasks{n} = sinusoid tasks=20 shots=5 query=5"))
        let square = "loss mean(square(r(x)))"
        result.append(Fixture(table: OptionTables.modules["linear"]!, lines: problem("module linear 3 -> 1 OPT\noptimizer sgd\ndata tr\n\(square)"), show: "show r"))
        result.append(Fixture(table: OptionTables.modules["mlp"]!, lines: problem("module mlp 3 -> 4 -> 1 OPT\noptimizer sgd\ndata tr\n\(square)"), show: "show r"))
        result.append(Fixture(table: OptionTables.modules["params"]!, lines: problem("module params 3 OPT\noptimizer sgd\ndata tr\nloss bce_logits(x @ params, y)"),
                              show: "show r", realRange: ["low": -100...1, "high": -1...100],
                              companions: ["value": "init=constant", "mean": "init=normal", "std": "init=normal", "low": "init=uniform", "high": "init=uniform"]))
        result.append(Fixture(table: OptionTables.layers["linear"]!, lines: problem("module sequential linear(3, 1, OPT)\noptimizer sgd\ndata tr\n\(square)"),
                              show: "show r", inCall: true))
        result.append(Fixture(table: OptionTables.layers["dropout"]!, lines: problem("module sequential dropout(OPT), linear(3, 1)\noptimizer sgd\ndata tr\n\(square)"),
                              show: "show r", inCall: true))
        result.append(Fixture(table: OptionTables.layers["conv2d"]!,
                              lines: problem("module sequential conv2d(1, 2, OPT)\noptimizer sgd\ndata img\nloss mean(square(r(reshape(x, -1, 1, 8, 8))))"),
                              show: "show r", integerRange: ["kernel": 1...3, "stride": 1...3, "padding": 0...2], inCall: true))
        for (kind, table) in OptionTables.optimizers.sorted(by: { $0.key < $1.key }) {
            result.append(Fixture(table: table, lines: problem("module params 3\noptimizer \(kind) OPT\ndata tr\nloss bce_logits(x @ params, y)"), show: "show r",
                                  companions: ["nesterov": "momentum=0.9"]))
        }
        for (kind, table) in OptionTables.schedules.sorted(by: { $0.key < $1.key }) {
            result.append(Fixture(table: table, lines: problem("module params 3\noptimizer sgd\nschedule \(kind) OPT\ndata tr\nloss bce_logits(x @ params, y)"),
                                  show: "show r", companions: ["warmup_start": "warmup=5"]))
        }
        for (kind, table) in OptionTables.hooks.sorted(by: { $0.key < $1.key }) {
            result.append(Fixture(table: table, lines: problem("module params 3\noptimizer sgd\ndata tr\nloss bce_logits(x @ params, y)\n\(kind) OPT"),
                                  show: "show r", realRange: ["min": -100...0, "max": 0...100]))
        }
        result.append(Fixture(table: OptionTables.config, lines: "config p OPT", show: "show config p"))
        result.append(Fixture(table: OptionTables.engine, lines: "engine OPT", show: "show engine",
                              companions: ["early_stopping_mode": "early_stopping=acc", "early_stopping_tolerance": "early_stopping=acc"]))
        // A check changes nothing to show; its options are checked for acceptance and refusal.
        result.append(Fixture(table: OptionTables.checkHypergrad, lines: "check hypergrad q OPT", show: nil,
                              integerRange: ["steps": 1...3, "reference_steps": 1...4]))
        return result
    }

    // MARK: - Values

    /// A value as typed, and as `show` prints it back.
    struct Typed { var text: String; var shown: String }

    static func validValues(_ spec: OptionSpec, _ fixture: Fixture, files: Files, _ g: inout RandomGenerator) -> [Typed] {
        switch spec.type {
        case let .integer(range):
            let r = fixture.integerRange[spec.key] ?? range
            return integers(in: r, &g).map { Typed(text: String($0), shown: String($0)) }
        case let .integers(range):
            let values = integers(in: range, &g)
            let list = "(\(values.map(String.init).joined(separator: ", ")))"
            return [Typed(text: list, shown: list), Typed(text: "7", shown: "(7)")]
        case let .real(range):
            return reals(in: range, fixture.realRange[spec.key], &g).map { Typed(text: $0, shown: formatNumber(Float($0)!)) }
        case .flag:
            var values = [("true", "true"), ("false", "false"), ("yes", "true"), ("off", "false"), ("1", "true"), ("0", "false")]
                .map { Typed(text: $0.0, shown: $0.1) }
            // A bare key is the flag on.
            if !fixture.inCall { values.append(Typed(text: "", shown: "true")) }
            return values
        case let .choice(words): return words.map { Typed(text: $0, shown: $0) }
        case .name:
            if let names = fixture.names[spec.key] { return names.map { Typed(text: $0, shown: $0) } }
            return spec.key == "from" ? [Typed(text: "p", shown: "p")] : [Typed(text: "acc", shown: "acc"), Typed(text: "off", shown: "off")]
        case .path:
            let path = spec.key == "tensorboard" ? files.eventDirectory : files.logCSV
            return [Typed(text: "\"\(path)\"", shown: "\"\(path)\"")]
        case .source: return [Typed(text: "three.x", shown: "three.x")]
        case .size:
            return [Typed(text: "20000000000", shown: "20000000000"), Typed(text: "\"30GB\"", shown: "30000000000"),
                    Typed(text: "1e11", shown: "100000000000"), Typed(text: "off", shown: "off")]
        }
    }

    /// The ends, their neighbours, Float's first gap (16777217), and random values, within `r`.
    static func integers(in r: ClosedRange<Int>, _ g: inout RandomGenerator) -> [Int] {
        var values = [r.lowerBound, r.upperBound, 16_777_217, 123_456_789]
        if r.lowerBound < r.upperBound { values += [r.lowerBound + 1, r.upperBound - 1] }
        let span = UInt64(bitPattern: Int64(r.upperBound &- r.lowerBound))
        for _ in 0..<2 { values.append(r.lowerBound &+ Int(truncatingIfNeeded: span == .max ? g.next() >> 1 : g.next() % (span + 1))) }
        return Array(Set(values.filter { r.contains($0) })).sorted()
    }

    /// Decimals inside the range (and the narrower fixture range), typed as `show` writes them.
    static func reals(in range: RealRange, _ narrower: ClosedRange<Float>?, _ g: inout RandomGenerator) -> [String] {
        let low = max(range.lower.isFinite ? range.lower : -1000, narrower?.lowerBound ?? -.infinity)
        let high = min(range.upper.isFinite ? range.upper : 1000, narrower?.upperBound ?? .infinity)
        var values: [Float] = [low, high, 0, 1, 0.5, 1e-3, 123.25]
        for _ in 0..<3 { values.append((low + (high - low) * g.nextUniform() * 1000).rounded() / 1000) }
        let inside = values.map { Float(formatNumber($0))! }.filter { range.contains($0) && $0 >= low && $0 <= high }
        return Array(Set(inside.map(formatNumber))).sorted()
    }

    /// Values no option of this type may take.
    static func invalidValues(_ spec: OptionSpec) -> [String] {
        let notANumber = ["0/0", "1/0", "-1/0", "\"3\"", "abc"]
        switch spec.type {
        case let .integer(range), let .integers(range):
            var values = notANumber + ["1.5", "1e30", "2^70"]
            if range.lowerBound > Int.min { values.append(String(range.lowerBound - 1)) }
            if range.upperBound < Int.max { values.append(String(range.upperBound + 1)) }
            if case .integers = spec.type { values += ["(1, 2.5)", "(-1, 3)"] }
            return values
        case let .real(range):
            var values = notANumber + ["1e39"]
            if range.lower.isFinite { values.append(formatNumber(range.lowerIncluded ? range.lower - 1 : range.lower)) }
            if range.upper.isFinite { values.append(formatNumber(range.upperIncluded ? range.upper + 1 : range.upper)) }
            return values
        case .flag: return ["2", "maybe", "\"true\"", "0.5"]
        case let .choice(words): return ["zzz", "3", "\"\(words[0])\""]
        case .name: return ["3", "\"p\""]
        case .path: return ["run", "3"]
        case .source: return ["3"]
        case .size: return ["lots", "-5", "0", "1.5", "\"12XB\""]
        }
    }

    // MARK: - The property

    @Test func everyOptionTakesItsValidValuesAndRefusesTheOthers() throws {
        let files = try Files()
        defer { files.remove() }
        var g = RandomGenerator(seed: 22)
        var checked = 0
        for fixture in Self.fixtures(files: files) {
            let (session, transcript) = replay(Self.base)
            try #require(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
            for spec in fixture.table.options {
                let companion = fixture.companions[spec.key].map { $0 + (fixture.inCall ? ", " : " ") } ?? ""
                func written(_ value: String) -> String {
                    let option = value.isEmpty ? spec.key : "\(spec.key)=\(value)"
                    return fixture.lines.replacingOccurrences(of: "OPT", with: companion + option)
                }
                for value in Self.validValues(spec, fixture, files: files, &g) {
                    trial += 1
                    run(fixture.setup, in: session)
                    let lines = written(value.text)
                    let errors = transcript.errors.count
                    run(lines, in: session)
                    #expect(transcript.errors.count == errors, "\(lines): \(transcript.errors.last?.rendered ?? "")")
                    if let show = fixture.show {
                        let shown = output(of: show, in: session, transcript)
                        let key = spec.aliasOf ?? spec.key
                        #expect(Self.shows(shown, key, value.shown), "\(lines)\n\(show) printed:\n\(shown)\nwithout \(key)=\(value.shown)")
                    }
                    checked += 1
                }
                for value in Self.invalidValues(spec) {
                    trial += 1
                    run(fixture.setup, in: session)
                    let lines = written(value)
                    let before = snapshot(session, transcript)
                    let errors = transcript.errors.count
                    run(lines, in: session)
                    #expect(transcript.errors.count == errors + 1, "\(lines) was not refused once: \(transcript.errors.dropFirst(errors).map(\.rendered))")
                    #expect(snapshot(session, transcript) == before, "\(lines) changed the state")
                    checked += 1
                }
            }
            session.execute("engine memory_limit=off", file: "t", line: 1)
        }
        #expect(checked > 600, "\(checked) values checked")
    }

    /// Runs `lines`, `{n}` in them numbering the values tried.
    private func run(_ lines: String, in session: Session) {
        let numbered = lines.replacingOccurrences(of: "{n}", with: String(trial))
        for (i, line) in numbered.split(separator: "\n").enumerated() { session.execute(String(line), file: "t", line: i + 1) }
    }

    private func output(of line: String, in session: Session, _ transcript: Transcript) -> String {
        let before = transcript.text.count
        session.execute(line, file: "t", line: 1)
        return String(transcript.text.dropFirst(before))
    }

    /// Everything a statement could change: the tensors and counters, and every setting `show` prints.
    private func snapshot(_ session: Session, _ transcript: Transcript) -> String {
        // Not `show memory`: a refused allocation's peak is not state.
        let shows = ["show data", "show problems", "show graph", "show metrics", "show engine", "show values"]
            + session.problemNames.map { "show \($0)" }
        return SessionState.snapshot(session).joined(separator: "\n") + "\n" + shows.map { output(of: $0, in: session, transcript) }.joined(separator: "\n")
    }

    /// `key=value` as a whole token of `text` (followed by a space, comma, parenthesis or the line's end).
    static func shows(_ text: String, _ key: String, _ value: String) -> Bool {
        var rest = Substring(text)
        while let r = rest.range(of: "\(key)=\(value)") {
            let before = r.lowerBound == text.startIndex ? " " : text[text.index(before: r.lowerBound)]
            let after = r.upperBound == text.endIndex ? " " : text[r.upperBound]
            if " (,".contains(before), " ,)\n".contains(after) { return true }
            rest = text[r.upperBound...]
        }
        return false
    }

    // MARK: - Files the data sources read

    struct Files {
        let directory = NSTemporaryDirectory() + "betty-schema-\(UUID().uuidString)/"
        var npyX: String { directory + "x.npy" }
        var npyY: String { directory + "y.npy" }
        var idxX: String { directory + "images.idx" }
        var idxY: String { directory + "labels.idx" }
        var csv: String { directory + "d.csv" }
        var npz: String { directory + "d.npz" }
        var cifar10: String { directory + "data_batch_1.bin" }
        var cifar100: String { directory + "train.bin" }
        var logCSV: String { directory + "log.csv" }
        var eventDirectory: String { directory + "events" }

        init() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(Self.npy([0.5, -1, 2, 3.25, 1, 0], shape: "(3, 2)")).write(to: URL(fileURLWithPath: npyX))
            try Data(Self.npy([0, 1, 0], shape: "(3,)")).write(to: URL(fileURLWithPath: npyY))
            try Data([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2] + (0..<12).map { UInt8($0 * 20) }).write(to: URL(fileURLWithPath: idxX))
            try Data([0, 0, 8, 1, 0, 0, 0, 3, 1, 0, 1]).write(to: URL(fileURLWithPath: idxY))
            try "1,2,0\n3,4,1\n5,6,0\n7,8,1\n".write(toFile: csv, atomically: true, encoding: .utf8)
            // Two arrays of inputs and two of labels, deflated as np.savez_compressed writes them.
            try ZipFixtures.npz([("x", [0.5, -1, 2, 3.25, 1, 0], [3, 2]), ("y", [0, 1, 0], [3]),
                                 ("features", [1, 2, 3, 4, 5, 6], [3, 2]), ("labels", [1, 1, 0], [3])], compressed: true)
                .data.write(to: URL(fileURLWithPath: npz))
            // Two records each: a label byte (two for CIFAR-100) and 3072 pixel bytes.
            try Data([1] + [UInt8](repeating: 9, count: 3072) + [0] + [UInt8](repeating: 200, count: 3072)).write(to: URL(fileURLWithPath: cifar10))
            try Data([3, 42] + [UInt8](repeating: 9, count: 3072) + [19, 99] + [UInt8](repeating: 200, count: 3072)).write(to: URL(fileURLWithPath: cifar100))
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }

        /// A float32 .npy file.
        static func npy(_ values: [Float], shape: String) -> [UInt8] {
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
            header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
            var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
            bytes += Array(header.utf8)
            for x in values { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes += $0 } }
            return bytes
        }
    }
}
