import BettyNN
import BettyTensor
import CBLAS

/// The logistic-regression inner step taken apart (`--loop parts`): each operation and each
/// backward pass timed alone, beside the raw OpenBLAS calls, to show the kernels' share and the
/// framework's.
enum InnerStepParts {
    static func run() throws {
        BLAS.threadCount = 1
        let data = try Dataset.logistic(samples: 500, features: 20, seed: 0)
        let x = data.x, y = data.y
        let w = Tensor.zeros([20]).requiringGrad(), lam = Tensor.ones([20]).requiringGrad()
        let z = try x.matmul(w.detached())
        func time(_ name: String, _ body: () throws -> Void) rethrows {
            let s = try medianSeconds(runs: 7, repeats: 20000, body)
            print("\(name): \(format(s * 1e9, 0)) ns")
        }
        let xs = x.scalars, ws = [Float](repeating: 0.1, count: 20), gs = [Float](repeating: 0.1, count: 500)
        var zs = [Float](repeating: 0, count: 500), gw = [Float](repeating: 0, count: 20)
        time("raw sgemv 500x20") { cblas_sgemv(CblasRowMajor, CblasNoTrans, 500, 20, 1, xs, 20, ws, 1, 0, &zs, 1) }
        time("raw sgemv 500x20 transposed") { cblas_sgemv(CblasRowMajor, CblasTrans, 500, 20, 1, xs, 20, gs, 1, 0, &gw, 1) }
        try time("x.matmul(w)") { blackHole(try x.matmul(w)) }
        try time("x.matmul(z, transposeA: true), untracked") { blackHole(try x.matmul(z, transposeA: true)) }
        try time("binaryCrossEntropyWithLogits, untracked") { blackHole(try binaryCrossEntropyWithLogits(z, y)) }
        try time("lam * w") { blackHole(try lam * w) }
        let product = try lam * w * w
        time("sum()") { blackHole(product.sum()) }
        let sum = product.sum()
        time("0.5 * sum") { blackHole(0.5 * sum) }
        func loss() throws -> Tensor {
            try binaryCrossEntropyWithLogits(x.matmul(w), y) + 0.5 * (lam * w * w).sum()
        }
        try time("forward") { blackHole(try loss()) }
        let whole = try loss(), dataTerm = try binaryCrossEntropyWithLogits(x.matmul(w), y)
        let decayTerm = try 0.5 * (lam * w * w).sum()
        try time("backward") { blackHole(try grad(of: whole, wrt: [w], retainGraph: true)) }
        try time("backward, data term only") { blackHole(try grad(of: dataTerm, wrt: [w], retainGraph: true)) }
        try time("backward, decay term only") { blackHole(try grad(of: decayTerm, wrt: [w], retainGraph: true)) }
        try time("forward + backward") { blackHole(try grad(of: loss(), wrt: [w])) }
    }
}
