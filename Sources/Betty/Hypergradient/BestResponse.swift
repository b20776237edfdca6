import BettyNN
import BettyTensor

/// Vector–best-response-Jacobian products: given v = ∂L/∂θ_curr, approximate
/// v · dθ*_curr/dθ_prev = −(∂²L_curr/∂θ_prev∂θ_curr) H⁻¹ v, with H = ∂²L_curr/∂θ_curr²
/// (docs/BETTY_SEMANTICS.md §5). `curr` is re-evaluated on its latest batch. Every loop asks
/// `engine` whether to stop at each iteration (`Engine.checkCancellation`).
enum BestResponse {
    static func product(_ v: [Tensor], curr: Problem, prev: Problem, engine: Engine, createGraph: Bool = false) throws(EngineError) -> [Tensor] {
        if curr.config.type == .reverse { return try reverse(v, curr: curr, prev: prev, engine: engine, createGraph: createGraph) }
        if createGraph {
            throw .notImplemented(problem: curr.name, feature: "\(curr.config.type.rawValue) below a reverse-mode level (every level under a reverse-mode problem must be reverse mode too)")
        }
        guard let batch = engine.state(curr).currentBatch else {
            throw .training(problem: curr.name, message: "has no batch yet; a hypergradient needs one step of it first")
        }
        switch curr.config.type {
        case .darts: return try darts(v, curr: curr, prev: prev, batch: batch, engine: engine)
        case .neumann: return try neumann(v, curr: curr, prev: prev, batch: batch, engine: engine)
        case .cg: return try conjugateGradient(v, curr: curr, prev: prev, batch: batch, engine: engine)
        case .sama: return try sama(v, curr: curr, prev: prev, batch: batch, engine: engine)
        case .reverse: return try reverse(v, curr: curr, prev: prev, engine: engine, createGraph: false)
        }
    }

    /// Finite differences of ∂L_curr/∂θ_prev at θ_curr ± εv, ε = dartsAlpha / ‖v‖ (no curvature
    /// correction: H⁻¹ ≈ I, as in Betty). The parameters are restored exactly (Betty's release leaves
    /// them shifted by −εv).
    static func darts(_ v: [Tensor], curr: Problem, prev: Problem, batch: Batch, engine: Engine) throws(EngineError) -> [Tensor] {
        try finiteDifference(v, alpha: curr.config.dartsAlpha, method: .darts, curr: curr, prev: prev, batch: batch, engine: engine)
    }

    /// −(g(θ + εd) − g(θ − εd)) / 2ε with g = ∂L_curr/∂θ_prev and ε = alpha / ‖d‖; the lower level's
    /// parameters are left exactly as they were.
    static func finiteDifference(_ direction: [Tensor], alpha: Float, method: ProblemConfig.Method, curr: Problem,
                                 prev: Problem, batch: Batch, engine: Engine) throws(EngineError) -> [Tensor] {
        let eps = try attributed(curr) { () throws(TensorError) in alpha / (try globalNorm(direction) + 1e-12) }
        let theta = curr.parameters.map { $0.detached() }
        func gradient(at shift: Float, _ iteration: Int) throws(EngineError) -> [Tensor] {
            try engine.checkCancellation(.hypergradient(problem: curr.name, method: method, iteration: iteration, count: 2))
            let shifted = try attributed(curr) { () throws(TensorError) in
                try zip(theta, direction).map { (p, d) throws(TensorError) in try p.adding(d, scaledBy: shift).requiringGrad() }
            }
            // Between windows every parameter is a leaf: nothing to hold (and nothing to pay for it).
            guard engine.recordingWindowIsOpen else {
                return try withParameters(curr, shifted) { () throws(EngineError) in
                    try gradients(of: try curr.loss(on: batch), wrt: prev.parameters, problem: curr.name)
                }
            }
            // A partial derivative in θ_prev: recorded parameters (an open window's) are taken as
            // they are, so the backward pass stops there instead of running into (and freeing) the window.
            let held = prev.parameters.map { $0.isLeaf ? $0 : $0.detached().requiringGrad() }
            return try withParameters(curr, shifted) { () throws(EngineError) in
                try withParameters(prev, held) { () throws(EngineError) in
                    try engine.withOpenWindowsHeld(except: prev) { () throws(EngineError) in
                        try gradients(of: try curr.loss(on: batch), wrt: held, problem: curr.name)
                    }
                }
            }
        }
        let plus = try gradient(at: eps, 1), minus = try gradient(at: -eps, 2)
        return try attributed(curr) { () throws(TensorError) in
            try zip(minus, plus).map { (m, p) throws(TensorError) in try (m - p) * (1 / (2 * eps)) }
        }
    }

    /// SAMA (Choe et al. 2023): darts along v preconditioned by the lower level's Adam update, whose
    /// Jacobian in the gradient is diagonal. From the state after the step (m, s, the raw gradient g)
    /// the moments before it are recovered, m₀ = (m − (1−β1)g)/β1 and s₀ = (s − (1−β2)g²)/β2, and
    /// v ← v · lr · ((1−β1)β2 s₀ − β1(1−β2) g m₀) / (√s + ε)³, ε_fd = samaAlpha / ‖v‖.
    static func sama(_ v: [Tensor], curr: Problem, prev: Problem, batch: Batch, engine: Engine) throws(EngineError) -> [Tensor] {
        guard let adam = curr.optimizer as? Adam else {
            throw .unsupportedPath(problem: curr.name, method: "sama",
                                   reason: "needs an Adam or AdamW optimizer on this level (it preconditions with Adam's moments)")
        }
        let (b1, b2, eps, lr) = (adam.beta1, adam.beta2, adam.epsilon, adam.learningRate)
        let direction = try attributed(curr) { () throws(TensorError) in
            try zip(v, adam.states).map { (vi, state) throws(TensorError) -> Tensor in
                guard let m = state["exp_avg"], let s = state["exp_avg_sq"], let g = state["last_grad"] else {
                    return vi * lr  // before the first step: the update's Jacobian is taken as lr · I
                }
                let m0 = b1 > 0 ? try (m - (1 - b1) * g) / b1 : m.zerosLike()
                let s0 = try (s - (1 - b2) * (g * g)) / b2
                let denominator = pow(sqrt(s) + eps, 3)
                let scale = try ((1 - b1) * b2 * s0 - b1 * (1 - b2) * (g * m0)) / denominator
                return try vi * scale * lr
            }
        }
        return try finiteDifference(direction, alpha: curr.config.samaAlpha, method: .sama, curr: curr, prev: prev,
                                    batch: batch, engine: engine)
    }

    /// Exact: v · dθ_K/dθ_prev by back-propagating through the recorded unrolled steps of the
    /// current window.
    static func reverse(_ v: [Tensor], curr: Problem, prev: Problem, engine: Engine, createGraph: Bool) throws(EngineError) -> [Tensor] {
        let theta = curr.parameters
        guard engine.state(curr).trajectoryStates != nil, theta.contains(where: { !$0.isLeaf }) else {
            throw .closedWindow(problem: curr.name)
        }
        // A vector-Jacobian product per parameter tensor, with v as the seed: differentiating
        // sum(θ · v) instead would also differentiate v, which depends on θ when recorded.
        var total = prev.parameters.map { $0.zerosLike() }
        for (i, (t, u)) in zip(theta, v).enumerated() where t.requiresGrad {
            try engine.checkCancellation(.hypergradient(problem: curr.name, method: .reverse, iteration: i + 1, count: theta.count))
            total = try attributed(curr) { () throws(TensorError) in
                let part = try grad(of: t, wrt: prev.parameters, gradOutputs: u, createGraph: createGraph,
                                    retainGraph: true, allowUnused: true)
                return try zip(total, part).map { (a, b) throws(TensorError) in try a + b }
            }
        }
        return total
    }

    /// −J · α Σ_{j=0..K} (I − αH)^j v (Betty's neumann.py).
    static func neumann(_ v: [Tensor], curr: Problem, prev: Problem, batch: Batch, engine: Engine) throws(EngineError) -> [Tensor] {
        try requireNoOwnPaths(curr, method: "neumann", engine: engine)
        return try implicit(curr: curr, prev: prev, batch: batch) { (hvp: ([Tensor]) throws(EngineError) -> [Tensor]) throws(EngineError) in
            let alpha = curr.config.neumannAlpha
            let count = curr.config.neumannIterations
            var term = v, sum = v
            for iteration in 0..<count {
                try engine.checkCancellation(.hypergradient(problem: curr.name, method: .neumann, iteration: iteration + 1, count: count))
                let h = try hvp(term)
                (term, sum) = try attributed(curr) { () throws(TensorError) in
                    let next = try zip(term, h).map { (t, hv) throws(TensorError) in try t - alpha * hv }
                    return (next, try zip(sum, next).map { (s, t) throws(TensorError) in try s + t })
                }
            }
            return sum.map { alpha * $0 }
        }
    }

    /// −J x with x from textbook conjugate gradient on H x = v, started at 0. Betty's cg.py differs
    /// (it mixes α-scaled and unscaled products, and scales by its `cg_alpha`) and returns about 3x
    /// the exact hypergradient on its own regression test; textbook CG has no such scale to set.
    static func conjugateGradient(_ v: [Tensor], curr: Problem, prev: Problem, batch: Batch, engine: Engine) throws(EngineError) -> [Tensor] {
        try requireNoOwnPaths(curr, method: "cg", engine: engine)
        return try implicit(curr: curr, prev: prev, batch: batch) { (hvp: ([Tensor]) throws(EngineError) -> [Tensor]) throws(EngineError) in
            let count = curr.config.cgIterations
            var x = v.map { $0.zerosLike() }
            var r = v, p = v
            var rr = try attributed(curr) { () throws(TensorError) in try dot(r, r) }
            for iteration in 0..<count {
                guard rr > 0 else { break }
                try engine.checkCancellation(.hypergradient(problem: curr.name, method: .cg, iteration: iteration + 1, count: count))
                let hp = try hvp(p)
                let converged = try attributed(curr) { () throws(TensorError) -> Bool in
                    let php = try dot(p, hp)
                    guard php != 0, php.isFinite else { return true }
                    let a = rr / php
                    x = try zip(x, p).map { (xi, pi) throws(TensorError) in try xi + a * pi }
                    r = try zip(r, hp).map { (ri, hi) throws(TensorError) in try ri - a * hi }
                    let next = try dot(r, r)
                    let beta = next / rr
                    p = try zip(r, p).map { (ri, pi) throws(TensorError) in try ri + beta * pi }
                    rr = next
                    return false
                }
                if converged { break }
            }
            return x
        }
    }

    /// Shared by neumann and cg: builds g_c = ∂L_curr/∂θ_curr with a graph, lets `solve` turn v into
    /// x using Hessian-vector products, and returns −∂(g_c · x)/∂θ_prev.
    private static func implicit(
        curr: Problem, prev: Problem, batch: Batch,
        _ solve: (([Tensor]) throws(EngineError) -> [Tensor]) throws(EngineError) -> [Tensor]
    ) throws(EngineError) -> [Tensor] {
        let (gc, hvp) = try hessianProduct(of: curr, batch: batch)
        let x = try solve(hvp).map { $0.detached() }
        return try attributed(curr) { () throws(TensorError) in
            let mixed = try grad(of: try weightedSum(gc, x), wrt: prev.parameters, retainGraph: false, allowUnused: true)
            return mixed.map { -$0 }
        }
    }

    /// g = ∂L/∂θ of `p` on `batch`, with its graph, and u ↦ Hu (H = ∂²L/∂θ²) as products through it.
    private static func hessianProduct(of p: Problem, batch: Batch) throws(EngineError)
        -> (gradient: [Tensor], product: ([Tensor]) throws(EngineError) -> [Tensor]) {
        let theta = p.parameters
        let loss = try p.loss(on: batch)
        let g = try attributed(p) { () throws(TensorError) in try grad(of: loss, wrt: theta, createGraph: true, allowUnused: true) }
        let product = { (u: [Tensor]) throws(EngineError) -> [Tensor] in
            try attributed(p) { () throws(TensorError) in
                try grad(of: try weightedSum(g, u), wrt: theta, retainGraph: true, allowUnused: true).map { $0.detached() }
            }
        }
        return (g, product)
    }

    /// The eigenvalue of ∂²L/∂θ² of largest magnitude, by power iteration on Hessian-vector products
    /// from a fixed start (so a check gives the same estimate every time): what decides whether a
    /// Neumann series with step alpha converges (it does when 0 < alpha·λ < 2 for every eigenvalue λ).
    static func largestCurvature(of p: Problem, batch: Batch, iterations: Int) throws(EngineError) -> Double {
        let (_, hvp) = try hessianProduct(of: p, batch: batch)
        var generator = RandomGenerator(seed: 0x5eed)
        var v = p.parameters.map { Tensor.randomNormal($0.shape, using: &generator) }
        var estimate = 0.0
        for _ in 0..<iterations {
            let length = try attributed(p) { () throws(TensorError) in try globalNorm(v) }
            guard length > 0, length.isFinite else { return estimate }
            v = v.map { $0 * (1 / length) }
            let hv = try hvp(v)
            estimate = Double(try attributed(p) { () throws(TensorError) in try dot(v, hv) })
            v = hv
        }
        return estimate
    }

    private static func requireNoOwnPaths(_ curr: Problem, method: String, engine: Engine) throws(EngineError) {
        if !(engine.graph.paths[curr.name] ?? []).isEmpty {
            throw .unsupportedPath(problem: curr.name, method: method,
                reason: "cannot pass a hypergradient through a problem that has paths of its own (a middle level); use darts for it")
        }
    }
}

/// Σ_i sum(a_i * b_i), as a tensor in the graph.
func weightedSum(_ a: [Tensor], _ b: [Tensor]) throws(TensorError) -> Tensor {
    var total = Tensor(0)
    for (x, y) in zip(a, b) { total = try total + BettyTensor.dot(x, y) }
    return total
}

func dot(_ a: [Tensor], _ b: [Tensor]) throws(TensorError) -> Float {
    try withoutGrad { () throws(TensorError) -> Float in try weightedSum(a, b).scalar }
}

func globalNorm(_ v: [Tensor]) throws(TensorError) -> Float {
    try dot(v, v).squareRoot()
}

/// Runs tensor code, attributing a failure to `problem`.
func attributed<T>(_ problem: Problem, _ body: () throws(TensorError) -> T) throws(EngineError) -> T {
    do { return try body() } catch { throw .tensor(problem: problem.name, error) }
}

func gradients(of loss: Tensor, wrt inputs: [Tensor], problem: String, retainGraph: Bool = false,
               createGraph: Bool = false) throws(EngineError) -> [Tensor] {
    // A loss that does not depend on any of them has no graph at all: its gradient is zero.
    guard loss.requiresGrad else { return inputs.map { $0.zerosLike() } }
    do {
        return try grad(of: loss, wrt: inputs, createGraph: createGraph, retainGraph: retainGraph || createGraph,
                        allowUnused: true)
    } catch {
        throw .tensor(problem: problem, error)
    }
}

func withParameters<R>(_ problem: Problem, _ values: [Tensor], _ body: () throws(EngineError) -> R) throws(EngineError) -> R {
    var result: Result<R, EngineError>!
    do {
        try problem.module.withParameters(values) { () throws(TensorError) in
            do throws(EngineError) { result = .success(try body()) } catch { result = .failure(error) }
        }
    } catch {
        throw .tensor(problem: problem.name, error)
    }
    return try result.get()
}
