import ArgumentParser
import Foundation

/// Runs a campaign's batches, `jobs` children at a time, and reports what failed.
struct Runner {
    struct Summary {
        var units = 0
        var batches = 0
        var interrupts = 0
        /// Statements Ctrl-C was sent to, by first word.
        var interruptedWords: [String: Int] = [:]
        var failed: [(directory: String, verdict: ChildRun.Verdict)] = []
    }

    let campaign: BettyFuzz.Campaign
    let unit: String

    /// Runs `campaign.count` units (lines or files) in batches; `prepare` fills a fresh batch directory
    /// (batch.betty and any files it reads) with the units numbered by the range. Throws ExitCode(1)
    /// when a batch failed.
    func run(prepare: (_ directory: String, _ units: Range<Int>) throws -> Void) throws {
        let batches = (campaign.count + campaign.batch - 1) / campaign.batch
        let repl = try campaign.bettyREPL()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("betty-fuzz-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let started = ContinuousClock.now
        var summary = Summary()
        var running: [(run: ChildRun, directory: String, units: Int)] = []
        var next = 0
        var lastReport = started

        while next < batches || !running.isEmpty {
            while running.count < max(1, campaign.jobs), next < batches {
                let directory = scratch + "/b\(next)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let range = (next * campaign.batch)..<min(campaign.count, (next + 1) * campaign.batch)
                try prepare(directory, range)
                let units = range.count
                let child = try ChildRun(repl: repl, batchFile: directory + "/batch.betty", directory: directory,
                                         patience: .seconds(campaign.patience), giveUp: .seconds(campaign.giveUp))
                running.append((child, directory, units))
                next += 1
            }
            Thread.sleep(forTimeInterval: 0.02)
            var still: [(run: ChildRun, directory: String, units: Int)] = []
            for entry in running {
                guard entry.run.poll() else { still.append(entry); continue }
                summary.batches += 1
                summary.units += entry.units
                summary.interrupts += entry.run.interruptsSent
                for word in entry.run.interrupted { summary.interruptedWords[word, default: 0] += 1 }
                let verdict = entry.run.verdict()
                if verdict == .passed {
                    try? FileManager.default.removeItem(atPath: entry.directory)
                } else {
                    let kept = try keep(entry.directory)
                    summary.failed.append((kept, verdict))
                    print("FAILED batch \(kept): \(verdict)")
                }
            }
            running = still
            if ContinuousClock.now - lastReport > .seconds(30) {
                lastReport = ContinuousClock.now
                print("\(summary.units) \(unit) in \(summary.batches) batches, \(summary.failed.count) failed, \(format(ContinuousClock.now - started))")
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print("""
            betty-fuzz \(unit): seed \(campaign.seed), \(summary.units) \(unit) in \(summary.batches) batches \
            (\(campaign.jobs) at a time) in \(format(elapsed)), \(Int(Double(summary.units) / max(seconds, 1e-9))) \(unit)/s; \
            \(summary.interrupts) Ctrl-C sent to long statements; \(summary.failed.count) failed batches
            """)
        if !summary.interruptedWords.isEmpty {
            let words = summary.interruptedWords.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }
            print("  Ctrl-C went to: \(words.joined(separator: ", "))")
        }
        for (directory, verdict) in summary.failed { print("  \(directory): \(verdict)") }
        if !summary.failed.isEmpty { throw ExitCode(1) }
    }

    private func keep(_ directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: campaign.failures, withIntermediateDirectories: true)
        let target = campaign.failures + "/seed\(campaign.seed)-" + URL(fileURLWithPath: directory).lastPathComponent
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.moveItem(atPath: directory, toPath: target)
        return target
    }

    private func format(_ d: Duration) -> String {
        let s = d.components.seconds
        return s >= 60 ? "\(s / 60) min \(s % 60) s" : "\(s) s"
    }
}
