import ArgumentParser
import Foundation

@main
struct BettyFuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "betty-fuzz",
        abstract: "Seeded fuzzers for betty-repl: generated lines and mutated data and checkpoint files.",
        discussion: """
            Each batch runs in its own betty-repl child (--keep-going --json). A batch fails when the child dies
            of a signal, stops starting statements for --give-up seconds although Ctrl-C was sent after
            --patience seconds, or no longer answers the closing 'show' and 'print'. Failing batches are kept
            under --failures with everything needed to replay them: betty-repl --keep-going FILE.
            """,
        subcommands: [Lines.self, Files.self])

    struct Campaign: ParsableArguments {
        @Option(help: "Seed of the campaign: the same seed generates the same batches.")
        var seed: UInt64 = 1

        @Option(help: "How many lines (lines) or files (files) to generate.")
        var count = 10_000

        @Option(help: "Lines or files per child process.")
        var batch = 500

        @Option(help: "Children running at once.")
        var jobs = 2

        @Option(help: "Seconds a statement may run before Ctrl-C is sent (once per statement).")
        var patience: Double = 1

        @Option(help: "Seconds with no new statement (despite Ctrl-C) after which a batch is a hang.")
        var giveUp: Double = 40

        @Option(help: "Where failing batches are kept.")
        var failures = "fuzz-failures"

        @Option(help: "The betty-repl to fuzz (default: the one built next to this program).")
        var repl: String?

        func bettyREPL() throws -> String {
            if let repl { return repl }
            let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            let sibling = here.appendingPathComponent("betty-repl").path
            guard FileManager.default.isExecutableFile(atPath: sibling) else {
                throw ValidationError("no betty-repl next to \(here.path); build it or pass --repl PATH")
            }
            return sibling
        }
    }

    struct Lines: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grammar-aware generated lines.")
        @OptionGroup var campaign: Campaign

        func run() throws {
            var generator = LineGenerator(seed: campaign.seed)
            try Runner(campaign: campaign, unit: "lines").run { directory, units in
                var bytes = Array((LineGenerator.prelude.joined(separator: "\n") + "\n").utf8)
                for _ in units { bytes += generator.lineBytes() + [0x0A] }
                bytes += Array((ChildRun.closing.joined(separator: "\n") + "\n").utf8)
                try Data(bytes).write(to: URL(fileURLWithPath: directory + "/batch.betty"))
            }
        }
    }

    struct Files: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mutated .npy, .npz, IDX, CIFAR, CSV and safetensors checkpoint files.")
        @OptionGroup var campaign: Campaign

        func run() throws {
            let repl = try campaign.bettyREPL()
            let seeds = try SeedFiles(repl: repl)
            var mutator = FileMutator(seed: campaign.seed)
            try Runner(campaign: campaign, unit: "files").run { directory, units in
                try seeds.copy(into: directory)
                var statements: [String] = []
                for (k, unit) in units.enumerated() {
                    let format = FileMutator.Format.allCases[unit % FileMutator.Format.allCases.count]
                    let name = "m\(k).\(format.fileExtension)"
                    let bytes = mutator.mutate(seeds.bytes[format]!)
                    try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
                    statements.append(format.statement(reading: name))
                }
                try write(LineGenerator.prelude + statements + ChildRun.closing, to: directory + "/batch.betty")
            }
        }
    }
}

func write(_ lines: [String], to path: String) throws {
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
}

/// The valid files the file fuzzer mutates; the checkpoint is one betty-repl wrote for the prelude's program.
struct SeedFiles {
    let bytes: [FileMutator.Format: [UInt8]]
    private let labels: [String: [UInt8]]

    init(repl: String) throws {
        let checkpoint = try Self.checkpoint(repl: repl)
        let npzMembers = [("x.npy", FileMutator.npy(shape: [20, 3]) { Float($0 % 11) * 0.5 - 2 }),
                          ("y.npy", FileMutator.npy(shape: [20]) { Float($0 % 2) })]
        bytes = [
            .npy: FileMutator.npy(shape: [20, 3]) { Float($0 % 11) * 0.5 - 2 },
            .idx: FileMutator.idx(shape: [20, 2, 2]) { UInt8(truncatingIfNeeded: $0 * 37) },
            .csv: FileMutator.csv(rows: 20),
            .checkpoint: checkpoint,
            .npz: FileMutator.npz(npzMembers, deflated: false),
            .npzDeflated: FileMutator.npz(npzMembers, deflated: true),
            .cifar10: FileMutator.cifar10(records: 3),
        ]
        labels = [
            "seed-y.npy": FileMutator.npy(shape: [20]) { Float($0 % 2) },
            "seed-y.idx": FileMutator.idx(shape: [20]) { UInt8($0 % 2) },
        ]
    }

    func copy(into directory: String) throws {
        for (name, content) in labels {
            guard FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(content)) else {
                throw ValidationError("cannot write \(directory)/\(name)")
            }
        }
    }

    private static func checkpoint(repl: String) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("betty-fuzz-seed-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try write(LineGenerator.prelude + ["run 4", "save \"seed.safetensors\""], to: directory + "/seed.betty")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: repl)
        process.arguments = ["seed.betty"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let data = FileManager.default.contents(atPath: directory + "/seed.safetensors") else {
            throw ValidationError("betty-repl could not write the seed checkpoint (status \(process.terminationStatus))")
        }
        return [UInt8](data)
    }
}
