import Testing
import BettyTensor
import BettyNN
import _TestSupport

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Double references

/// log Σ_c exp(z_c), shifted by the maximum.
private func logSumExpD(_ row: [Double]) -> Double {
    let m = row.max()!
    return m + log(row.reduce(0) { $0 + exp($1 - m) })
}

/// Per-sample cross entropy of `rows` against `labels`, with label smoothing ε:
/// (1 - ε)·(-log p_y) + ε·mean_c(-log p_c).
private func crossEntropyD(_ rows: [[Double]], _ labels: [Int], smoothing eps: Double = 0) -> [Double] {
    zip(rows, labels).map { row, y in
        let lse = logSumExpD(row)
        let nll = lse - row[y]
        let uniform = row.reduce(0) { $0 + (lse - $1) } / Double(row.count)
        return (1 - eps) * nll + eps * uniform
    }
}

/// softplus(z) - z y = max(z, 0) - z y + log1p(exp(-|z|)).
private func bceD(_ z: Double, _ y: Double) -> Double {
    Swift.max(z, 0) - z * y + log1p(exp(-Swift.abs(z)))
}


private let rows: [[Float]] = [[2, 1, 0.1, -1], [0.5, 2.5, -0.3, 1], [-2, 0, 3, 0.2]]
private let labelList = [0, 3, 2]
private var logits: Tensor { try! Tensor(rows) }
private var labels: Tensor { Tensor(labelList.map(Float.init)) }
private var rowsD: [[Double]] { rows.map { $0.map(Double.init) } }

@Suite struct LossTests {
    // MARK: Cross entropy

    @Test func crossEntropyMatchesADoubleReferenceForEveryReduction() throws {
        let reference = crossEntropyD(rowsD, labelList)
        // log-softmax of O(1) logits in Float32: a few ulp of values ≤ 5, so 1e-5 absolute.
        expectClose(try crossEntropy(logits, labels, reduction: .none).scalars, reference, tol: 1e-5, "none")
        expectClose([try crossEntropy(logits, labels, reduction: .sum).scalar],
                    [reference.reduce(0, +)], tol: 1e-5, "sum")
        expectClose([try crossEntropy(logits, labels).scalar],
                    [reference.reduce(0, +) / 3], tol: 1e-5, "mean (default)")
        #expect(try crossEntropy(logits, labels, reduction: .none).shape == [3])
        #expect(try crossEntropy(logits, labels).shape == .scalar)
    }

    @Test func labelSmoothingFollowsTheFormula() throws {
        let eps = 0.1
        let reference = crossEntropyD(rowsD, labelList, smoothing: eps)
        let plain = crossEntropyD(rowsD, labelList)
        // Same accuracy as the unsmoothed loss: 1e-5 absolute.
        expectClose(try crossEntropy(logits, labels, reduction: .none, labelSmoothing: 0.1).scalars,
                    reference, tol: 1e-5, "smoothed none")
        expectClose([try crossEntropy(logits, labels, labelSmoothing: 0.1).scalar],
                    [reference.reduce(0, +) / 3], tol: 1e-5, "smoothed mean")
        // Smoothing changes each sample's loss by ε(mean_c(-log p_c) - nll) = 0.1475, 0.0075, 0.27
        // here, ≥ 750× that tolerance: it is not a no-op.
        #expect(zip(reference, plain).allSatisfy { Swift.abs($0 - $1) > 5e-3 })
        let unsmoothed = try crossEntropy(logits, labels, reduction: .none).scalars
        let smoothed = try crossEntropy(logits, labels, reduction: .none, labelSmoothing: 0.1).scalars
        #expect(zip(smoothed, unsmoothed).allSatisfy { Swift.abs($0 - $1) > 5e-3 })
        // ε = 1 is the uniform target alone: mean_c(-log p_c).
        let uniform = crossEntropyD(rowsD, labelList, smoothing: 1)
        expectClose(try crossEntropy(logits, labels, reduction: .none, labelSmoothing: 1).scalars,
                    uniform, tol: 1e-5, "ε = 1")
    }

    @Test func labelSmoothingOutsideZeroOneIsAnError() {
        for bad: Float in [-0.1, 1.5] {
            let error = #expect(throws: TensorError.self) {
                _ = try crossEntropy(logits, labels, labelSmoothing: bad)
            }
            #expect(error?.description.contains("labelSmoothing") == true)
        }
    }

    @Test func crossEntropyIsStableForHugeLogits() throws {
        let z = try Tensor([[1000, -1000, 0], [-1000, 1000, 1000], [1000, -1000, -1000]])
        let y = Tensor([0, 1, 1])
        let perSample = try crossEntropy(z, y, reduction: .none).scalars
        #expect(perSample.allSatisfy { $0.isFinite }, "\(perSample)")
        // Exact: 0, log 2, 2000. Shifting by the row maximum first makes x - max exact (0, -2000),
        // so only log Σ exp rounds: an ulp of log 2, tolerance 1e-6 (adding the maximum back before
        // subtracting would cost ulp(1000)/2 = 3e-5 and fail).
        expectClose(perSample, [0, log(2.0), 2000], tol: 1e-6, "±1000")
        // The gradient, softmax - onehot over N = 3, stays finite: row 0 → 0, row 1 → [0, -1/2, 1/2]/3,
        // row 2 → [1, -1, 0]/3. The softmax is exp(log-softmax), accurate to a few ulp of values
        // ≤ 1/3 given the exact shift above: tolerance 1e-6.
        let leaf = z.requiringGrad()
        let g = try grad(of: crossEntropy(leaf, y), wrt: leaf).scalars
        #expect(g.allSatisfy { $0.isFinite })
        expectClose(g, [0, 0, 0, 0, -1.0 / 6, 1.0 / 6, 1.0 / 3, -1.0 / 3, 0], tol: 1e-6, "gradient at ±1000")
    }

    @Test func crossEntropyEqualsNLLOfLogSoftmax() throws {
        let a = try crossEntropy(logits, labels, reduction: .none).scalars
        let b = try nllLoss(logSoftmax(logits, axis: 1), labels, reduction: .none).scalars
        // Same Float32 operations in the same order: bit for bit.
        #expect(a == b)
    }

    // MARK: NLL

    @Test func nllLossPicksTheNegatedLogProbabilityOfTheLabel() throws {
        let p: [[Float]] = [[0.5, 0.25, 0.25], [0.125, 0.625, 0.25]]
        let logp = try Tensor(p.map { $0.map { Float(log(Double($0))) } })
        let y = Tensor([1, 2])
        let lp = logp.scalars
        // Gather and negation are exact: bit for bit.
        #expect(try nllLoss(logp, y, reduction: .none).scalars == [-lp[1], -lp[5]])
        // A sum of two values of order 1: one rounding, 1e-6.
        expectClose([try nllLoss(logp, y, reduction: .sum).scalar], [-(log(0.25) + log(0.25))], tol: 1e-6, "sum")
        expectClose([try nllLoss(logp, y).scalar], [-(log(0.25) + log(0.25)) / 2], tol: 1e-6, "mean")
        // nllLoss does not normalise its input: unnormalised scores are picked as they are.
        #expect(try nllLoss(Tensor([[3, 7]]), Tensor([1]), reduction: .none).scalars == [-7])
    }

    @Test func nllLossNeedsRankTwoInput() {
        let error = #expect(throws: TensorError.self) { _ = try nllLoss(Tensor([0.1, 0.2]), Tensor([0])) }
        #expect(error?.description.contains("nllLoss") == true)
        #expect(error?.description.contains("[2]") == true)
    }

    // MARK: Binary cross entropy with logits

    @Test func binaryCrossEntropyWithLogitsMatchesAReferenceIncludingLargeLogits() throws {
        let z: [Float] = [1000, -1000, 1000, -1000, 100, -100, 30, -30, 0, 2.5, -1.5, 3]
        let y: [Float] = [0, 1, 1, 0, 0.3, 1, 0, 1, 0.5, 0.7, 0.2, 1]
        let reference = zip(z, y).map { bceD(Double($0), Double($1)) }
        let got = try binaryCrossEntropyWithLogits(Tensor(z), Tensor(y), reduction: .none).scalars
        #expect(got.allSatisfy { $0.isFinite }, "\(got)")
        // softplus(z) and z·y are each rounded to half an ulp of |z|, so the difference is within
        // ~2 ulp(|z|) ≈ 2.4e-7·(1 + |z|): tolerance 1e-6·(1 + |z|).
        for i in z.indices {
            let tol = 1e-6 * (1 + Swift.abs(Double(z[i])))
            #expect(Swift.abs(Double(got[i]) - reference[i]) <= tol,
                    "z = \(z[i]), y = \(y[i]): \(got[i]) vs \(reference[i])")
        }
        // Spot values: z = 1000, y = 0 costs 1000; z = -1000, y = 1 costs 1000; agreeing signs cost 0.
        #expect(got[0] == 1000 && got[1] == 1000 && got[2] == 0 && got[3] == 0)
        // Reductions. The sum is dominated by 2000 + 70 + 100: 1e-6 relative of ~2200 is 2.2e-3.
        let total = reference.reduce(0, +)
        expectClose([try binaryCrossEntropyWithLogits(Tensor(z), Tensor(y), reduction: .sum).scalar],
                    [total], tol: 2.2e-3, "sum")
        expectClose([try binaryCrossEntropyWithLogits(Tensor(z), Tensor(y)).scalar],
                    [total / Double(z.count)], tol: 2.2e-3 / Double(z.count), "mean")
        // The gradient, (sigmoid(z) - y)/N, stays finite and bounded at |z| = 1000.
        let leaf = Tensor(z).requiringGrad()
        let g = try grad(of: binaryCrossEntropyWithLogits(leaf, Tensor(y)), wrt: leaf).scalars
        #expect(g.allSatisfy { $0.isFinite && Swift.abs($0) <= 1 / Float(z.count) + 1e-7 }, "\(g)")
    }

    @Test func binaryCrossEntropyRejectsShapeMismatch() {
        let error = #expect(throws: TensorError.self) {
            _ = try binaryCrossEntropyWithLogits(Tensor([1, 2, 3]), Tensor([1, 0]))
        }
        guard case let .shapeMismatch(op, shapes, _) = error else {
            Issue.record("expected shapeMismatch, got \(String(describing: error))")
            return
        }
        #expect(op == "binaryCrossEntropyWithLogits")
        #expect(shapes == [[3], [2]])
    }

    // MARK: Regression losses

    // prediction - target = [0.5, 3, -2, 0]: every value below is a dyadic rational, exact in
    // Float32, so these comparisons are exact.
    private let prediction = Tensor([0.5, 3, -2, 1])
    private let target = Tensor([0, 0, 0, 1])

    @Test func mseLossValues() throws {
        #expect(try mseLoss(prediction, target, reduction: .none).scalars == [0.25, 9, 4, 0])
        #expect(try mseLoss(prediction, target, reduction: .sum).scalar == 13.25)
        #expect(try mseLoss(prediction, target).scalar == 3.3125)
    }

    @Test func l1LossValues() throws {
        #expect(try l1Loss(prediction, target, reduction: .none).scalars == [0.5, 3, 2, 0])
        #expect(try l1Loss(prediction, target, reduction: .sum).scalar == 5.5)
        #expect(try l1Loss(prediction, target).scalar == 1.375)
    }

    @Test func huberLossBothBranches() throws {
        // δ = 1: |d| < 1 → ½d² (0.125, 0); |d| ≥ 1 → δ(|d| - δ/2) (2.5, 1.5).
        #expect(try huberLoss(prediction, target, reduction: .none).scalars == [0.125, 2.5, 1.5, 0])
        #expect(try huberLoss(prediction, target).scalar == 1.03125)
        // δ = 2: |d| = 3 is linear, 2(3 - 1) = 4; |d| = 2 sits on the boundary where both give 2.
        #expect(try huberLoss(prediction, target, delta: 2, reduction: .none).scalars == [0.125, 4, 2, 0])
        #expect(try huberLoss(prediction, target, delta: 2, reduction: .sum).scalar == 6.125)
        // δ = 4: all quadratic, the same as ½ MSE.
        #expect(try huberLoss(prediction, target, delta: 4, reduction: .none).scalars == [0.125, 4.5, 2, 0])
    }

    @Test func huberLossNeedsAPositiveDelta() {
        for bad: Float in [0, -1] {
            let error = #expect(throws: TensorError.self) { _ = try huberLoss(prediction, target, delta: bad) }
            #expect(error?.description.contains("delta") == true)
        }
    }

    @Test(arguments: ["mseLoss", "l1Loss", "huberLoss"])
    func regressionLossesRejectShapeMismatch(name: String) {
        let a = Tensor.zeros([2, 3]), b = Tensor.zeros([3, 2])
        let error = #expect(throws: TensorError.self) {
            switch name {
            case "mseLoss": _ = try mseLoss(a, b)
            case "l1Loss": _ = try l1Loss(a, b)
            default: _ = try huberLoss(a, b)
            }
        }
        guard case let .shapeMismatch(op, shapes, _) = error else {
            Issue.record("expected shapeMismatch, got \(String(describing: error))")
            return
        }
        #expect(op == name)
        #expect(shapes == [[2, 3], [3, 2]])
    }

    // MARK: Accuracy

    @Test func accuracyCountsRowsWhoseArgmaxIsTheLabel() throws {
        let z = try Tensor([[1, 2, 0], [3, 0, 0], [0, 0, 5], [1, 0, 2]])
        // argmax per row: 1, 0, 2, 2.
        #expect(try accuracy(z, Tensor([1, 0, 0, 2])) == 0.75)
        #expect(try accuracy(z, Tensor([1, 0, 2, 2])) == 1)
        #expect(try accuracy(z, Tensor([0, 1, 0, 0])) == 0)
        let error = #expect(throws: TensorError.self) { _ = try accuracy(z, Tensor([1, 0, 3, 2])) }
        #expect(error?.description.contains("label 3 at position 2") == true, "\(String(describing: error))")
        #expect(throws: TensorError.self) { _ = try accuracy(Tensor([1, 2]), Tensor([0])) }
    }

    // MARK: Gradients against finite differences

    @Test(arguments: [Reduction.mean, .sum, .none])
    func crossEntropyGradientMatchesFiniteDifferences(reduction: Reduction) throws {
        // GradientCheck's default tolerances (atol 1e-3, rtol 1e-2; derivation in GradientCheck).
        for smoothing: Float in [0, 0.1] {
            let report = try GradientCheck.check(at: [logits]) { xs in
                try crossEntropy(xs[0], labels, reduction: reduction, labelSmoothing: smoothing)
            }
            #expect(report.passed, "smoothing \(smoothing): \(report)")
        }
    }

    @Test func nllAndBinaryCrossEntropyGradientsMatchFiniteDifferences() throws {
        // GradientCheck's default tolerances (atol 1e-3, rtol 1e-2).
        let logp = try logSoftmax(logits, axis: 1)
        let nll = try GradientCheck.check(at: [logp]) { xs in try nllLoss(xs[0], labels, reduction: .sum) }
        #expect(nll.passed, "nllLoss: \(nll)")

        let z = Tensor([-3, -0.5, 0.2, 1.7, 4])
        let y = Tensor([0, 1, 0.3, 0.8, 1])
        let bce = try GradientCheck.check(at: [z, y]) { xs in
            try binaryCrossEntropyWithLogits(xs[0], xs[1], reduction: .none)
        }
        #expect(bce.passed, "binaryCrossEntropyWithLogits: \(bce)")
    }

    @Test func regressionLossGradientsMatchFiniteDifferences() throws {
        // Differences [0.7, -1.6, 0.3, -0.45, 2.2]: at least 0.1 from the kinks of l1 (0) and of
        // Huber with δ = 1 (±1), so the central difference with eps = 1e-2 never straddles one.
        let p = Tensor([0.7, -1.1, 0.8, 0.05, 2.7])
        let t = Tensor([0, 0.5, 0.5, 0.5, 0.5])
        // GradientCheck's default tolerances (atol 1e-3, rtol 1e-2).
        for reduction in [Reduction.mean, .sum, .none] {
            let mse = try GradientCheck.check(at: [p, t]) { xs in try mseLoss(xs[0], xs[1], reduction: reduction) }
            #expect(mse.passed, "mseLoss \(reduction): \(mse)")
            let l1 = try GradientCheck.check(at: [p, t]) { xs in try l1Loss(xs[0], xs[1], reduction: reduction) }
            #expect(l1.passed, "l1Loss \(reduction): \(l1)")
            let huber = try GradientCheck.check(at: [p, t]) { xs in
                try huberLoss(xs[0], xs[1], delta: 1, reduction: reduction)
            }
            #expect(huber.passed, "huberLoss \(reduction): \(huber)")
        }
    }

    // MARK: Label and shape errors

    @Test func outOfRangeLabelsAreNamedWithTheirPosition() {
        for (bad, message) in [([0, 4, 1], "label 4 at position 1"),
                               ([0, 1, -1], "label -1 at position 2")] as [([Float], String)] {
            let error = #expect(throws: TensorError.self) { _ = try crossEntropy(logits, Tensor(bad)) }
            #expect(error?.description.contains(message) == true, "\(String(describing: error))")
            #expect(error?.description.contains("the 4 classes are 0 to 3") == true)
        }
    }

    @Test func nonIntegerLabelsAreNamedWithTheirPosition() {
        let error = #expect(throws: TensorError.self) { _ = try crossEntropy(logits, Tensor([1.5, 0, 2])) }
        #expect(error?.description.contains("label 1.5 at position 0") == true, "\(String(describing: error))")
        let nanError = #expect(throws: TensorError.self) { _ = try nllLoss(logits, Tensor([0, .nan, 2])) }
        #expect(nanError?.description.contains("at position 1") == true, "\(String(describing: nanError))")
    }

    @Test func labelCountOrRankMismatchIsAnError() throws {
        let short = #expect(throws: TensorError.self) { _ = try crossEntropy(logits, Tensor([0, 1])) }
        #expect(short?.description.contains("3 class labels") == true, "\(String(describing: short))")
        #expect(short?.description.contains("[2]") == true)
        let column = try Tensor([[0], [1], [2]])
        #expect(throws: TensorError.self) { _ = try crossEntropy(logits, column) }
    }

    @Test func logitsMustBeRankTwo() {
        for bad in [Tensor([1, 2, 3]), Tensor.zeros([2, 3, 4]), Tensor(1)] {
            let error = #expect(throws: TensorError.self) { _ = try crossEntropy(bad, Tensor([0])) }
            #expect(error?.description.contains("logits must be [batch, classes]") == true,
                    "\(String(describing: error))")
        }
    }
}
