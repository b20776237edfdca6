import Testing
import BettyTensor
import _TestSupport

// Determinism (a seed fixes every number of a run, bit for bit) and memory accounting
// (MemoryStats.liveBytes / peakBytes follow tensor storage as it is allocated and freed).
//
// MemoryStats counts every thread, so memory assertions use allocations of megabytes and compare
// with margins of ~100 KB: small tensors made concurrently by another suite (if the run is not
// serialized; the project runs `swift test --no-parallel`) stay well inside the margin. The suite
// itself is serialized so its own tests never overlap.

private let megabyte = 1_000_000
/// Slack for unrelated small allocations (scalars, shapes of a few elements) made meanwhile.
private let margin = 100_000

private func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

// MARK: - A small training loop

private struct TrainingRun: Equatable {
    var losses: [UInt32] = []
    var parameters: [[UInt32]] = []
}

/// A 2-layer MLP on random data, trained by 20 SGD steps; everything drawn from `seed`.
private func train(seed: UInt64, steps: Int = 20) throws -> TrainingRun {
    var gen = RandomGenerator(seed: seed)
    let x = Tensor.randomNormal([16, 4], using: &gen)
    let labels = Tensor((0..<16).map { _ in Float(Int(gen.nextUniform() * 3)) })
    let targets = try Tensor.oneHot(labels, classes: 3)
    var params = [
        Tensor.randomNormal([4, 8], std: 0.5, using: &gen).requiringGrad(),
        Tensor.zeros([8]).requiringGrad(),
        Tensor.randomNormal([8, 3], std: 0.5, using: &gen).requiringGrad(),
        Tensor.zeros([3]).requiringGrad(),
    ]
    // Dropout masks drawn from the same generator, so the stream is consumed during training too.
    var run = TrainingRun()
    let lr: Float = 0.5
    for _ in 0..<steps {
        let mask = try Tensor.bernoulli([16, 8], probability: 0.9, using: &gen)
        let hidden = try relu(x.matmul(params[0]) + params[1]) * mask
        let logits = try hidden.matmul(params[2]) + params[3]
        let loss = try (-(targets * logSoftmax(logits, axis: 1)).sum(axis: 1)).mean()
        run.losses.append(loss.scalar.bitPattern)
        try loss.backward()
        withoutGrad {
            for i in params.indices {
                let g = params[i].grad!.scalars
                params[i].withUnsafeMutableBufferPointer { p in
                    for j in p.indices { p[j] -= lr * g[j] }
                }
                params[i].zeroGrad()
            }
        }
    }
    run.parameters = params.map(bits)
    return run
}

@Suite(.serialized) struct DeterminismAndMemoryTests {
    // MARK: Determinism

    @Test func sameSeedGivesBitIdenticalRandomTensors() throws {
        func draw(_ seed: UInt64) throws -> [[UInt32]] {
            var gen = RandomGenerator(seed: seed)
            let a = Tensor.randomNormal([37, 5], mean: 1, std: 2, using: &gen)
            let b = Tensor.randomUniform([101], low: -3, high: 3, using: &gen)
            let c = try Tensor.bernoulli([64], probability: 0.3, using: &gen)
            return [bits(a), bits(b), bits(c), [UInt32(truncatingIfNeeded: gen.next())]]
        }
        #expect(try draw(42) == draw(42))
        let first = try draw(42), other = try draw(43)
        for k in 0..<3 { #expect(first[k] != other[k], "tensor \(k) is the same for seeds 42 and 43") }
    }

    @Test func generatorStateRestoresTheStream() {
        var gen = RandomGenerator(seed: 9)
        _ = Tensor.randomNormal([13], using: &gen)
        let saved = gen.state
        let continued = bits(Tensor.randomUniform([50], using: &gen))
        var restored = RandomGenerator(state: saved)
        #expect(bits(Tensor.randomUniform([50], using: &restored)) == continued)
        #expect(restored == gen)
    }

    @Test func randomValuesHaveTheRequestedDistribution() {
        // Guards against a generator that is deterministic because it is constant.
        var gen = RandomGenerator(seed: 5)
        let n = 100_000
        let u = Tensor.randomUniform([n], low: 2, high: 4, using: &gen).scalars
        let z = Tensor.randomNormal([n], mean: -1, std: 3, using: &gen).scalars
        #expect(u.allSatisfy { $0 >= 2 && $0 < 4 })
        let uMean = u.reduce(0.0) { $0 + Double($1) } / Double(n)
        let zMean = z.reduce(0.0) { $0 + Double($1) } / Double(n)
        let zVar = z.reduce(0.0) { $0 + (Double($1) - zMean) * (Double($1) - zMean) } / Double(n)
        // Standard errors at n = 1e5: uniform mean 0.58/316 ≈ 0.002, normal mean 3/316 ≈ 0.01, variance
        // 9·√(2/n) ≈ 0.04; the bounds are 5 standard errors or more.
        #expect(Swift.abs(uMean - 3) < 0.01, "uniform mean \(uMean)")
        #expect(Swift.abs(zMean + 1) < 0.05, "normal mean \(zMean)")
        #expect(Swift.abs(zVar - 9) < 0.25, "normal variance \(zVar)")
    }

    @Test func trainingLoopIsBitIdenticalForTheSameSeed() throws {
        let a = try train(seed: 1234)
        let b = try train(seed: 1234)
        #expect(a.losses.count == 20)
        #expect(a == b, "two runs with seed 1234 differ")
        // Training really happened: the loss went down (so identical runs are not trivially constant).
        let losses = a.losses.map(Float.init(bitPattern:))
        #expect(losses.last! < losses.first!, "losses \(losses)")
    }

    @Test func differentSeedsGiveDifferentTrainingRuns() throws {
        let a = try train(seed: 1234)
        let b = try train(seed: 4321)
        #expect(a.losses != b.losses)
        for k in a.parameters.indices { #expect(a.parameters[k] != b.parameters[k], "parameter \(k)") }
    }

    // MARK: Memory

    @Test func liveBytesReturnToBaselineAfterScope() throws {
        let start = MemoryStats.liveBytes
        func work() throws -> Float {
            var gen = RandomGenerator(seed: 3)
            let x = Tensor.randomNormal([500, 500], using: &gen).requiringGrad()  // 1 MB
            let y = try (BettyTensor.tanh(x.matmul(x)) * x).sum()
            // x, x·x, tanh, the product: at least 4 MB alive with the graph.
            #expect(MemoryStats.liveBytes - start >= 4 * megabyte - margin)
            let g = try grad(of: y, wrt: x, createGraph: true)
            let h = try grad(of: (g * g).sum(), wrt: x)  // second order through the recorded graph
            return h.scalars[0] + g.scalars[0]
        }
        let value = try work()
        #expect(value.isFinite)
        let end = MemoryStats.liveBytes
        #expect(Swift.abs(end - start) <= margin, "live bytes \(start) before, \(end) after")
    }

    @Test func liveBytesReturnToBaselineAfterDoBlock() throws {
        let start = MemoryStats.liveBytes
        do {
            let big = Tensor.ones([1000, 1000])
            let doubled = big * 2
            #expect(MemoryStats.liveBytes - start >= 8 * megabyte - margin)
            #expect(doubled.scalars[999_999] == 2)
        }
        #expect(Swift.abs(MemoryStats.liveBytes - start) <= margin)
    }

    @Test func peakReflectsAKnownAllocation() throws {
        MemoryStats.resetPeak()
        let base = MemoryStats.liveBytes
        // Right after the reset the peak is the live count (small concurrent allocations aside).
        #expect(MemoryStats.peakBytes >= base && MemoryStats.peakBytes - base <= margin)
        do {
            let t = Tensor.zeros([1000, 1000])  // 4,000,000 bytes of Float32
            #expect(t.count == 1_000_000)
        }
        let peak = MemoryStats.peakBytes
        #expect(peak - base >= 4_000_000, "peak \(peak) vs base \(base)")
        // The allocation is gone but the peak remembers it.
        #expect(MemoryStats.liveBytes - base <= margin)
        // A second reset forgets it.
        MemoryStats.resetPeak()
        #expect(MemoryStats.peakBytes - MemoryStats.liveBytes <= margin)
    }

    @Test func peakCountsTensorsAliveTogether() throws {
        MemoryStats.resetPeak()
        let base = MemoryStats.liveBytes
        func transient() -> Float {
            let a = Tensor.ones([1000, 1000])  // 4 MB
            let b = BettyTensor.exp(a)          // 4 MB more, while a is alive
            return b.scalars[0]
        }
        _ = transient()
        // Both were alive at once: at least 8 MB above the base, and no more than a few MB of
        // temporaries beyond that.
        #expect(MemoryStats.peakBytes - base >= 8 * megabyte)
        #expect(MemoryStats.peakBytes - base <= 8 * megabyte + margin)
    }

    @Test func backwardWithoutRetainGraphFreesSavedIntermediates() throws {
        var gen = RandomGenerator(seed: 11)
        let x = Tensor.randomNormal([1_000_000], using: &gen).requiringGrad()  // 4 MB
        // Saved by the graph: x * 2 (tanh's input), tanh's output, and the product (sum's input):
        // 12 MB held only by the graph.
        let y = (BettyTensor.tanh(x * 2) * 3).sum()
        let before = MemoryStats.liveBytes
        try y.backward()
        let after = MemoryStats.liveBytes
        // Freed 12 MB of intermediates, added x.grad (4 MB): live bytes drop by about 8 MB.
        #expect(before - after >= 8 * megabyte - margin, "live bytes \(before) before backward, \(after) after")
        #expect(x.grad?.count == 1_000_000)
    }

    @Test func backwardWithRetainGraphKeepsSavedIntermediates() throws {
        var gen = RandomGenerator(seed: 11)
        let x = Tensor.randomNormal([1_000_000], using: &gen).requiringGrad()
        let y = (BettyTensor.tanh(x * 2) * 3).sum()
        let before = MemoryStats.liveBytes
        try y.backward(retainGraph: true)
        let retained = MemoryStats.liveBytes
        // Nothing freed; x.grad (4 MB) added.
        #expect(retained - before >= 4 * megabyte - margin, "live \(before) → \(retained)")
        // A second pass without retainGraph frees the 12 MB; accumulation adds nothing lasting.
        try y.backward()
        let released = MemoryStats.liveBytes
        #expect(retained - released >= 12 * megabyte - margin, "live \(retained) → \(released)")
    }

    // backward(createGraph: true) stores in x.grad a tensor whose graph holds x: a reference cycle, as
    // in PyTorch (documented on `backward`). zeroGrad() breaks it and frees everything:
    @Test func zeroGradReleasesACreateGraphGradient() throws {
        let start = MemoryStats.liveBytes
        do {
            let x = Tensor.ones([1000, 1000]).requiringGrad()
            let y = try (BettyTensor.tanh(x) * x).sum()
            try y.backward(createGraph: true)
            x.zeroGrad()
        }
        #expect(MemoryStats.liveBytes - start <= margin)
    }

    @Test func sgdStepWithCompoundAssignmentKeepsTheParameterTrainable() throws {
        // The idiomatic step `w -= lr * grad` inside withoutGrad ("parameters may be updated in
        // place") must leave w a leaf that requires a gradient, or the next step silently stops
        // training it.
        var w = Tensor([1, 2, 3]).requiringGrad()
        try (w * w).sum().backward()
        let g = try #require(w.grad)
        try withoutGrad { try w -= g * 0.1 }
        // 1 - 0.2, 2 - 0.4, 3 - 0.6 in Float32, computed the same way.
        #expect(w.scalars == [1 - Float(2) * 0.1, 2 - Float(4) * 0.1, 3 - Float(6) * 0.1])
        #expect(w.requiresGrad, "w -= ... inside withoutGrad turned the parameter into a constant")
        #expect(w.isLeaf)
        if w.requiresGrad {
            let next = try grad(of: (w * w).sum(), wrt: [w])
            #expect(next[0].shape == [3])
        }
    }

    @Test func withoutGradSavesNothing() throws {
        var gen = RandomGenerator(seed: 12)
        let x = Tensor.randomNormal([1_000_000], using: &gen).requiringGrad()
        let before = MemoryStats.liveBytes
        let y = withoutGrad { (BettyTensor.tanh(x * 2) * 3).sum() }
        // Only the scalar result remains: the 12 MB of intermediates were freed at once.
        #expect(MemoryStats.liveBytes - before <= margin)
        #expect(!y.requiresGrad)
        // Recorded, the same expression keeps them.
        let tracked = (BettyTensor.tanh(x * 2) * 3).sum()
        #expect(MemoryStats.liveBytes - before >= 12 * megabyte - margin)
        #expect(tracked.requiresGrad)
    }
}
