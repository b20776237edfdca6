import Testing
import BettyNN
import BettyTensor
import Betty
import Foundation

/// MAML through the engine: the inner level starts every window from the outer level's parameters,
/// inside the recorded graph (θ₀ = φ), takes K reverse-mode SGD steps on a task's support points,
/// and the outer level's hypergradient is d L_query(θ_K(φ)) / dφ, second-order terms included.
/// Checked against central differences of that nested objective computed separately in Double.
///   model: ŷ = tanh(w x + b), θ = (w, b);  L = mean((ŷ − y)²);  K = 2 steps of SGD lr 0.3
@Suite struct MAMLTests {
    static let supportX: [Double] = [-1.0, -0.3, 0.4, 1.2], supportY: [Double] = [-0.8, -0.1, 0.5, 0.6]
    static let queryX: [Double] = [-0.7, 0.1, 0.9], queryY: [Double] = [-0.5, 0.2, 0.7]
    static let phi0: (w: Double, b: Double) = (0.6, -0.2)
    static let lr = 0.3, steps = 2

    static func lossAndGradient(_ w: Double, _ b: Double, _ xs: [Double], _ ys: [Double]) -> (Double, Double, Double) {
        var loss = 0.0, gw = 0.0, gb = 0.0
        for (x, y) in zip(xs, ys) {
            let t = Foundation.tanh(w * x + b), r = t - y, n = Double(xs.count)
            loss += r * r / n
            gw += 2 * r * (1 - t * t) * x / n
            gb += 2 * r * (1 - t * t) / n
        }
        return (loss, gw, gb)
    }

    /// L_query after K steps from φ.
    static func nested(_ w0: Double, _ b0: Double) -> Double {
        var (w, b) = (w0, b0)
        for _ in 0..<steps {
            let (_, gw, gb) = lossAndGradient(w, b, supportX, supportY)
            w -= lr * gw
            b -= lr * gb
        }
        return lossAndGradient(w, b, queryX, queryY).0
    }

    /// First-order MAML's gradient: ∇L_query at θ_K, the Jacobian dθ_K/dφ taken as I.
    static func firstOrder() -> (Double, Double) {
        var (w, b) = phi0
        for _ in 0..<steps {
            let (_, gw, gb) = lossAndGradient(w, b, supportX, supportY)
            w -= lr * gw
            b -= lr * gb
        }
        let (_, gw, gb) = lossAndGradient(w, b, queryX, queryY)
        return (gw, gb)
    }

    @Test func hypergradientRunsThroughTheStartingPoint() throws {
        let points = Self.supportX + Self.queryX, targets = Self.supportY + Self.queryY
        let tasks = try Dataset(x: try Tensor(shape: [1, points.count, 1], scalars: points.map(Float.init)),
                                y: try Tensor(shape: [1, points.count, 1], scalars: targets.map(Float.init)))
        let episodes = try Episodes(tasks: tasks, shots: Self.supportX.count, shuffle: false)
        var generator = RandomGenerator(seed: 1)
        let inner = Linear(1, 1, using: &generator), outer = Linear(1, 1, using: &generator)
        outer.weight.assign(try Tensor(shape: [1, 1], scalars: [Float(Self.phi0.w)]))
        outer.bias!.assign(Tensor([Float(Self.phi0.b)]))
        var config = ProblemConfig()
        config.type = .reverse
        config.unrollSteps = Self.steps
        let adapt = Problem(name: "adapt", module: inner, optimizer: SGD(inner.parameters, learningRate: Float(Self.lr)),
                            data: [episodes.loader(for: .support)], config: config) { p, batch in
            try mseLoss(tanh(try p.module(batch.x)), batch.y)
        }
        adapt.onInnerLoopStart = { p in
            for (parameter, start) in zip(p.trainable, p["meta"].trainable) { parameter.value = start.value * 1 }
        }
        let meta = Problem(name: "meta", module: outer, optimizer: SGD(outer.parameters, learningRate: 1),
                           data: [episodes.loader(for: .query)]) { p, batch in
            try mseLoss(tanh(try p["adapt"].module(batch.x)), batch.y)
        }
        let engine = try Engine(problems: [meta, adapt], u2l: ["meta": ["adapt"]], l2u: ["adapt": ["meta"]])
        try engine.run(iterations: Self.steps)
        #expect(meta.localStep == 1)
        // SGD lr 1 on the outer level: φ_before − φ_after is the hypergradient.
        let engineGradient = (Self.phi0.w - Double(outer.weight.value.scalars[0]), Self.phi0.b - Double(outer.bias!.value.scalars[0]))
        let h = 1e-6
        let numeric = ((Self.nested(Self.phi0.w + h, Self.phi0.b) - Self.nested(Self.phi0.w - h, Self.phi0.b)) / (2 * h),
                       (Self.nested(Self.phi0.w, Self.phi0.b + h) - Self.nested(Self.phi0.w, Self.phi0.b - h)) / (2 * h))
        for (ours, reference) in [(engineGradient.0, numeric.0), (engineGradient.1, numeric.1)] {
            // Float32 steps on O(1) values, read back from φ of ~0.5: 1e-4 relative plus 1e-6.
            #expect(Swift.abs(ours - reference) <= 1e-4 * Swift.abs(reference) + 1e-6, "engine \(ours), nested finite differences \(reference)")
        }
        // The second-order terms matter here: first-order MAML would be off by far more than the tolerance.
        let first = Self.firstOrder()
        #expect(Swift.abs(first.0 - numeric.0) + Swift.abs(first.1 - numeric.1) > 1e-2)
    }
}
