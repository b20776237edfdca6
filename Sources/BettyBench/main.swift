import Betty
import BettyTensor
#if canImport(Glibc)
import Glibc
#endif

// Benchmarks print a table; they are never part of `swift test`. Run with:
//   swift run -c release BettyBench
let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--help") {
    print("""
        usage: BettyBench [--quick] [--programs] [--script] [--dashboard] [--loop NAME [--once]]
          Times the tensor core against raw OpenBLAS and PyTorch reference figures, and each
          multilevel program dynamic and compiled against its JAX peer, run now when
          BETTY_JAX_PYTHON names a Python with jax (BETTY_PEERS: the peers' directory).
          --programs   only the multilevel programs (dynamic, compiled, JAX peer)
          --script     only the REPL-overhead rows: programs defined in BettyScript against the same in Swift
          --dashboard  only the live monitor's rows: reweight_mnist with the dashboard drawing into a pty
                       against headless, and the dashboard's memory after a million steps
          --loop NAME  repeats one benchmark for a few seconds, for profilers (parts: the
                       logistic inner step timed op by op; backward: a four-node backward pass;
                       hpo-cancellable: hpo with a cancellation request attached, as the REPL runs)
          --once       with --loop: one fixed amount of work (300 steps of mwn), to compare CPU time
        """)
    exit(0)
}
let quick = arguments.contains("--quick")
let programsOnly = arguments.contains("--programs")
if let i = arguments.firstIndex(of: "--loop") {
    // For profilers: repeat one benchmark for a few seconds, or with --once a fixed amount of work
    // (to compare CPU time, `perf stat -e task-clock`, which a busy machine moves less than wall time).
    let name = arguments[arguments.index(after: i)]
    let once = arguments.contains("--once")
    if name.hasPrefix("mwn") {
        // Built once: generating the data takes longer than many iterations.
        BLAS.threadCount = name.hasPrefix("mwn2") ? 2 : 1
        let program = try MLOBenchmarks.metaWeightNetProgram()
        program.engine.config.compile = name.hasSuffix("-compiled")
        let t0 = now()
        var steps = 0
        while once ? steps < 300 : now() - t0 < 4 { try program.engine.step(); steps += 1 }
        print("\(format((now() - t0) / Double(steps) * 1e3, 3)) ms per iteration over \(steps)")
        exit(0)
    }
    let t0 = now()
    repeat {
        switch name {
        case "parts": try InnerStepParts.run(); exit(0)
        case "backward":
            // A backward pass over four nodes on 20 floats: the per-node cost of the graph walk.
            let w = Tensor.zeros([20]).requiringGrad(), lam = Tensor.ones([20]).requiringGrad()
            let decayTerm = try 0.5 * (lam * w * w).sum()
            let t = now()
            for _ in 0..<500_000 { blackHole(try grad(of: decayTerm, wrt: [w], retainGraph: true)) }
            print("backward: \(format((now() - t) / 500_000 * 1e9, 0)) ns per pass")
        case "replay-op":
            // Shadow replay of a chain of tracked multiplies: the per-operation cost of a replay.
            var generator = RandomGenerator(seed: 9)
            let x = Tensor.randomNormal([10], using: &generator).requiringGrad()
            let y = Tensor.randomNormal([10], using: &generator)
            func chain() throws -> Tensor { var t = x; for _ in 0..<100 { t = try t * y }; return t }
            let plan = StepPlan()
            _ = try plan.record { try chain() }
            let t = now()
            for _ in 0..<20_000 { blackHole(try plan.replay { try chain() }) }
            print("replay-op: \(format((now() - t) / 2_000_000 * 1e9, 1)) ns per operation")
        case "op": print(TensorBenchmarks.trackedOp().map { "\($0.name): \(format($0.ours, 1)) \($0.unit)" }.joined(separator: ", "))
        case "mlp": _ = TensorBenchmarks.mlpStep(threads: 1)
        case "hvp": print("hvp: \(format(TensorBenchmarks.hvp()[0].ours, 2)) us")
        case "step": _ = try NNBenchmarks.mlpTrainingStep(threads: 1)
        case "hpo", "cg", "reverse", "hpo-cancellable", "hpo-compiled", "cg-compiled", "reverse-compiled":
            let method: ProblemConfig.Method = name.hasPrefix("hpo") ? .darts : name.hasPrefix("cg") ? .cg : .reverse
            let row = try MLOBenchmarks.logisticHPO(method, cancellable: name == "hpo-cancellable",
                                                    compiled: name.hasSuffix("-compiled"))[0]
            print("\(name): \(format(row.ours, 2)) \(row.unit) per iteration")
        default:
            // The REPL-overhead programs are built once and one side is repeated.
            if try ScriptBenchmarks.loop(name, seconds: 4) { exit(0) }
            print("unknown benchmark \(name); one of op, backward, parts, mlp, hvp, step, hpo, hpo-cancellable, cg, reverse, mwn, mwn2, script-hpo, swift-hpo, script-mwn, swift-mwn")
            exit(2)
        }
    } while !once && now() - t0 < 4
    exit(0)
}

if arguments.contains("--dashboard") {
    let rows = try DashboardBenchmarks.all(quick: quick)
    print("")
    printTable(rows)
    exit(0)
}

if arguments.contains("--script") {
    let rows = try ScriptBenchmarks.all(quick: quick)
    print("")
    printTable(rows)
    exit(0)
}

print("BettyBench: medians of several runs, release build. PyTorch figures: 2.15 CPU, measured on this machine.")
if programsOnly {
    printTable(try programRows())
    exit(0)
}
var rows: [Row] = []
rows += TensorBenchmarks.sgemm(n: quick ? 256 : 1024, threads: 1)
rows += TensorBenchmarks.sgemm(n: quick ? 256 : 1024, threads: 2)
rows += TensorBenchmarks.trackedOp()
rows += TensorBenchmarks.mlpStep(threads: 1)
rows += TensorBenchmarks.mlpStep(threads: 2)
rows += TensorBenchmarks.hvp()
rows += try NNBenchmarks.mlpTrainingStep(threads: 1)
rows += try NNBenchmarks.mlpTrainingStep(threads: 2)
// Each program dynamic and compiled, next to its JAX peer measured now (when BETTY_JAX_PYTHON is set).
func programRows() throws -> [Row] {
    var rows: [Row] = []
    for method in [ProblemConfig.Method.darts, .cg, .neumann, .reverse] {
        // The peers have no Neumann variant.
        let peer = method == .neumann ? nil : Peers.logisticHPO(variant: method.rawValue)
        rows += try MLOBenchmarks.logisticHPO(method, peer: peer)
        rows += try MLOBenchmarks.logisticHPO(method, compiled: true, peer: peer)
    }
    for threads in [1, 2] {
        let peer = Peers.metaWeightNet(threads: threads, iterations: quick ? 100 : 500)
        rows += try MLOBenchmarks.metaWeightNet(threads: threads, iterations: quick ? 50 : 200, peer: peer)
        rows += try MLOBenchmarks.metaWeightNet(threads: threads, iterations: quick ? 50 : 200, compiled: true, peer: peer)
    }
    return rows
}
rows += try programRows()
rows += try ScriptBenchmarks.all(quick: quick)
rows += try DashboardBenchmarks.all(quick: quick)
print("")
printTable(rows)
print("")
print("peak RSS \(format(peakRSSMiB(), 1)) MiB; peak tensor storage \(format(Double(MemoryStats.peakBytes) / 1_048_576, 1)) MiB")
