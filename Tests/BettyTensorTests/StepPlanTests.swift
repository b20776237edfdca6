import Testing
import BettyTensor

// A step plan's replay gives the dynamic tape's numbers bit for bit, on new data and parameters each
// step, and notices when the step does something else than it recorded.

private func bits(_ ts: [Tensor]) -> [[UInt32]] { ts.map { $0.scalars.map(\.bitPattern) } }

/// A small training step: forward, gradient, a Hessian-vector product through the gradient, and an
/// SGD update in place, like an engine step with a second-order hypergradient.
private func step(_ w: inout Tensor, _ lam: Tensor, x: Tensor, y: Tensor) throws -> [Tensor] {
    let logits = try x.matmul(w)
    let loss = try sigmoidCrossEntropy(logits: logits, targets: y, scale: 1 / Float(y.count))
        + 0.5 * (lam * w * w).sum() + 0.1 * sin(w).sum()
    let g = try grad(of: loss, wrt: [w, lam], createGraph: true)
    let v = try softmax(g[0] * 3, axis: 0).detached()
    let hv = try grad(of: dot(g[0], v), wrt: [w, lam], allowUnused: true)
    let updated = try withoutGrad { try w.adding(g[0].detached(), scaledBy: -0.1) }
    w = updated.requiringGrad()
    return [loss.detached(), g[0].detached(), g[1].detached(), hv[0], hv[1]]
}

private func data(_ seed: UInt64) -> (Tensor, Tensor) {
    var r = RandomGenerator(seed: seed)
    let x = Tensor.randomNormal([16, 5], using: &r)
    let y = try! (Tensor.randomUniform([16], using: &r) .> Tensor(0.5)) * 1
    return (x, y)
}

@Suite struct StepPlanTests {
    @Test func replayEqualsTheDynamicTapeBitForBit() throws {
        var wDynamic = Tensor([0.1, -0.2, 0.3, 0.05, -0.4]).requiringGrad()
        var wCompiled = wDynamic.detached().requiringGrad()
        let lam = Tensor([1, 0.5, 2, 1, 0.25]).requiringGrad()
        let plan = StepPlan()
        for k in 0..<6 {
            let (x, y) = data(UInt64(k))
            let expected = try step(&wDynamic, lam, x: x, y: y)
            let got: [Tensor]
            if k == 0 {
                got = try plan.record { try step(&wCompiled, lam, x: x, y: y) }
                #expect(plan.isReady, "\(plan.refusal ?? "")")
            } else {
                got = try plan.replay { try step(&wCompiled, lam, x: x, y: y) }
                #expect(plan.divergence == nil, "step \(k): \(plan.divergence ?? "")")
            }
            #expect(bits(got) == bits(expected), "step \(k)")
            #expect(bits([wCompiled]) == bits([wDynamic]), "step \(k)")
        }
    }

    @Test func aChangedShapeLeavesTheRecordingAndTheGradientSaysSo() throws {
        let w = Tensor([0.1, -0.2, 0.3, 0.05, -0.4]).requiringGrad()
        let plan = StepPlan()
        let (x, y) = data(1)
        _ = try plan.record { try grad(of: sigmoidCrossEntropy(logits: x.matmul(w), targets: y), wrt: w) }
        let (x2, y2) = data(2)
        let smaller = try x2.slice(axis: 0, 0..<8), y3 = try y2.slice(axis: 0, 0..<8)
        #expect(throws: TensorError.self) {
            try plan.replay { try grad(of: sigmoidCrossEntropy(logits: smaller.matmul(w), targets: y3), wrt: w) }
        }
        #expect(plan.divergence?.contains("other shapes") == true, "\(plan.divergence ?? "nil")")
    }

    @Test func aReplayedResultRefusesAGradientOutsideTheStep() throws {
        let w = Tensor([1, 2, 3]).requiringGrad()
        let plan = StepPlan()
        _ = try plan.record { try grad(of: (w * w).sum(), wrt: w) }
        var loss: Tensor?
        _ = try plan.replay { () throws -> Tensor in
            let l = (try w * w).sum()
            loss = l
            return try grad(of: l, wrt: w)
        }
        #expect(plan.divergence == nil)
        #expect(throws: TensorError.self) { try grad(of: loss!, wrt: w) }
    }

    /// A small convolutional classifier step with a second-order term: convolution (unfold and a
    /// batched product), pooling (max over windows), softmax, gather, slices, where and clamp, all
    /// replayed on new data against the dynamic tape.
    @Test func aConvolutionalStepWithSecondOrderTermsReplaysBitForBit() throws {
        var r = RandomGenerator(seed: 11)
        let kernel = Tensor.randomNormal([4, 1, 3, 3], std: 0.3, using: &r).requiringGrad()
        let dense = Tensor.randomNormal([16, 3], std: 0.3, using: &r).requiringGrad()
        func step(_ x: Tensor, _ labels: Tensor) throws -> [Tensor] {
            let features = try maxPool2d(relu(conv2d(x, weight: kernel, padding: (1, 1))), kernel: (2, 2))
            let flat = try features.reshaped(to: [x.shape[0], -1]).slice(axis: 1, 0..<16)
            let logits = try flat.matmul(dense)
            let picked = try logSoftmax(logits, axis: 1).gather(axis: 1, index: labels.reshaped(to: [-1, 1]))
            let guarded = try Tensor.where(picked .> Tensor(-30), picked, Tensor(-30))
            let loss = try -guarded.mean() + 0.01 * clamp(dense, min: -0.2, max: 0.2).sum()
            let g = try grad(of: loss, wrt: [kernel, dense], createGraph: true)
            let curvature = try grad(of: (g[1] * g[1]).sum() + (g[0] * g[0]).sum(), wrt: [kernel, dense])
            return [loss.detached(), g[0].detached(), g[1].detached()] + curvature
        }
        func batch(_ seed: UInt64) -> (Tensor, Tensor) {
            var g = RandomGenerator(seed: seed)
            let x = Tensor.randomNormal([2, 1, 4, 4], using: &g)
            let labels = Tensor((0..<2).map { _ in Float(Int(g.nextUniform() * 3) % 3) })
            return (x, labels)
        }
        let plan = StepPlan()
        for k in 0..<4 {
            let (x, labels) = batch(UInt64(100 + k))
            let expected = try step(x, labels)
            let got = k == 0 ? try plan.record { try step(x, labels) } : try plan.replay { try step(x, labels) }
            #expect(plan.refusal == nil, "\(plan.refusal ?? "")")
            #expect(plan.divergence == nil, "step \(k): \(plan.divergence ?? "")")
            #expect(bits(got) == bits(expected), "step \(k)")
        }
    }

    @Test func aBackwardPassIntoAGraphFromBeforeTheStepIsRefused() throws {
        let w = Tensor([1, 2]).requiringGrad()
        let before = try w * w  // recorded outside the step
        let plan = StepPlan()
        _ = try plan.record { try grad(of: (before * 3).sum(), wrt: w) }
        #expect(plan.refusal?.contains("recorded before the step") == true, "\(plan.refusal ?? "nil")")
        #expect(!plan.isReady)
    }
}
