import Betty
import BettyTensor

/// Multilevel rows (issue 4): Betty's logistic-regression HPO through the ordinary Engine API.
enum MLOBenchmarks {
    static func logisticHPO(_ method: ProblemConfig.Method) throws -> [Row] {
        BLAS.threadCount = 1
        var loss: Float = 0
        let t = try medianSeconds(runs: 5, repeats: 1) {
            let program = try LogisticHPO(method: method, seed: 0) {
                $0.dartsAlpha = 0.01
                $0.cgIterations = 3
                $0.neumannIterations = 5
            }
            try program.engine.run(iterations: 2000)
            loss = try program.validationLoss()
        }
        return [Row(name: "logistic HPO, \(method.rawValue), per iteration (val loss \(format(Double(loss), 3)))",
                    ours: t / 2000 * 1e6, unit: "us", torch: method == .reverse ? nil : 475,
                    baseline: ("JAX jit", method == .reverse ? 11.0 : 4.8),
                    target: method == .reverse ? "<= 12 us" : "<= 5 us")]
    }
}
