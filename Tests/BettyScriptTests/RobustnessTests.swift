import BettyScript
import BettyTensor
import Foundation
import Synchronization
import Testing

// Thousands of random and mutated lines (seeded) fed to a live session: no crash, no hang (a
// watchdog interrupts any command that runs long), and afterwards the state still answers `show`
// and the program still runs.
@Suite(.serialized) struct RobustnessTests {
    static let corpus = tinyProgram.split(separator: "\n").map(String.init) + [
        "run 5", "step", "step 2", "show", "show graph", "show inner", "show config outer", "hypergrad outer",
        "print mean(valid.x @ inner.params)", "let a = 2 * (3 + 4)", "expect outer.loss < 10", "validate",
        "validate every 2: l = bce_logits(valid.x @ inner.params, valid.y)", "config inner type=cg cg_iterations=2",
        "disconnect outer -> inner", "connect outer -> inner", "help", "help problem", "engine log_every=1",
        "print softmax(valid.x, axis=1)", "reset", "continue", "pause", "split all -> a 0.5, b 0.5",
        // Few-shot tasks, a start inside the graph, layer parameters by index.
        "data tasks = sinusoid tasks=20 shots=3 query=3", "problem fs", "  module mlp 1 -> 4 -> 1",
        "  optimizer sgd lr=0.01", "  data tasks.support", "  loss mse(fs(x), y)", "  config type=reverse unroll=2",
        "  reset_on_start from=fm", "end", "problem fm", "  module mlp 1 -> 4 -> 1", "  optimizer adam lr=0.01",
        "  data tasks.query", "  loss mse(fs(x), y)", "end", "connect fm -> fs", "print fm.mean_loss",
        "print fm.0.weight", "hypergrad fm",
    ]
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789 _.,:=()-><+*/@^#\"'!?[]{}\\\t")

    private static func mutate(_ line: String, _ g: inout RandomGenerator) -> String {
        var chars = Array(line)
        for _ in 0..<(1 + Int(g.next() % 3)) {
            let op = g.next() % 5
            let i = chars.isEmpty ? 0 : Int(g.next() % UInt64(chars.count))
            switch op {
            case 0 where !chars.isEmpty: chars.remove(at: i)
            case 1: chars.insert(alphabet[Int(g.next() % UInt64(alphabet.count))], at: i)
            case 2 where !chars.isEmpty: chars[i] = alphabet[Int(g.next() % UInt64(alphabet.count))]
            case 3 where chars.count > 2:
                let j = Int(g.next() % UInt64(chars.count))
                chars.swapAt(i, j)
            default:
                // A fragment of another line spliced in.
                let other = Array(corpus[Int(g.next() % UInt64(corpus.count))])
                let cut = other.isEmpty ? 0 : Int(g.next() % UInt64(other.count))
                chars.insert(contentsOf: other[cut...], at: i)
            }
        }
        return String(chars)
    }

    /// An expression nested up to 5000 levels deep, of a kind picked at random, where a statement takes
    /// one: most pass the nesting limit, some stay under it.
    private static func nested(_ g: inout RandomGenerator) -> String {
        let depth = 1 + Int(g.next() % 5000)
        let kinds = [("(", ")"), ("abs(", ")"), ("-", ""), ("2^", ""), ("1+(", ")"), ("inner.params*(", ")"), ("x.", "")]
        let (open, close) = kinds[Int(g.next() % UInt64(kinds.count))]
        let statement = ["print ", "let z = ", "expect 1 < ", "engine log_every=", "validate every 3: v = "][Int(g.next() % 5)]
        return statement + String(repeating: open, count: depth) + "1" + String(repeating: close, count: depth)
    }

    @Test func randomAndMutatedLinesNeverCrashOrHang() throws {
        // Commands that write files (save, record) land in a scratch directory.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("betty-fuzz-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let previous = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(scratch.path)
        defer {
            _ = FileManager.default.changeCurrentDirectoryPath(previous)
            try? FileManager.default.removeItem(at: scratch)
        }

        let (session, transcript) = replay(tinyProgram)
        // The few-shot levels too, so the fuzzed commands meet task loaders and a start inside the graph.
        let fewShot = Self.corpus.drop { !$0.hasPrefix("data tasks") }.prefix { $0 != "print fm.mean_loss" }
        for (i, line) in fewShot.enumerated() { session.execute(line, file: "setup", line: i + 1) }
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        // Watchdog: a command running for more than two seconds (run 99999) is interrupted.
        let commandStarted = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
        let watchdog = Thread {
            while !done.load(ordering: .relaxed) {
                let started = commandStarted.load(ordering: .relaxed)
                if started > 0, Int(Date().timeIntervalSince1970) - started >= 2 { session.interrupt() }
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        watchdog.start()
        defer { done.store(true, ordering: .relaxed) }

        var g = RandomGenerator(seed: 20261130)
        var lines = 0
        for round in 0..<3000 {
            let line: String
            if round % 50 == 0 {
                line = Self.nested(&g)
            } else {
                switch g.next() % 4 {
                case 0: line = String((0..<Int(g.next() % 40)).map { _ in Self.alphabet[Int(g.next() % UInt64(Self.alphabet.count))] })
                case 1: line = Self.corpus[Int(g.next() % UInt64(Self.corpus.count))]
                default: line = Self.mutate(Self.corpus[Int(g.next() % UInt64(Self.corpus.count))], &g)
                }
            }
            commandStarted.store(Int(Date().timeIntervalSince1970), ordering: .relaxed)
            session.execute(line, file: "fuzz", line: round + 1)
            commandStarted.store(0, ordering: .relaxed)
            lines += 1
        }
        #expect(lines == 3000)
        // Leave any half-typed block, then the session still answers and still runs.
        session.execute("end", file: "fuzz", line: 3001)
        let errorsBefore = transcript.errors.count
        session.execute("show", file: "fuzz", line: 3002)
        #expect(transcript.errors.count == errorsBefore, "\(transcript.errors.last?.rendered ?? "")")
        #expect(transcript.errors.count > 500, "the mutations should mostly be errors")
        let fresh = replay(tinyProgram + "\nrun 10\nexpect outer.loss < 10")
        #expect(fresh.1.errors.isEmpty && fresh.0.failedExpectations == 0, "\(fresh.1.errors.map(\.rendered))")
    }
}
