import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One betty-repl child replaying a batch (`--keep-going --json`), watched for crashes and hangs.
///
/// A statement that runs long is not a hang by itself (`run 1e9` is a fine thing to type); one that
/// does not give the prompt back after Ctrl-C is. So the watchdog sends SIGINT once a statement has run
/// for `patience`, and calls it a hang only when `giveUp` passes with no new statement starting. One
/// SIGINT per statement: a second Ctrl-C is a user's way to leave a command that cannot stop part-way
/// (building a large module, say), and betty-repl then exits with 130 as asked, which is not a crash.
final class ChildRun {
    enum Verdict: Equatable {
        case passed
        /// Killed by a signal, or exited with a status no session should give.
        case crashed(String)
        case hung(String)
        /// Exited cleanly, but the closing `show` or the sentinel did not answer.
        case unresponsive(String)
    }

    static let sentinel = "4242"
    /// The batch's closing lines: leave any open block, then the state must still answer.
    static let closing = ["end", "show", "print \(sentinel)"]

    let batchFile: String
    private let outputFile: String
    private let process = Process()
    private var reader: FileHandle?
    private var output = [UInt8]()
    private var lastStatementAt = ContinuousClock.now
    private var lastInterruptAt: ContinuousClock.Instant?
    private var interrupts = 0
    private(set) var killedForHanging = false
    private let patience: Duration
    private let giveUp: Duration

    init(repl: String, batchFile: String, directory: String, patience: Duration, giveUp: Duration) throws {
        self.batchFile = batchFile
        self.outputFile = batchFile + ".out"
        self.patience = patience
        self.giveUp = giveUp
        try Data().write(to: URL(fileURLWithPath: outputFile))
        process.executableURL = URL(fileURLWithPath: repl)
        process.arguments = ["--keep-going", "--json", batchFile]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        process.standardError = process.standardOutput
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        try process.run()
        reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: outputFile))
    }

    /// Reads new output and applies the watchdog; true once the child has exited.
    func poll() -> Bool {
        drain()
        if !process.isRunning { return true }
        let now = ContinuousClock.now
        if now - lastStatementAt > giveUp {
            killedForHanging = true
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return true
        }
        if now - lastStatementAt > patience, lastInterruptAt == nil {
            interrupts += 1
            interrupted.append(currentStatementWord())
            lastInterruptAt = now
            kill(process.processIdentifier, SIGINT)
        }
        return false
    }

    private func drain() {
        guard let reader else { return }
        while true {
            let fresh = reader.availableData
            guard !fresh.isEmpty else { return }
            take(fresh)
        }
    }

    private func take(_ fresh: Data) {
        let marker = Array(#""event":"statement""#.utf8)
        // Count markers in the new bytes, plus any that straddle the previous chunk's end.
        let from = max(0, output.count - marker.count + 1)
        output += fresh
        var i = from
        var found = 0
        while i + marker.count <= output.count {
            if output[i] == marker[0], Array(output[i..<(i + marker.count)]) == marker {
                found += 1
                lastStatementStart = i
                i += marker.count
            } else {
                i += 1
            }
        }
        if found > 0 {
            lastStatementAt = ContinuousClock.now
            lastInterruptAt = nil
        }
    }

    var interruptsSent: Int { interrupts }
    /// The first word of each statement Ctrl-C was sent to.
    private(set) var interrupted: [String] = []

    private var lastStatementStart = 0

    private func currentStatementWord() -> String {
        let text = String(decoding: output[lastStatementStart...].prefix(2000), as: UTF8.self)
        guard let start = text.range(of: #""text":""#) else { return "?" }
        return String(text[start.upperBound...].prefix { $0 != " " && $0 != "\"" })
    }

    func verdict() -> Verdict {
        drain()
        if killedForHanging {
            return .hung("no statement started for \(giveUp) after \(interrupts) Ctrl-C (SIGINT); last output: \(tail())")
        }
        if process.terminationReason == .uncaughtSignal {
            return .crashed("killed by signal \(process.terminationStatus)\(fatalError()) after: \(lastStatement())")
        }
        guard [0, 1, 2].contains(process.terminationStatus) else {
            return .crashed("exit status \(process.terminationStatus); last output: \(tail())")
        }
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        guard let show = lines.lastIndex(where: { $0.contains(#""event":"statement""#) && $0.hasSuffix(#""text":"show"}"#) }) else {
            return .unresponsive("the closing 'show' never ran; last output: \(tail())")
        }
        guard show + 1 < lines.count, lines[show + 1].contains(#""event":"output""#) else {
            return .unresponsive("the closing 'show' did not answer; last output: \(tail())")
        }
        guard lines[(show + 1)...].contains(where: { $0.contains(#""text":"\#(Self.sentinel)""#) }) else {
            return .unresponsive("'print \(Self.sentinel)' did not answer; last output: \(tail())")
        }
        return .passed
    }

    /// The runtime's "Fatal error: ..." line, which tells crashes apart.
    private func fatalError() -> String {
        let text = String(decoding: output.suffix(20_000), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.contains("Fatal error:") }) else { return "" }
        return " (\(line))"
    }

    /// Where the child died: the last statement that started, or the line after it when the crash came
    /// before that line's statement event (while lexing or parsing it).
    private func lastStatement() -> String {
        let lines = String(decoding: output.suffix(200_000), as: UTF8.self).split(separator: "\n")
        let started = lines.last(where: { $0.contains(#""event":"statement""#) })
        let number = started.flatMap { line in
            line.range(of: #""line":"#).map { Int(line[$0.upperBound...].prefix(while: \.isNumber)) ?? 0 }
        } ?? 0
        let source = (try? String(contentsOfFile: batchFile, encoding: .utf8))?.split(separator: "\n", omittingEmptySubsequences: false) ?? []
        func quoted(_ n: Int) -> String {
            n >= 1 && n <= source.count ? "line \(n): \(source[n - 1].prefix(160))" : "line \(n)"
        }
        return "\(quoted(number)), or while reading \(quoted(number + 1))"
    }

    private func tail() -> String {
        String(decoding: output.suffix(600), as: UTF8.self).replacingOccurrences(of: "\n", with: " | ")
    }
}
