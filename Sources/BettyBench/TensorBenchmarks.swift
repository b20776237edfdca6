import BettyTensor
import CBLAS

/// The tensor-core rows of the table: matmul against raw OpenBLAS, the cost of one recorded op,
/// an MLP training step and a Hessian-vector product, each beside the PyTorch 2.15 (1 thread)
/// figure measured on this machine (issue 2).
enum TensorBenchmarks {
    static func sgemm(n: Int, threads: Int) -> [Row] {
        BLAS.threadCount = threads
        var gen = RandomGenerator(seed: 1)
        let a = Tensor.randomNormal([n, n], using: &gen), b = Tensor.randomNormal([n, n], using: &gen)
        let flops = 2 * Double(n) * Double(n) * Double(n)
        let ours = medianSeconds(runs: 5, repeats: 3) { blackHole(try! a.matmul(b)) }
        let av = a.scalars, bv = b.scalars
        var c = [Float](repeating: 0, count: n * n)
        let raw = medianSeconds(runs: 5, repeats: 3) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                        av, Int32(n), bv, Int32(n), 0, &c, Int32(n))
        }
        return [Row(name: "sgemm \(n)^3 through matmul, \(threads) thread\(threads > 1 ? "s" : "")",
                    ours: flops / ours / 1e9, unit: "GFLOP/s", torch: threads == 1 && n == 1024 ? 90.7 : nil,
                    baseline: ("raw OpenBLAS", flops / raw / 1e9), target: ">= 0.90x raw OpenBLAS")]
    }

    static func trackedOp() -> [Row] {
        BLAS.threadCount = 1
        var gen = RandomGenerator(seed: 2)
        let x = Tensor.randomNormal([10], using: &gen).requiringGrad()
        let y = Tensor.randomNormal([10], using: &gen)
        let repeats = 200_000
        let tracked = medianSeconds(repeats: repeats) { blackHole(try! x * y) }
        let plain = x.detached()
        let untracked = medianSeconds(repeats: repeats) { blackHole(try! plain * y) }
        return [
            Row(name: "tracked multiply, 10 floats", ours: tracked * 1e9, unit: "ns/op",
                torch: 2200, target: "<= 100 ns"),
            Row(name: "untracked multiply, 10 floats", ours: untracked * 1e9, unit: "ns/op",
                torch: nil, target: ""),
        ]
    }

    /// Forward + backward of MLP 784-200-10 with cross entropy at batch 100.
    static func mlpStep(threads: Int) -> [Row] {
        BLAS.threadCount = threads
        var gen = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([100, 784], using: &gen)
        let labels = Tensor((0..<100).map { Float($0 % 10) })
        let onehot = try! Tensor.oneHot(labels, classes: 10)
        let w1 = Tensor.randomNormal([784, 200], std: 0.05, using: &gen).requiringGrad()
        let b1 = Tensor.zeros([200]).requiringGrad()
        let w2 = Tensor.randomNormal([200, 10], std: 0.05, using: &gen).requiringGrad()
        let b2 = Tensor.zeros([10]).requiringGrad()
        let step = {
            let h = relu(try x.matmul(w1) + b1)
            let logits = try h.matmul(w2) + b2
            let loss = try -(logSoftmax(logits) * onehot).sum(axis: 1).mean()
            blackHole(try grad(of: loss, wrt: [w1, b1, w2, b2]))
        }
        let t = medianSeconds(runs: 9, repeats: 50) { try! step() }
        return [Row(name: "MLP 784-200-10 fwd+bwd, batch 100, \(threads) thread\(threads > 1 ? "s" : "")",
                    ours: t * 1e3, unit: "ms", torch: threads == 1 ? 1.09 : nil,
                    target: threads == 1 ? "<= 1.1 ms" : "faster than 1 thread")]
    }

    /// Hessian-vector product of sum(sin(p) * p), d = 1000, by double backward.
    static func hvp() -> [Row] {
        BLAS.threadCount = 1
        var gen = RandomGenerator(seed: 4)
        let p = Tensor.randomNormal([1000], using: &gen).requiringGrad()
        let v = Tensor.randomNormal([1000], using: &gen)
        let t = medianSeconds(repeats: 2000) {
            let f = try! (sin(p) * p).sum()
            let g = try! grad(of: f, wrt: p, createGraph: true)
            blackHole(try! grad(of: (g * v).sum(), wrt: p))
        }
        return [Row(name: "HVP of sum(sin(p) * p), d = 1000", ours: t * 1e6, unit: "us",
                    torch: 594, target: "<= 15 us")]
    }
}
