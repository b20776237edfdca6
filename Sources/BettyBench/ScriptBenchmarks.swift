import Betty
import BettyNN
import BettyScript
import BettyTensor
import Foundation

/// REPL overhead (issue 5): the same two programs written in Swift (Betty/Programs) and defined in
/// BettyScript, run on the same data with the same sizes, configs and iteration counts, timed in
/// alternation (Swift, script, Swift, script, ...) so drift on a shared machine hits both alike.
/// The issue's bound: script / Swift <= 1.10.
enum ScriptBenchmarks {
    /// Keeps a session's text (a few lines per command) and errors; drops the per-step events, as a
    /// headless run that prints nothing would.
    final class QuietOutput: SessionOutput {
        var lines: [String] = []
        var errors: [String] = []
        func text(_ text: String) { lines.append(text) }
        func error(_ error: ScriptError) { errors.append(error.rendered) }
        func event(_ event: EngineEvent, isProgress: Bool) {}
        func expectation(_ description: String, passed: Bool, location: SourceLocation) {}
        func echo(_ line: String, location: SourceLocation) {}
    }

    struct BenchmarkError: Error, CustomStringConvertible {
        var description: String
    }

    /// A session that replayed `script`; throws with the session's error if a line failed.
    static func session(_ script: String, file: String) throws -> (Session, QuietOutput) {
        let output = QuietOutput()
        let session = Session(output: output)
        if session.replay(script.split(separator: "\n").map(String.init), file: file) != nil {
            throw BenchmarkError(description: output.errors.joined(separator: "\n"))
        }
        return (session, output)
    }

    /// Runs one statement; throws on an error.
    static func execute(_ session: Session, _ output: QuietOutput, _ line: String) throws {
        if session.execute(line, file: "bench") != nil {
            throw BenchmarkError(description: output.errors.joined(separator: "\n"))
        }
    }

    /// The number a `print` statement shows.
    static func printed(_ session: Session, _ output: QuietOutput, _ expression: String) throws -> Float {
        try execute(session, output, "print \(expression)")
        guard let text = output.lines.last, let x = Float(text) else {
            throw BenchmarkError(description: "print \(expression) gave \(output.lines.last ?? "nothing")")
        }
        return x
    }

    /// Writes `t` as a little-endian float32 `.npy` file (version 1), for the script's `data ... = npy`.
    static func writeNPY(_ t: Tensor, to path: String) throws {
        let dims = Array(t.shape)
        let shape = dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, then a newline.
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        data.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        for v in t.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        try FileIO.write([UInt8](data), to: path)
    }

    /// `data NAME = npy ...` for `dataset`, written under `directory`.
    static func npyData(_ name: String, _ dataset: Dataset, in directory: String) throws -> String {
        let x = "\(directory)/\(name)_x.npy", y = "\(directory)/\(name)_y.npy"
        try writeNPY(dataset.x, to: x)
        try writeNPY(dataset.y, to: y)
        return "data \(name) = npy \"\(x)\" \"\(y)\""
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "betty-bench-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Alternates `swift` and `script` for `rounds` rounds after one warm-up each; returns the median
    /// seconds of each and the median of the per-round ratios script / Swift.
    static func interleaved(rounds: Int, swift: () throws -> Void, script: () throws -> Void) rethrows
        -> (swift: Double, script: Double, ratio: Double) {
        try swift()
        try script()
        var a: [Double] = [], b: [Double] = [], r: [Double] = []
        for _ in 0..<rounds {
            var t0 = now()
            try swift()
            a.append(now() - t0)
            t0 = now()
            try script()
            b.append(now() - t0)
            r.append(b.last! / a.last!)
        }
        let median = { (xs: [Double]) in xs.sorted()[xs.count / 2] }
        print("    swift  samples (ms): " + a.map { format($0 * 1e3, 2) }.joined(separator: " "))
        print("    script samples (ms): " + b.map { format($0 * 1e3, 2) }.joined(separator: " "))
        return (median(a), median(b), median(r))
    }

    static func row(_ name: String, _ t: (swift: Double, script: Double, ratio: Double), iterations: Int,
                    scale: Double, unit: String) -> Row {
        let ratio = t.script / t.swift
        print("  \(name): Swift \(format(t.swift / Double(iterations) * scale, 2)) \(unit), script \(format(t.script / Double(iterations) * scale, 2)) \(unit); "
              + "script / Swift \(format(ratio, 3)) (median of per-round ratios \(format(t.ratio, 3)))")
        return Row(name: "\(name) (script/Swift \(format(ratio, 3)))", ours: t.script / Double(iterations) * scale, unit: unit,
                   torch: nil, baseline: ("Swift", t.swift / Double(iterations) * scale),
                   target: "script/Swift <= 1.10")
    }

    // MARK: - Logistic HPO

    /// The quickstart program: Betty's logistic-regression HPO, darts, unroll 100; the script's loss
    /// is written op for op like LogisticHPO's (lam * w * w, not w^2) so both record the same graph.
    static func logisticHPOScript(train: String, valid: String) -> String {
        """
        seed 0
        \(train)
        \(valid)
        problem inner
          module    params 20 init=zeros
          optimizer sgd lr=0.1
          data      train batch=500 shuffle=false
          loss      bce_logits(x @ params, y) + 0.5 * sum(outer.params * params * params)
          config    type=darts unroll=100 darts_alpha=0.01 cg_iterations=3 neumann_iterations=5
          reset_on_start
        end
        problem outer
          module    params 20 init=ones
          optimizer sgd lr=1 momentum=0.9
          data      valid batch=500 shuffle=false
          loss      bce_logits(x @ inner.params, y)
          clamp     min=1e-8
        end
        connect outer -> inner
        """
    }

    /// Both versions of a program, built and ready: `swift` and `script` each run `iterations`
    /// iterations; `report` prints their final losses (after the same number of iterations).
    struct Prepared {
        var iterations: Int
        var swift: () throws -> Void
        var script: () throws -> Void
        var report: (_ total: Int) throws -> Void
        /// Removes the data files written for the script.
        var cleanUp: () -> Void
    }

    static func prepareLogisticHPO() throws -> Prepared {
        BLAS.threadCount = 1
        let directory = try temporaryDirectory()
        // LogisticHPO's data: the first 500 samples train, the last 500 validate.
        let all = try Dataset.logistic(samples: 1000, features: 20, seed: 0)
        let script = logisticHPOScript(train: try npyData("train", all.subset(Array(0..<500)), in: directory),
                                       valid: try npyData("valid", all.subset(Array(500..<1000)), in: directory))
        let swiftProgram = try LogisticHPO(method: .darts, seed: 0) {
            $0.dartsAlpha = 0.01
            $0.cgIterations = 3
            $0.neumannIterations = 5
        }
        let (session, output) = try session(script, file: "hpo.betty")
        // Whole outer steps per sample: 2000 iterations = 20 windows of 100 inner steps.
        let iterations = 2000
        return Prepared(
            iterations: iterations,
            swift: { try swiftProgram.engine.run(iterations: iterations) },
            script: { try execute(session, output, "run \(iterations)") },
            report: { total in
                let swiftLoss = try swiftProgram.validationLoss()
                let scriptLoss = try printed(session, output, "bce_logits(valid.x @ inner.params, valid.y)")
                let swiftOuter = swiftProgram.engine.problem(named: "outer")?.lastLoss ?? .nan
                let scriptOuter = try printed(session, output, "outer.loss")
                print("  logistic HPO after \(total) iterations each: validation loss Swift \(swiftLoss), script \(scriptLoss); "
                      + "last outer loss Swift \(swiftOuter), script \(scriptOuter)")
            },
            cleanUp: { try? FileManager.default.removeItem(atPath: directory) })
    }

    static func logisticHPO(rounds: Int) throws -> [Row] {
        let p = try prepareLogisticHPO()
        defer { p.cleanUp() }
        let t = try interleaved(rounds: rounds, swift: p.swift, script: p.script)
        try p.report((rounds + 1) * p.iterations)
        return [row("logistic HPO, darts, REPL-defined loss, per iteration", t, iterations: p.iterations, scale: 1e6, unit: "us")]
    }

    // MARK: - Meta-Weight-Net

    /// The two connected problems of Betty's Meta-Weight-Net tutorial (the long-tail program that
    /// reweight_mnist.betty was before issue 17, no baseline), loss as in MetaWeightNet.
    static func metaWeightNetScript(train: String, meta: String, test: String) -> String {
        """
        seed 0
        \(train)
        \(meta)
        \(test)
        problem classifier
          module    mlp 784 -> 200 -> 10
          optimizer sgd lr=0.1 momentum=0.9
          data      train batch=100
          let per = cross_entropy(classifier(x), y, reduction=none)
          loss      mean(reshape(reweight(reshape(detach(per), -1, 1)), -1) * per)
          config    type=darts unroll=1
        end
        problem reweight
          module    mlp 1 -> 100 -> 1 out=sigmoid
          optimizer adam lr=1e-5
          data      meta batch=100
          loss      cross_entropy(classifier(x), y)
        end
        connect reweight -> classifier
        """
    }

    static func prepareMetaWeightNet(iterations: Int) throws -> Prepared {
        BLAS.threadCount = 1
        let directory = try temporaryDirectory()
        // The tutorial's data: mnist5k / 255 normalised with MNIST's mean and std, 400 train /
        // 10 meta / 90 test per class, the train part long-tailed with imbalance factor 100.
        let pixels = try BuiltinDataset.mnist5k.load().scaled(by: 1 / 255)
        let normalized = try Dataset(x: (pixels.x - 0.1307) / 0.3081, y: pixels.y)
        let parts = try normalized.splitPerClass(counts: [400, 10, 90], seed: 0)
        let train = try parts[0].imbalanced(factor: 100, seed: 0), meta = parts[1], test = parts[2]
        let script = metaWeightNetScript(train: try npyData("train", train, in: directory),
                                         meta: try npyData("meta", meta, in: directory),
                                         test: try npyData("test", test, in: directory))
        let swiftProgram = try MetaWeightNet(train: train, meta: meta, classes: 10)
        let (session, output) = try session(script, file: "mwn.betty")
        return Prepared(
            iterations: iterations,
            swift: { try swiftProgram.engine.run(iterations: iterations) },
            script: { try execute(session, output, "run \(iterations)") },
            report: { total in
                let (swiftLoss, swiftAccuracy) = try withoutGrad {
                    (try crossEntropy(swiftProgram.classifier(train.x), train.y).scalar,
                     try accuracy(swiftProgram.classifier(test.x), test.y))
                }
                let scriptLoss = try printed(session, output, "cross_entropy(classifier(train.x), train.y)")
                let scriptAccuracy = try printed(session, output, "accuracy(classifier(test.x), test.y)")
                let swiftMeta = swiftProgram.engine.problem(named: "reweight")?.lastLoss ?? .nan
                let scriptMeta = try printed(session, output, "reweight.loss")
                print("  Meta-Weight-Net after \(total) iterations each: train loss Swift \(swiftLoss), script \(scriptLoss); "
                      + "test accuracy Swift \(swiftAccuracy), script \(scriptAccuracy); last meta loss Swift \(swiftMeta), script \(scriptMeta)")
            },
            cleanUp: { try? FileManager.default.removeItem(atPath: directory) })
    }

    static func metaWeightNet(rounds: Int, iterations: Int) throws -> [Row] {
        let p = try prepareMetaWeightNet(iterations: iterations)
        defer { p.cleanUp() }
        let t = try interleaved(rounds: rounds, swift: p.swift, script: p.script)
        try p.report((rounds + 1) * p.iterations)
        return [row("Meta-Weight-Net, REPL-defined losses, per iteration, 1 thread", t, iterations: p.iterations, scale: 1e3, unit: "ms")]
    }

    /// For profilers: builds the program once and runs one side (`script-hpo`, `swift-hpo`,
    /// `script-mwn`, `swift-mwn`) for `seconds`. Returns false for an unknown name.
    static func loop(_ name: String, seconds: Double) throws -> Bool {
        let parts = name.split(separator: "-")
        guard parts.count == 2, ["script", "swift"].contains(parts[0]), ["hpo", "mwn"].contains(parts[1]) else { return false }
        let p = parts[1] == "hpo" ? try prepareLogisticHPO() : try prepareMetaWeightNet(iterations: 20)
        defer { p.cleanUp() }
        let body = parts[0] == "script" ? p.script : p.swift
        let t0 = now()
        while now() - t0 < seconds { try body() }
        return true
    }

    static func all(quick: Bool) throws -> [Row] {
        print("REPL overhead: the same program in Swift and in BettyScript, timed in alternation")
        return try logisticHPO(rounds: quick ? 5 : 15)
            + metaWeightNet(rounds: quick ? 5 : 9, iterations: quick ? 20 : 50)
    }
}
