import Testing
import BettyTensor
import BettyNN
import _TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Namespace so that `--filter OptimizerTests` selects every suite in this file.
@Suite struct OptimizerTests {}

// MARK: - Helpers


/// The gradients of the hand-derived SGD cases: one scalar sequence g_t for an element starting at
/// 1, and the same sequence times -2 for an element starting at -2. SGD's update (momentum,
/// dampening, Nesterov, decay) is linear in (p, g) jointly, so the second element ends at exactly
/// -2 times the first: one hand derivation checks both elements.
private func scaledGradients(_ gs: [Float]) -> [Tensor] { gs.map { Tensor([$0, -2 * $0]) } }

/// The optimizer's parameter values and state, copied out for before/after comparisons.
private struct Snapshot: Equatable {
    var values: [[Float]]
    var tensors: [[String: [Float]]]
    var steps: [Int]

    init(_ opt: any Optimizer) {
        values = opt.parameters.map(\.value.scalars)
        tensors = opt.states.map { $0.tensors.mapValues(\.scalars) }
        steps = opt.states.map(\.step)
    }

    init(values: [Tensor], states: [ParameterState]) {
        self.values = values.map(\.scalars)
        tensors = states.map { $0.tensors.mapValues(\.scalars) }
        steps = states.map(\.step)
    }
}

// MARK: - SGD by hand

extension OptimizerTests { @Suite struct SGDSteps {
    // Every SGD case below: lr = 0.1, p0 = 1 (and -2 for the second element), g = 1, 2, -1, so
    // everything is a short decimal. Float32 rounds 0.1 and 0.9 and each of the ~10 operations adds
    // half an ulp of an O(1) value, so results are within ~5e-7 of the exact decimals: tolerance 2e-6.
    // A wrong rule (first-step dampening, Nesterov without the lookahead, decay of the wrong sign)
    // moves them by at least 1e-2.

    @Test func plainSGDOnAQuadraticUsesTheGradientFromBackward() throws {
        // L = ½ Σ p², so ∇L = p and p ← p - 0.1 p = 0.9 p: after 3 steps p = 0.729 p0.
        let param = Parameter(Tensor([1, -2]))
        let opt = SGD([param], learningRate: 0.1)
        for _ in 0..<3 {
            opt.zeroGrad()
            try (0.5 * (param.value * param.value).sum()).backward()
            try opt.step()
        }
        // Three multiplications by Float32(0.9)-ish factors: a few ulp of values of order 1.
        expectClose(param.value.scalars, [0.729, -1.458], tol: 2e-6, "plain SGD")
        #expect(opt.states[0].step == 3)
        #expect(opt.states[0]["momentum_buffer"] == nil)  // no momentum, no buffer
    }

    @Test func plainSGDWithExplicitGradients() throws {
        // p1 = 1 - 0.1·1 = 0.9;  p2 = 0.9 - 0.1·2 = 0.7;  p3 = 0.7 - 0.1·(-1) = 0.8
        let param = Parameter(Tensor([1, -2]))
        let opt = SGD([param], learningRate: 0.1)
        for g in scaledGradients([1, 2, -1]) { try opt.step(gradients: [g]) }
        // Tolerance 2e-6: see the suite comment.
        expectClose(param.value.scalars, [0.8, -1.6], tol: 2e-6, "SGD")
    }

    @Test func momentumFollowsPyTorchFirstStepBufferIsTheGradient() throws {
        // buf1 = g1 = 1                    p1 = 1 - 0.1·1 = 0.9
        // buf2 = 0.9·1 + 2 = 2.9           p2 = 0.9 - 0.29 = 0.61
        // buf3 = 0.9·2.9 - 1 = 1.61        p3 = 0.61 - 0.161 = 0.449
        let param = Parameter(Tensor([1, -2]))
        let opt = SGD([param], learningRate: 0.1, momentum: 0.9)
        var buffers: [[Float]] = []
        for g in scaledGradients([1, 2, -1]) {
            try opt.step(gradients: [g])
            buffers.append(try #require(opt.states[0]["momentum_buffer"]).scalars)
        }
        // Tolerance 2e-6: see the suite comment.
        expectClose(buffers[0], [1, -2], tol: 2e-6, "buf1")
        expectClose(buffers[1], [2.9, -5.8], tol: 2e-6, "buf2")
        expectClose(buffers[2], [1.61, -3.22], tol: 2e-6, "buf3")
        expectClose(param.value.scalars, [0.449, -0.898], tol: 2e-6, "SGD momentum")
        #expect(opt.states[0].step == 3)
    }

    @Test func dampeningIsNotAppliedOnTheFirstStep() throws {
        // buf1 = g1 = 1 (no dampening on the first step, as PyTorch)     p1 = 0.9
        // buf2 = 0.9·1 + 0.5·2 = 1.9                                      p2 = 0.9 - 0.19 = 0.71
        // buf3 = 0.9·1.9 + 0.5·(-1) = 1.21                                p3 = 0.71 - 0.121 = 0.589
        let param = Parameter(Tensor([1, -2]))
        let opt = SGD([param], learningRate: 0.1, momentum: 0.9, dampening: 0.5)
        try opt.step(gradients: [scaledGradients([1])[0]])
        // Tolerance 2e-6: see the suite comment (a dampened first step would give buf1 = 0.5).
        expectClose(try #require(opt.states[0]["momentum_buffer"]).scalars, [1, -2], tol: 2e-6, "buf1")
        for g in scaledGradients([2, -1]) { try opt.step(gradients: [g]) }
        expectClose(try #require(opt.states[0]["momentum_buffer"]).scalars, [1.21, -2.42], tol: 2e-6, "buf3")
        expectClose(param.value.scalars, [0.589, -1.178], tol: 2e-6, "SGD dampening")
    }

    @Test func nesterovStepsWithTheLookahead() throws {
        // d = g + 0.9·buf:
        // buf1 = 1,     d1 = 1 + 0.9 = 1.9          p1 = 1 - 0.19 = 0.81
        // buf2 = 2.9,   d2 = 2 + 2.61 = 4.61        p2 = 0.81 - 0.461 = 0.349
        // buf3 = 1.61,  d3 = -1 + 1.449 = 0.449     p3 = 0.349 - 0.0449 = 0.3041
        let param = Parameter(Tensor([1, -2]))
        let opt = SGD([param], learningRate: 0.1, momentum: 0.9, nesterov: true)
        for g in scaledGradients([1, 2, -1]) { try opt.step(gradients: [g]) }
        // Tolerance 2e-6: see the suite comment.
        expectClose(param.value.scalars, [0.3041, -0.6082], tol: 2e-6, "SGD nesterov")
        expectClose(try #require(opt.states[0]["momentum_buffer"]).scalars, [1.61, -3.22], tol: 2e-6, "buf3")
    }

    @Test func weightDecayAddsTheL2TermToTheGradient() throws {
        // d = g + 0.5 p:
        // d1 = 1 + 0.5 = 1.5                p1 = 1 - 0.15 = 0.85
        // d2 = 2 + 0.425 = 2.425            p2 = 0.85 - 0.2425 = 0.6075
        // d3 = -1 + 0.30375 = -0.69625      p3 = 0.6075 + 0.069625 = 0.677125
        let param = Parameter(Tensor([1, -2]))
        let opt = SGD([param], learningRate: 0.1, weightDecay: 0.5)
        for g in scaledGradients([1, 2, -1]) { try opt.step(gradients: [g]) }
        // Tolerance 2e-6: see the suite comment.
        expectClose(param.value.scalars, [0.677125, -1.35425], tol: 2e-6, "SGD weight decay")

        // With momentum 0.9 too, the decayed gradient is what enters the buffer:
        // buf1 = 1.5, p1 = 0.85;  d2 = 2.425, buf2 = 1.35 + 2.425 = 3.775, p2 = 0.4725;
        // d3 = -1 + 0.23625 = -0.76375, buf3 = 3.3975 - 0.76375 = 2.63375, p3 = 0.209125
        let param2 = Parameter(Tensor([1, -2]))
        let opt2 = SGD([param2], learningRate: 0.1, momentum: 0.9, weightDecay: 0.5)
        for g in scaledGradients([1, 2, -1]) { try opt2.step(gradients: [g]) }
        expectClose(param2.value.scalars, [0.209125, -0.41825], tol: 2e-6, "SGD momentum + decay")
        expectClose(try #require(opt2.states[0]["momentum_buffer"]).scalars, [2.63375, -5.2675], tol: 2e-6, "buf3")
    }
}}

// MARK: - Adam by hand

extension OptimizerTests { @Suite struct AdamSteps {
    // Every Adam case: lr = 0.1, β1 = 0.9, ε = 1e-8, p0 = 1, one scalar parameter.
    //
    // Float32 computes 1 - β2^t with cancellation: for β2 = 0.999 it carries a relative error of
    // ~1e-5, which the square root halves; applied to a step of at most lr = 0.1 that is ≤ 1e-6
    // in p. Tolerance 1e-5 on p; dropping the bias correction or ε placement errors move p by ≥ 1e-3.

    @Test func adamThreeStepsWithBiasCorrection() throws {
        // β2 = 0.999, g = 1, 2, -1:
        // t=1: m = 0.1, v = 0.001; m̂ = 0.1/0.1 = 1, v̂ = 0.001/0.001 = 1
        //      p1 = 1 - 0.1·1/(1 + 1e-8) = 0.9
        // t=2: m = 0.09 + 0.2 = 0.29, v = 0.000999 + 0.004 = 0.004999
        //      m̂ = 0.29/0.19 = 1.5263158, √v̂ = √(0.004999/0.001999) = 1.5813762
        //      p2 = 0.9 - 0.1·0.9651820 = 0.8034818
        // t=3: m = 0.261 - 0.1 = 0.161, v = 0.004994001 + 0.001 = 0.005994001
        //      m̂ = 0.161/0.271 = 0.5940959, √v̂ = √(0.005994001/0.002997001) = 1.4142148
        //      p3 = 0.8034818 - 0.1·0.4200893 = 0.7614729
        let param = Parameter(Tensor([1]))
        let opt = Adam([param], learningRate: 0.1)
        var ps: [Float] = []
        for g: Float in [1, 2, -1] {
            try opt.step(gradients: [Tensor([g])])
            ps.append(param.value.scalars[0])
        }
        // Tolerance 1e-5: see the suite comment.
        expectClose(ps, [0.9, 0.8034818, 0.7614729], tol: 1e-5, "Adam p1...p3")
        // m is an EMA of O(1) values: a few ulp, 1e-6. v's weight 1 - β2 is itself computed in Float32,
        // 1 - 0.999f = 0.99998713e-3, 1.3e-5 relative off: 2e-5 relative of v ≈ 0.006 is 1.2e-7.
        expectClose(try #require(opt.states[0]["exp_avg"]).scalars, [0.161], tol: 1e-6, "exp_avg")
        expectClose(try #require(opt.states[0]["exp_avg_sq"]).scalars, [0.005994001], tol: 1.2e-7, "exp_avg_sq")
        #expect(opt.states[0].step == 3)
        #expect(opt.states[0]["max_exp_avg_sq"] == nil)  // only with amsgrad
    }

    @Test func adamL2DecayEntersTheMomentsAndAdamWDecayDoesNot() throws {
        // Adam + L2 (wd = 0.5): g' = g + 0.5 p, then the Adam rule on g'.
        //   t=1: g' = 1.5, m = 0.15, v = 0.00225; m̂/√v̂ = 1.5/1.5 = 1 → p1 = 0.9 (the L2 term is
        //        normalised away on the first step)
        //   t=2: g' = 2.45, m = 0.38, v = 0.00825025 → p2 = 0.8015529
        //   t=3: g' = -0.5992236, m = 0.2820776, v = 0.0086010686 → p3 = 0.7401107
        // AdamW (wd = 0.5): p ← (1 - 0.1·0.5) p = 0.95 p, then the Adam rule on the raw g, so the
        //   moments are plain Adam's and p_t = 0.95 p_{t-1} - u_t with plain Adam's steps
        //   u = 0.1, 0.0965182, 0.0420089:
        //   p1 = 0.95 - 0.1 = 0.85,  p2 = 0.8075 - 0.0965182 = 0.7109818,
        //   p3 = 0.6754327 - 0.0420089 = 0.6334238
        let gradients: [Float] = [1, 2, -1]
        let pl2 = Parameter(Tensor([1])), pw = Parameter(Tensor([1])), plain = Parameter(Tensor([1]))
        let l2 = Adam([pl2], learningRate: 0.1, weightDecay: 0.5)
        let adamW = AdamW([pw], learningRate: 0.1, weightDecay: 0.5)
        let reference = Adam([plain], learningRate: 0.1)
        #expect(adamW.decoupledWeightDecay && !l2.decoupledWeightDecay)
        var l2s: [Float] = [], ws: [Float] = [], plains: [Float] = []
        for g in gradients {
            let before = pw.value.scalars[0], plainBefore = plain.value.scalars[0]
            try l2.step(gradients: [Tensor([g])])
            try adamW.step(gradients: [Tensor([g])])
            try reference.step(gradients: [Tensor([g])])
            l2s.append(pl2.value.scalars[0]); ws.append(pw.value.scalars[0]); plains.append(plain.value.scalars[0])
            // AdamW's step is exactly "decay by (1 - lr·wd), then plain Adam's step": same u_t.
            // Two Float32 roundings of O(1) values: 1e-6.
            let u = plainBefore - plains.last!
            expectClose([ws.last!], [Double(0.95 * before - u)], tol: 1e-6, "AdamW decomposition")
        }
        // Tolerance 1e-5: see the suite comment.
        expectClose(l2s, [0.9, 0.8015529, 0.7401107], tol: 1e-5, "Adam + L2")
        expectClose(ws, [0.85, 0.7109818, 0.6334238], tol: 1e-5, "AdamW")
        // On the first step the two differ by exactly lr·wd·p0 = 0.05 (L2 is normalised away).
        // One Float32 subtraction of O(1) values: 1e-6.
        expectClose([l2s[0] - ws[0]], [0.05], tol: 1e-6, "first-step difference")
        // The decoupled decay never enters the moments; the L2 term does (m1 = 0.15 vs 0.1).
        #expect(try #require(adamW.states[0]["exp_avg"]).scalars == #require(reference.states[0]["exp_avg"]).scalars)
        #expect(try #require(adamW.states[0]["exp_avg_sq"]).scalars == #require(reference.states[0]["exp_avg_sq"]).scalars)
        // m3 for the L2 run from the derivation above; EMAs of O(1) values: 1e-6.
        expectClose(try #require(l2.states[0]["exp_avg"]).scalars, [0.2820776], tol: 1e-6, "L2 exp_avg")
    }

    @Test func amsgradUsesTheMaximumWhenTheSecondMomentDecreases() throws {
        // β2 = 0.9, g = 10, 0.1, 0.1, so v falls after the first step:
        // t=1: m = 1, v = 10, v̂max = 10                         p1 = 1 - 0.1·(1/0.1)/√(10/0.1) = 0.9
        // t=2: m = 0.91, v = 9 + 0.001 = 9.001, v̂max = 10
        //      m̂ = 0.91/0.19 = 4.7894737, √(10/0.19) = 7.2547625    p2 = 0.9 - 0.0660184 = 0.8339817
        //      (without amsgrad √(9.001/0.19) = 6.8827868           p2 = 0.9 - 0.0695856 = 0.8304144)
        // t=3: m = 0.829, v = 8.1009 + 0.001 = 8.1019, v̂max = 10
        //      m̂ = 0.829/0.271 = 3.0590406, √(10/0.271) = 6.0745779  p3 = 0.8339817 - 0.0503582 = 0.7836235
        //      (without amsgrad p3 = 0.7744675)
        let pa = Parameter(Tensor([1])), pp = Parameter(Tensor([1]))
        let ams = Adam([pa], learningRate: 0.1, beta2: 0.9, amsgrad: true)
        let plain = Adam([pp], learningRate: 0.1, beta2: 0.9)
        var withMax: [Float] = [], without: [Float] = []
        for g: Float in [10, 0.1, 0.1] {
            try ams.step(gradients: [Tensor([g])])
            try plain.step(gradients: [Tensor([g])])
            withMax.append(pa.value.scalars[0]); without.append(pp.value.scalars[0])
        }
        // Tolerance 1e-5: see the suite comment (β2 = 0.9 has even less cancellation). The two
        // runs differ by 3.6e-3 and 9.2e-3 at steps 2 and 3, far outside it.
        expectClose(withMax, [0.9, 0.8339817, 0.7836235], tol: 1e-5, "amsgrad")
        expectClose(without, [0.9, 0.8304144, 0.7744675], tol: 1e-5, "no amsgrad")
        // The running maximum stays at v1 = 10 while exp_avg_sq decays to 8.1019. EMAs of values of
        // order 10: 1e-5 is a few ulp.
        expectClose(try #require(ams.states[0]["max_exp_avg_sq"]).scalars, [10], tol: 1e-5, "max_exp_avg_sq")
        expectClose(try #require(ams.states[0]["exp_avg_sq"]).scalars, [8.1019], tol: 1e-5, "exp_avg_sq")
    }
}}

// MARK: - Stateful and functional steps agree

enum OptimizerTestKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sgd, sgdDecay, sgdMomentum, sgdMomentumNoDecay, nesterov, adam, adamW, amsgrad
    var testDescription: String { rawValue }

    func make(_ parameters: [Parameter]) -> any Optimizer {
        switch self {
        case .sgd: SGD(parameters, learningRate: 0.05)
        case .sgdDecay: SGD(parameters, learningRate: 0.05, weightDecay: 0.01)
        case .sgdMomentumNoDecay: SGD(parameters, learningRate: 0.05, momentum: 0.9)
        case .sgdMomentum: SGD(parameters, learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01)
        case .nesterov: SGD(parameters, learningRate: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: true)
        case .adam: Adam(parameters, learningRate: 0.05, weightDecay: 0.01)
        case .adamW: AdamW(parameters, learningRate: 0.05)
        case .amsgrad: Adam(parameters, learningRate: 0.05, beta2: 0.9, amsgrad: true)
        }
    }
}

extension OptimizerTests { @Suite struct StatefulFunctionalAgreement {
    /// A gradient that depends on the current value and the step, computed identically for both
    /// paths: 2 (p - 0.5) + c_t with c_t large on the first step so amsgrad's maximum matters.
    private static func gradient(_ p: Tensor, step t: Int) throws -> Tensor {
        try withoutGrad { () throws(TensorError) -> Tensor in
            let c: Float = t == 0 ? 5 : 0.1 * Float(t)
            return 2 * (p.detached() - 0.5) + c
        }
    }

    @Test(arguments: OptimizerTestKind.allCases)
    func stepAndFunctionalStepAgreeBitForBit(kind: OptimizerTestKind) throws {
        var gen = RandomGenerator(seed: 42)
        // Sizes around and past one SIMD width, so vector bodies and scalar tails are both compared.
        let initial = [Tensor.randomNormal([4], using: &gen), Tensor.randomNormal([2, 3], using: &gen),
                       Tensor.randomNormal([5, 7], using: &gen)]
        let params = initial.map { Parameter($0) }
        let opt = kind.make(params)

        // Functional path first, from the optimizer's own (empty) states, with recording on and
        // the values requiring gradients, as in an unrolled inner loop.
        let untouched = Snapshot(opt)
        var values = initial.map { $0.requiringGrad() }
        var states = opt.states
        var functional: [Snapshot] = []
        for t in 0..<5 {
            let gs = try values.map { try Self.gradient($0, step: t) }
            (values, states) = try opt.functionalStep(values, gradients: gs, states: states)
            functional.append(Snapshot(values: values, states: states))
        }
        #expect(values.allSatisfy { $0.requiresGrad })  // recorded, so it could be differentiated
        #expect(Snapshot(opt) == untouched, "functionalStep changed the optimizer's parameters or states")

        // Stateful path: every intermediate value and state, compared with exact ==.
        for t in 0..<5 {
            let gs = try params.map { try Self.gradient($0.value, step: t) }
            try opt.step(gradients: gs)
            #expect(Snapshot(opt) == functional[t], "step \(t + 1) differs between step() and functionalStep")
        }
        #expect(opt.states.allSatisfy { $0.step == 5 })
        #expect(opt.parameters.map(\.value.scalars) != untouched.values)  // it did move

        // And from non-empty states, functionalStep still leaves the optimizer alone.
        let after = Snapshot(opt)
        _ = try opt.functionalStep(params.map(\.value), gradients: params.map { $0.value.onesLike() },
                                   states: opt.states)
        #expect(Snapshot(opt) == after)
    }
}}

// MARK: - Stateful steps make no temporaries

extension OptimizerTests { @Suite struct InPlaceSteps {
    /// Once the state exists, `step()` allocates no tensor storage beyond a few bytes: the update runs
    /// in place over the parameter and its state, and the state's tensors are not copied. A step
    /// composed from tensor operations would allocate several parameters' worth. (Two warm-up steps:
    /// SGD's first momentum buffer is the gradient itself, which this test keeps, so the second step
    /// rightly copies it once.)
    @Test(arguments: OptimizerTestKind.allCases)
    func stepsAfterTheFirstAllocateNothingParameterSized(kind: OptimizerTestKind) throws {
        var gen = RandomGenerator(seed: 9)
        let parameter = Parameter(Tensor.randomNormal([100_000], using: &gen))
        let opt = kind.make([parameter])
        let gradient = Tensor.randomNormal([100_000], using: &gen)
        try opt.step(gradients: [gradient])
        try opt.step(gradients: [gradient])
        for _ in 0..<3 {
            let before = MemoryStats.liveBytes
            MemoryStats.resetPeak()
            try opt.step(gradients: [gradient])
            #expect(MemoryStats.peakBytes - before < 1024, "\(kind): step allocated \(MemoryStats.peakBytes - before) bytes at peak")
            #expect(MemoryStats.liveBytes - before < 1024)
        }
    }
}}

// MARK: - Hypergradient through unrolled functional steps

/// Least squares with one L2 decay per feature:
///     L_in(w, λ) = mean((X w - y)²) + Σ_j λ_j w_j²,     L_val(w) = mean((X_v w - y_v)²)
private struct DecayedLeastSquares {
    let x: Tensor, y: Tensor, xVal: Tensor, yVal: Tensor
    let w0 = Tensor([1, -1, 1])
    let lambda = Tensor([0.3, 0.1, 0.5])

    init(seed: UInt64) {
        var gen = RandomGenerator(seed: seed)
        x = Tensor.randomNormal([10, 3], using: &gen)
        xVal = Tensor.randomNormal([6, 3], using: &gen)
        let teacher = Tensor([1.5, -2, 0.7])
        y = try! x.matmul(teacher) + Tensor.randomNormal([10], std: 0.3, using: &gen)
        yVal = try! xVal.matmul(teacher) + Tensor.randomNormal([6], std: 0.3, using: &gen)
    }

    func innerLoss(_ w: Tensor, _ lambda: Tensor) throws -> Tensor {
        let r = try x.matmul(w) - y
        return try (r * r).mean() + (lambda * w * w).sum()
    }

    /// ∇_w L_in = (2/n) Xᵀ (X w - y) + 2 λ ⊙ w, written out (for the finite-difference runs).
    func innerGradientClosedForm(_ w: Tensor, _ lambda: Tensor) throws -> Tensor {
        let r = try x.matmul(w) - y
        let xtr = try x.matmul(try r.reshaped(to: [-1, 1]), transposeA: true).reshaped(to: [-1])
        return try xtr * (2 / Float(x.shape[0])) + 2 * lambda * w
    }

    func validationLoss(_ w: Tensor) throws -> Tensor {
        let r = try xVal.matmul(w) - yVal
        return (try r * r).mean()
    }

    /// L_val(w_5) and dL_val/dλ, differentiating through 5 functional steps whose inner gradients
    /// are recorded (createGraph: true).
    func hypergradient(_ opt: any Optimizer) throws -> (loss: Float, grad: [Float]) {
        let lam = lambda.requiringGrad()
        var w = [w0.requiringGrad()]
        var states = [ParameterState()]
        for _ in 0..<5 {
            let g = try grad(of: innerLoss(w[0], lam), wrt: w, createGraph: true)
            (w, states) = try opt.functionalStep(w, gradients: g, states: states)
        }
        let loss = try validationLoss(w[0])
        return (loss.scalar, try grad(of: loss, wrt: lam).scalars)
    }

    /// L_val(w_5) at `lambda`, re-running the unroll without any gradient recording, and the
    /// smallest |∂L_in/∂w_j| met on the way.
    func unrolledLoss(_ opt: any Optimizer, lambda: Tensor) throws -> (loss: Double, smallestGradient: Float) {
        try withoutGrad {
            var w = [w0]
            var states = [ParameterState()]
            var smallest = Float.infinity
            for _ in 0..<5 {
                let g = try innerGradientClosedForm(w[0], lambda)
                smallest = Swift.min(smallest, g.scalars.map { Swift.abs($0) }.min()!)
                (w, states) = try opt.functionalStep(w, gradients: [g], states: states)
            }
            return (Double(try validationLoss(w[0]).scalar), smallest)
        }
    }
}

extension OptimizerTests { @Suite struct UnrolledHypergradient {
    @Test(arguments: ["sgdMomentum", "adam"])
    func hypergradientThroughFiveStepsMatchesFiniteDifferences(optimizer: String) throws {
        let problem = DecayedLeastSquares(seed: 3)
        // The optimizer only supplies the rule: functionalStep never touches its parameter.
        let holder = Parameter(problem.w0)
        let opt: any Optimizer = optimizer == "adam"
            ? Adam([holder], learningRate: 0.3)
            : SGD([holder], learningRate: 0.05, momentum: 0.9)

        let (loss, analytic) = try problem.hypergradient(opt)
        // The recorded unroll and the closed-form one compute the same L_val(w_5); they differ only
        // in the order of Float32 operations in the inner gradient: 1e-4 relative.
        let replay = try problem.unrolledLoss(opt, lambda: problem.lambda)
        #expect(Swift.abs(Double(loss) - replay.loss) <= 1e-4 * Swift.max(1, Swift.abs(replay.loss)),
                "recorded \(loss) vs replayed \(replay.loss)")
        #expect(holder.value.scalars == problem.w0.scalars)
        // Adam's m/√v is smooth in λ only while no inner gradient component passes near 0 (there
        // its step flips sign over a width ~|g|); this fixture keeps every |g_j| above 0.05, 50× h.
        // (SGD's step is linear in g, so it has no such condition.)
        if optimizer == "adam" {
            #expect(replay.smallestGradient > 0.05, "fixture too close to a zero gradient for finite differences")
        }

        // Central differences in each λ_j with h = 1e-3, the unroll re-run without recording and
        // its inner gradient in closed form. Each Float32 evaluation of L_val ≈ 1-3 carries a few
        // ulp (≈ 5e-7) of rounding accumulated over the unroll, which the quotient divides by
        // 2h = 2e-3: ≈ 3e-4 of noise; the truncation error h²/6·|∂³L/∂λ³| is ~1e-6. Hence atol
        // 2e-3 + rtol 1e-2: a missing createGraph or a wrong backward rule changes it by O(1).
        let h: Float = 1e-3
        var base = problem.lambda.scalars
        var largest: Float = 0
        for j in base.indices {
            let original = base[j]
            base[j] = original + h
            let plus = try problem.unrolledLoss(opt, lambda: Tensor(base)).loss
            base[j] = original - h
            let minus = try problem.unrolledLoss(opt, lambda: Tensor(base)).loss
            base[j] = original
            let numeric = Float((plus - minus) / (2 * Double(h)))
            let ratio = Swift.abs(analytic[j] - numeric) / (2e-3 + 1e-2 * Swift.abs(numeric))
            #expect(ratio <= 1, "dL_val/dλ\(j): analytic \(analytic[j]), numeric \(numeric)")
            largest = Swift.max(largest, Swift.abs(numeric))
        }
        // Not a vacuous comparison: λ moves the validation loss noticeably.
        #expect(largest > 0.5, "hypergradient too small to test: \(analytic)")
    }
}}

// MARK: - step() bookkeeping

extension OptimizerTests { @Suite struct Bookkeeping {
    @Test func stepSkipsParametersWithoutAGradient() throws {
        let a = Parameter(Tensor([1, 2])), b = Parameter(Tensor([3, 4, 5]))
        for opt in [SGD([a, b], learningRate: 0.1, momentum: 0.9) as any Optimizer, Adam([a, b], learningRate: 0.1)] {
            a.zeroGrad(); b.zeroGrad()
            let aBefore = a.value.scalars, bBefore = b.value.scalars
            try (a.value * a.value).sum().backward()  // only a gets a gradient
            #expect(a.grad != nil && b.grad == nil)
            try opt.step()
            #expect(a.value.scalars != aBefore)
            #expect(b.value.scalars == bBefore)
            #expect(opt.states[0].step == 1)
            #expect(opt.states[1].step == 0)
            #expect(opt.states[1].tensors.isEmpty)
            // An explicit nil does the same.
            try opt.step(gradients: [nil, Tensor([1, 1, 1])])
            #expect(opt.states[0].step == 1 && opt.states[1].step == 1)
        }
    }

    @Test func aGradientOfTheWrongShapeThrowsAndChangesNothing() throws {
        let a = Parameter(Tensor([1, 2])), b = Parameter(Tensor([3, 4, 5]))
        let opt = Adam([a, b], learningRate: 0.1)
        try opt.step(gradients: [Tensor([1, 1]), Tensor([1, 1, 1])])
        let before = Snapshot(opt)

        // The good gradient comes first: validation must happen before any update.
        let error = #expect(throws: TensorError.self) {
            try opt.step(gradients: [Tensor([1, 1]), Tensor([1, 1])])
        }
        if case let .shapeMismatch(op, shapes, _) = error {
            #expect(op == "Optimizer.step")
            #expect(shapes == [[3], [2]])
        } else {
            Issue.record("expected a shapeMismatch, got \(String(describing: error))")
        }
        #expect(Snapshot(opt) == before)

        // The wrong number of gradients too.
        let countError = #expect(throws: TensorError.self) { try opt.step(gradients: [Tensor([1, 1])]) }
        #expect(countError?.description.contains("1 gradients for 2 parameters") == true)
        #expect(Snapshot(opt) == before)

        // functionalStep checks its counts.
        #expect(throws: TensorError.self) {
            _ = try opt.functionalStep([a.value], gradients: [], states: opt.states)
        }
    }

    @Test func stateIsInspectable() throws {
        let p = Parameter(Tensor([1, -1]))
        let adam = Adam([p], learningRate: 0.1)
        try adam.step(gradients: [Tensor([2, -4])])
        // First step: exp_avg = (1 - β1) g, exp_avg_sq = (1 - β2) g². Float32 products: 1e-6 for
        // exp_avg; 1 - β2 computed in Float32 is 1.3e-5 relative off, so 2e-5 relative for exp_avg_sq.
        expectClose(try #require(adam.states[0]["exp_avg"]).scalars, [0.2, -0.4], tol: 1e-6, "exp_avg")
        expectClose(try #require(adam.states[0]["exp_avg_sq"]).scalars, [0.004, 0.016], tol: 3.2e-7, "exp_avg_sq")
        #expect(adam.states[0].step == 1)
        #expect(Set(adam.states[0].tensors.keys) == ["exp_avg", "exp_avg_sq", "last_grad"])
        // The raw gradient of the latest step, as SAMA reads it.
        #expect(try #require(adam.states[0]["last_grad"]).scalars == [2, -4])

        let q = Parameter(Tensor([1, -1]))
        let sgd = SGD([q], learningRate: 0.1, momentum: 0.9)
        try sgd.step(gradients: [Tensor([2, -4])])
        try sgd.step(gradients: [Tensor([1, 1])])
        // buf = 0.9·[2, -4] + [1, 1] = [2.8, -2.6]; Float32 of O(1) values: 1e-6.
        expectClose(try #require(sgd.states[0]["momentum_buffer"]).scalars, [2.8, -2.6], tol: 1e-6, "buffer")
        #expect(sgd.states[0].step == 2)

        // resetState forgets everything.
        sgd.resetState()
        #expect(sgd.states[0].step == 0 && sgd.states[0].tensors.isEmpty)
    }
}}

// MARK: - Gradient clipping

extension OptimizerTests { @Suite struct ClipGradientNorm {
    @Test func normIsTheGlobalL2Norm() throws {
        // ‖[3, 4]‖² + ‖[[12]]‖² = 9 + 16 + 144 = 169, norm 13 (exact in Float32).
        let gs = [Tensor([3, 4]), try Tensor([[12]])]
        let (clipped, norm) = try clipGradientNorm(gs, maxNorm: 100)
        #expect(norm == 13)
        // Below maxNorm: returned untouched.
        #expect(clipped.map(\.scalars) == gs.map(\.scalars))
        #expect(clipped.map(\.shape) == gs.map(\.shape))
    }

    @Test func gradientsAboveMaxNormAreScaledToIt() throws {
        let gs = [Tensor([3, 4]), try Tensor([[12]])]
        let (clipped, norm) = try clipGradientNorm(gs, maxNorm: 6.5)
        #expect(norm == 13)
        // Coefficient 6.5 / (13 + 1e-6): half, to within 1e-7 relative; Float32 products: 1e-6.
        expectClose(clipped[0].scalars, [1.5, 2], tol: 1e-6, "clipped[0]")
        expectClose(clipped[1].scalars, [6], tol: 1e-6, "clipped[1]")
        let newNorm = clipped.reduce(Float(0)) { $0 + $1.scalars.reduce(0) { $0 + $1 * $1 } }.squareRoot()
        // Same bound, on a norm of 6.5.
        expectClose([newNorm], [6.5], tol: 1e-5, "clipped norm")
        #expect(clipped[1].shape == [1, 1])
    }

    @Test func gradientsBelowMaxNormAreUntouched() throws {
        let gs = [Tensor([0.1, -0.2, 0.3])]
        let (clipped, norm) = try clipGradientNorm(gs, maxNorm: 1)
        // √0.14 in Float32: 1e-6 relative.
        expectClose([norm], [(0.14 as Double).squareRoot()], tol: 1e-6, "norm")
        #expect(clipped[0].scalars == gs[0].scalars)
    }

    @Test func nonPositiveMaxNormIsAnError() {
        for bad: Float in [0, -1] {
            let error = #expect(throws: TensorError.self) { _ = try clipGradientNorm([Tensor([1])], maxNorm: bad) }
            #expect(error?.description.contains("maxNorm") == true)
        }
    }
}}

// MARK: - Learning-rate schedules

extension OptimizerTests { @Suite struct Schedules {
    // Each rate is base times a product of ≤ 3 Float32 factors or a Float32 cosine: within a few ulp
    // of values ≤ 0.1, so an absolute tolerance of 1e-7 (1e-6 relative to base) is enough.
    let base: Float = 0.1
    let tol = 1e-7

    @Test func constant() {
        for step in [0, 1, 10, 10_000] {
            #expect(LearningRateSchedule.constant.rate(at: step, base: base) == base)
        }
    }

    @Test func multiStep() {
        let s = LearningRateSchedule.multiStep(milestones: [2, 5], gamma: 0.1)
        // lr = base·γ^(number of milestones ≤ step), as PyTorch's MultiStepLR.
        let expected: [Double] = [0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001]
        expectClose((0..<8).map { s.rate(at: $0, base: base) }, expected, tol: tol, "multiStep")
    }

    @Test func stepDecay() {
        let s = LearningRateSchedule.step(stepSize: 3, gamma: 0.5)
        // lr = base·γ^⌊step / 3⌋.
        let expected: [Double] = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]
        expectClose((0..<10).map { s.rate(at: $0, base: base) }, expected, tol: tol, "step")
    }

    @Test func cosine() {
        let s = LearningRateSchedule.cosine(period: 10, minimum: 0.01)
        // lr = min + (base - min)(1 + cos(π t / T)) / 2
        func formula(_ t: Double) -> Double { 0.01 + 0.09 * (1 + dcos(Double.pi * t / 10)) / 2 }
        #expect(Swift.abs(Double(s.rate(at: 0, base: base)) - 0.1) <= tol)   // start: base
        #expect(Swift.abs(Double(s.rate(at: 5, base: base)) - 0.055) <= tol) // midpoint: (base+min)/2
        #expect(Swift.abs(Double(s.rate(at: 10, base: base)) - 0.01) <= tol) // end: minimum
        expectClose((0...10).map { s.rate(at: $0, base: base) }, (0...10).map { formula(Double($0)) },
                    tol: tol, "cosine")
        // Monotone non-increasing over the period.
        let rates = (0...10).map { s.rate(at: $0, base: base) }
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $0 >= $1 })
    }

    @Test func linearWarmupThenCosine() {
        let s = LearningRateSchedule.linearWarmup(steps: 5, startFactor: 0.1,
                                                  then: .cosine(period: 10, minimum: 0))
        // Warm-up: base·(0.1 + 0.9·t/5) for t < 5; then the cosine at t - 5.
        var expected: [Double] = (0..<5).map { 0.1 * (0.1 + 0.9 * Double($0) / 5) }
        expected += (0...10).map { 0.1 * (1 + dcos(Double.pi * Double($0) / 10)) / 2 }
        expectClose((0...15).map { s.rate(at: $0, base: base) }, expected, tol: tol, "warmup + cosine")
        // Spot values: start 0.01, t = 2 → 0.046, t = 5 → base, t = 10 → base / 2, t = 15 → 0.
        expectClose([0, 2, 5, 10, 15].map { s.rate(at: $0, base: base) }, [0.01, 0.046, 0.1, 0.05, 0],
                    tol: tol, "warmup spot values")
    }
}}

private func dcos(_ x: Double) -> Double { cos(x) }
