import Testing
import BettyTensor
import _TestSupport

// Every bad input gives a thrown TensorError whose description names the shapes or axis and says
// how to fix the call, and no error leaves its inputs changed.

/// What a caller can observe of a tensor: its shape, its bits, whether it is tracked, its gradient.
private struct Snapshot: Equatable {
    let shape: Shape
    let bits: [UInt32]
    let requiresGrad: Bool
    let gradBits: [UInt32]?

    init(_ t: Tensor) {
        shape = t.shape
        bits = t.scalars.map(\.bitPattern)
        requiresGrad = t.requiresGrad
        gradBits = t.grad?.scalars.map(\.bitPattern)
    }
}

/// Runs `body`, expects a TensorError whose description contains every fragment, and expects the
/// given tensors to be unchanged afterwards. Returns the error for further checks.
@discardableResult
private func expectError(
    containing fragments: [String], unchanged tensors: [Tensor] = [],
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> TensorError? {
    let before = tensors.map(Snapshot.init)
    let error = #expect(throws: TensorError.self, sourceLocation: sourceLocation) { try body() }
    if let error {
        let text = error.description
        for fragment in fragments {
            #expect(text.contains(fragment), "\"\(text)\" does not mention \"\(fragment)\"", sourceLocation: sourceLocation)
        }
    }
    let after = tensors.map(Snapshot.init)
    #expect(before == after, "an input changed after the error", sourceLocation: sourceLocation)
    return error
}

private let broadcastHint = "sizes must match or one must be 1"

@Suite struct AutodiffErrorTests {
    // MARK: Shapes, axes, indices

    @Test func nonBroadcastableShapesNameBothShapes() throws {
        let a = Tensor.ones([2, 3]).requiringGrad(), b = Tensor.full([4, 3], 2)
        let ops: [(String, () throws -> Tensor)] = [
            ("add", { try a + b }), ("sub", { try a - b }), ("mul", { try a * b }), ("div", { try a / b }),
            ("where", { try Tensor.where(Tensor.ones([2, 3]), a, b) }), ("<", { try a .< b }),
        ]
        for (name, op) in ops {
            let error = expectError(containing: ["[2, 3]", "[4, 3]", broadcastHint], unchanged: [a, b]) { _ = try op() }
            #expect(error?.description.hasPrefix(name) == true, "\(String(describing: error)) should start with \(name)")
        }
        // Trailing alignment: [2, 4] against [3] fails on the last dimension (4 vs 3).
        expectError(containing: ["[2, 4]", "[3]", "4 vs 3"]) { _ = try Tensor.ones([2, 4]) * Tensor.ones([3]) }
        // broadcast(to:) that would need to shrink a dimension.
        expectError(containing: ["[2, 1]", "[1, 4]", "size-1"]) { _ = try Tensor.ones([2, 1]).broadcast(to: [1, 4]) }
        expectError(containing: ["[2, 3]", "[2, 4]"]) { _ = try Tensor.ones([2, 3]).broadcast(to: [2, 4]) }
        expectError(containing: ["[2, 3]", "[3, 1]"]) { _ = try Tensor.ones([2, 3]).sum(toShape: [3, 1]) }
    }

    @Test func compoundAssignmentWithBadShapeLeavesTargetUnchanged() throws {
        var a = Tensor([1, 2, 3])
        let b = Tensor([1, 2])
        let before = Snapshot(a)
        expectError(containing: ["[3]", "[2]"], unchanged: [b]) { try a += b }
        expectError(containing: ["[3]", "[2]"], unchanged: [b]) { try a -= b }
        #expect(Snapshot(a) == before)
    }

    @Test func matmulInnerDimensionMismatch() throws {
        let a = Tensor.ones([2, 3]).requiringGrad(), b = Tensor.ones([4, 5])
        let error = expectError(containing: ["matmul", "[2, 3]", "[4, 5]", "3 vs 4", "transpose or reshape"], unchanged: [a, b]) {
            _ = try a.matmul(b)
        }
        if case .shapeMismatch(let op, let shapes, _)? = error {
            #expect(op == "matmul")
            #expect(shapes == [[2, 3], [4, 5]])
        } else {
            Issue.record("expected shapeMismatch, got \(String(describing: error))")
        }
        // With a transpose, the message says which operand was transposed.
        expectError(containing: ["transposed [3, 2]", "[4, 5]", "3 vs 4"]) {
            _ = try Tensor.ones([3, 2]).matmul(b, transposeA: true)
        }
        // Batched operands with different batch dimensions.
        expectError(containing: ["[2, 3, 4]", "[3, 4, 5]", "[2]", "[3]"]) {
            _ = try Tensor.ones([2, 3, 4]).matmul(Tensor.ones([3, 4, 5]))
        }
        // A vector on the left of a matrix with the wrong height.
        expectError(containing: ["[1, 3]", "[4, 5]", "3 vs 4"]) { _ = try Tensor([1, 2, 3]).matmul(b) }
    }

    @Test(arguments: [2, 5, -3, -7])
    func axisOutOfRange(axis: Int) throws {
        let x = Tensor.ones([2, 3]).requiringGrad()
        let calls: [(String, () throws -> Tensor)] = [
            ("sum", { try x.sum(axis: axis) }),
            ("mean", { try x.mean(axis: axis) }),
            ("max", { try x.max(axis: axis) }),
            ("softmax", { try softmax(x, axis: axis) }),
            ("logSoftmax", { try logSoftmax(x, axis: axis) }),
            ("concat", { try Tensor.concat([x, x], axis: axis) }),
            ("slice", { try x.slice(axis: axis, 0..<1) }),
            ("indexSelect", { try x.indexSelect(axis: axis, indices: [0]) }),
            ("gather", { try x.gather(axis: axis, index: Tensor.zeros([2, 3])) }),
            ("argmax", { try x.argmax(axis: axis) }),
        ]
        for (op, call) in calls {
            let error = expectError(containing: ["axis \(axis)", "rank 2", "valid: -2..<2"], unchanged: [x]) { _ = try call() }
            #expect(error == .axisOutOfRange(op: op, axis: axis, rank: 2), "\(op): \(String(describing: error))")
        }
        // Permutations name the bad axis too.
        expectError(containing: ["axis \(axis)", "rank 2"], unchanged: [x]) { _ = try x.permuted([0, axis]) }
    }

    @Test func validNegativeAxesAreAccepted() throws {
        // Guards the range check from the other side: -rank and -1 are valid.
        let x = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(try x.sum(axis: -2).scalars == [5, 7, 9])
        #expect(try x.sum(axis: -1).scalars == [6, 15])
    }

    @Test func indexOutOfRange() throws {
        let x = Tensor.ones([3, 4]).requiringGrad()
        var error = expectError(containing: ["indexSelect", "index 5", "0..<3"], unchanged: [x]) {
            _ = try x.indexSelect(axis: 0, indices: [0, 5])
        }
        #expect(error == .indexOutOfRange(op: "indexSelect(axis: 0)", index: 5, bound: 3))
        expectError(containing: ["index -1", "0..<4"], unchanged: [x]) { _ = try x.indexSelect(axis: -1, indices: [-1]) }

        let index = try Tensor(shape: [3, 2], scalars: [0, 1, 4, 0, 2, 3])
        error = expectError(containing: ["gather", "index 4", "0..<4"], unchanged: [x, index]) {
            _ = try x.gather(axis: 1, index: index)
        }
        #expect(error == .indexOutOfRange(op: "gather", index: 4, bound: 4))
        expectError(containing: ["index -1", "0..<3"], unchanged: [x]) {
            _ = try x.gather(axis: 0, index: Tensor.full([1, 4], -1))
        }
        expectError(containing: ["gather", "1.5", "not an integer"], unchanged: [x]) {
            _ = try x.gather(axis: 1, index: Tensor.full([3, 1], 1.5))
        }
        // An index tensor whose other dimensions do not match the input.
        expectError(containing: ["gather", "[3, 4]", "[2, 2]", "except along axis 1"], unchanged: [x]) {
            _ = try x.gather(axis: 1, index: Tensor.zeros([2, 2]))
        }
    }

    @Test func reshapeToWrongCount() throws {
        let x = Tensor.ones([2, 3]).requiringGrad()
        let error = expectError(containing: ["reshape", "[2, 3]", "[4, 2]", "6 vs 8"], unchanged: [x]) {
            _ = try x.reshaped(to: [4, 2])
        }
        #expect(error == .shapeMismatch(op: "reshape", shapes: [[2, 3], [4, 2]],
                                        hint: "a reshape keeps the element count (6 vs 8)"))
        expectError(containing: ["[-1, 4]", "6 elements"], unchanged: [x]) { _ = try x.reshaped(to: [-1, 4]) }
        expectError(containing: ["[-1, -1]", "at most one -1"], unchanged: [x]) { _ = try x.reshaped(to: [-1, -1]) }
    }

    // MARK: grad and backward

    @Test func gradOfNonScalarNeedsGradOutputs() throws {
        let x = Tensor([1, 2, 3]).requiringGrad()
        let y = x * 2
        expectError(containing: ["shape [3]", "gradOutputs", "sum()"], unchanged: [x, y]) { _ = try grad(of: y, wrt: [x]) }
        expectError(containing: ["shape [3]", "gradOutputs"], unchanged: [x, y]) { try y.backward() }
        #expect(x.grad == nil)
        // The graph was not consumed by the failed calls: a correct call still works.
        let g = try grad(of: y, wrt: [x], gradOutputs: Tensor([1, 10, 100]))
        #expect(g[0].scalars == [2, 20, 200])
    }

    @Test func gradOutputsOfTheWrongShape() throws {
        let x = Tensor.ones([2, 3]).requiringGrad()
        let y = x * 3
        let seed = Tensor.ones([3, 2])
        let error = expectError(containing: ["[2, 3]", "[3, 2]", "gradOutputs must have the output's shape"], unchanged: [x, y, seed]) {
            _ = try grad(of: y, wrt: [x], gradOutputs: seed)
        }
        #expect(error == .shapeMismatch(op: "grad", shapes: [[2, 3], [3, 2]], hint: "gradOutputs must have the output's shape"))
        expectError(containing: ["[2, 3]", "[3, 2]"], unchanged: [x, y, seed]) { try y.backward(gradOutput: seed) }
        #expect(x.grad == nil)
        // Same element count but a different rank is still the wrong shape.
        expectError(containing: ["[6]"], unchanged: [x, y]) { _ = try grad(of: y, wrt: [x], gradOutputs: Tensor.ones([6])) }
        let g = try grad(of: y, wrt: [x], gradOutputs: Tensor.ones([2, 3]))
        #expect(g[0].scalars == Array(repeating: 3, count: 6))
    }

    @Test func gradWrtUnusedTensor() throws {
        let x = Tensor([1, 2, 3]).requiringGrad()
        let unused = Tensor([5, 6, 7, 8]).requiringGrad()
        let y = try (x * x).sum()
        let error = expectError(containing: ["input 1", "shape [4]", "not used", "allowUnused: true"], unchanged: [x, unused]) {
            _ = try grad(of: y, wrt: [x, unused])
        }
        if case .notDifferentiable? = error {} else { Issue.record("expected notDifferentiable, got \(String(describing: error))") }

        let fresh = try (x * x).sum()
        let g = try grad(of: fresh, wrt: [x, unused], allowUnused: true)
        #expect(g[0].scalars == [2, 4, 6])
        #expect(g[1].shape == [4])
        #expect(g[1].scalars == [0, 0, 0, 0])
    }

    @Test func retryWithAllowUnusedAfterUnusedError() throws {
        // The unused-input error is the caller's to fix by passing allowUnused: true; retrying on the
        // same output must then give the true gradient, not silently zeros from a consumed graph.
        let x = Tensor([1, 2, 3]).requiringGrad()
        let unused = Tensor([5, 6]).requiringGrad()
        let y = try (x * x).sum()
        expectError(containing: ["not used"], unchanged: [x, unused]) { _ = try grad(of: y, wrt: [x, unused]) }
        do {
            let g = try grad(of: y, wrt: [x, unused], allowUnused: true)
            #expect(g[0].scalars == [2, 4, 6], "retry after the error gave \(g[0].scalars) for the used input")
        } catch {
            // Acceptable only if it says why (the first call freed the graph).
            #expect(String(describing: error).contains("retainGraph"), "retry failed with \(error)")
        }
    }

    @Test func gradWrtTensorThatDoesNotRequireGrad() throws {
        let x = Tensor([1, 2]).requiringGrad()
        let c = Tensor([3, 4])
        let y = try (x * c).sum()
        let error = expectError(containing: ["input 1", "shape [2]", "does not require a gradient", "requiringGrad()"], unchanged: [x, c, y]) {
            _ = try grad(of: y, wrt: [x, c])
        }
        if case .notDifferentiable? = error {} else { Issue.record("expected notDifferentiable, got \(String(describing: error))") }
        // A detached copy of a leaf does not require a gradient either.
        expectError(containing: ["input 0", "requiringGrad()"]) { _ = try grad(of: y, wrt: [x.detached()]) }
        // Nothing was consumed: the valid call still works.
        #expect(try grad(of: y, wrt: [x])[0].scalars == [3, 4])
    }

    @Test func outputWithNoGraph() throws {
        let x = Tensor([1, 2]).requiringGrad()
        let constant = try (Tensor([1, 2]) * Tensor([3, 4])).sum()
        expectError(containing: ["does not depend", "requiringGrad()", "withoutGrad"], unchanged: [x, constant]) {
            _ = try grad(of: constant, wrt: [x])
        }
        expectError(containing: ["does not depend"], unchanged: [constant]) { try constant.backward() }
        // Computed from a leaf, but inside withoutGrad: no graph either.
        let untracked = try withoutGrad { try (x * x).sum() }
        #expect(!untracked.requiresGrad)
        expectError(containing: ["does not depend", "withoutGrad"], unchanged: [x, untracked]) {
            _ = try grad(of: untracked, wrt: [x], allowUnused: true)
        }
        // A detached output has no graph.
        let detached = try (x * x).sum().detached()
        expectError(containing: ["does not depend"], unchanged: [x]) { try detached.backward() }
        #expect(x.grad == nil)
    }

    @Test func secondBackwardAfterGraphWasFreed() throws {
        let x = Tensor([0.5, -1, 2]).requiringGrad()
        let y = BettyTensor.exp(x * 2).sum()
        try y.backward()
        let first = try #require(x.grad).scalars
        // Without retainGraph the first pass freed the saved values; a second pass must refuse and
        // say how to fix it, and must not touch the gradient already accumulated.
        expectError(containing: ["freed", "retainGraph: true"], unchanged: [x]) { try y.backward() }
        #expect(x.grad?.scalars == first)
        expectError(containing: ["freed", "retainGraph: true"], unchanged: [x]) { _ = try grad(of: y, wrt: [x]) }
    }

    @Test func gradAfterGraphWasFreedByGrad() throws {
        let x = Tensor([0.5, -1, 2]).requiringGrad()
        let y = try BettyTensor.sin(x * x).sum()
        _ = try grad(of: y, wrt: [x])
        expectError(containing: ["freed", "retainGraph: true"], unchanged: [x]) { _ = try grad(of: y, wrt: [x]) }
    }

    @Test func outputBuiltOnAFreedGraph() throws {
        // z reuses y, whose graph a backward pass already freed: differentiating z through y must fail.
        let x = Tensor([1, 2]).requiringGrad()
        let h = BettyTensor.tanh(x * 3)
        let y = h.sum()
        let z = try (h * h).sum()
        try y.backward()
        expectError(containing: ["freed", "retainGraph: true"], unchanged: [x]) { _ = try grad(of: z, wrt: [x]) }
    }

    @Test func secondBackwardWithRetainGraphSucceeds() throws {
        let values: [Float] = [0.5, -1, 2]
        let x = Tensor(values).requiringGrad()
        let y = BettyTensor.exp(x * 2).sum()
        try y.backward(retainGraph: true)
        try y.backward()
        // Two passes accumulate 2 · 2 exp(2x); the exp kernel is within a few ulp, so 1e-5 relative.
        for (g, v) in zip(try #require(x.grad).scalars, values) {
            let expected = 4 * Float(BettyTensor.exp(Tensor(2 * v)).scalar)
            #expect(Swift.abs(g - expected) <= 1e-5 * Swift.abs(expected), "\(g) vs \(expected)")
        }
        // grad(of:) twice with retainGraph on the first.
        let x2 = Tensor(values).requiringGrad()
        let y2 = try (x2 * x2 * x2).sum()
        let a = try grad(of: y2, wrt: [x2], retainGraph: true)[0]
        let b = try grad(of: y2, wrt: [x2])[0]
        // 3x² of exact small binary fractions is exact.
        #expect(a.scalars == values.map { 3 * $0 * $0 })
        #expect(b.scalars == a.scalars)
    }

    @Test func leafModifiedInPlaceAfterUse() throws {
        var x = Tensor([1, 2, 3]).requiringGrad()
        let y = try (x * x).sum()
        withoutGrad { x.withUnsafeMutableBufferPointer { $0[0] = 10 } }
        #expect(x.scalars == [10, 2, 3])
        #expect(x.requiresGrad && x.isLeaf)

        expectError(containing: ["modified in place", "shape [3]"], unchanged: [x]) { _ = try grad(of: y, wrt: [x]) }
        expectError(containing: ["modified in place"], unchanged: [x]) { try y.backward() }
        #expect(x.grad == nil)

        // After recomputing from the updated value, the gradient is taken at the new point.
        let y2 = try (x * x).sum()
        #expect(try grad(of: y2, wrt: [x])[0].scalars == [20, 4, 6])
    }

    @Test func modifyingAnUnrelatedLeafIsNotAnError() throws {
        // Only the leaves the gradient flows to are checked: updating a leaf the requested
        // gradient does not pass through leaves the pass valid.
        let x = Tensor([1, 2]).requiringGrad()
        var w = Tensor([3, 4]).requiringGrad()
        let y = try (x * x).sum() + (w * 0).sum()
        withoutGrad { w.withUnsafeMutableBufferPointer { $0[1] = 0 } }
        #expect(try grad(of: y, wrt: [x])[0].scalars == [2, 4])
    }
}
