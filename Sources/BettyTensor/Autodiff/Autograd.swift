import Synchronization

/// Reverse-mode differentiation over the recorded graph.
enum Autograd {
    private static let passCounter = Atomic<Int>(0)

    /// Runs one backward pass from `output` seeded with `seed` and returns the total gradient of
    /// each target reached: the given nodes, or every leaf when `targets` is nil. With `requireAll`,
    /// a target the output does not depend on is an error, raised before anything is computed.
    static func run(
        output: Tensor, seed: Tensor, targets: [GradNode]?, requireAll: Bool = false,
        createGraph: Bool, retainGraph: Bool
    ) throws(TensorError) -> [(node: GradNode, grad: Tensor)] {
        guard let root = output.node else {
            throw .notDifferentiable(message: "the output does not depend on any tensor that requires a gradient; call requiringGrad() on the inputs and compute the output outside withoutGrad { }")
        }
        // Checked before any node is marked: the shared replayed node is never written.
        if root === GradNode.replayed { throw replayedGraph }
        let pass = passCounter.wrappingAdd(1, ordering: .relaxed).newValue
        // Targets are marked on the node, not kept in a set: a pass visits every node several times.
        var oldestTarget = 0
        if let targets {
            oldestTarget = targets.first?.id ?? 0
            for t in targets {
                t.targetPass = pass
                oldestTarget = Swift.min(oldestTarget, t.id)
            }
        }
        @inline(__always) func isTarget(_ node: GradNode) -> Bool {
            targets == nil ? node.isLeaf : node.targetPass == pass
        }

        // Post-order DFS: every node comes after all of its inputs. Nodes are marked when expanded,
        // not when pushed: marking on push lets a node reached by two paths land before an input.
        // A node is needed when it is a target or leads to one; its inputs are settled by the time
        // it is emitted, so that is decided on emission, without another pass over the graph.
        // Room for a small graph up front: growing from empty reallocates several times per pass.
        // The walk holds nodes unretained: each is kept alive by the node that uses it, up to the
        // root, which `output` holds, and nothing is freed before the final loop (see there).
        // Retaining each node on every push, pop and append was a fifth of a small backward pass.
        var order: [Unmanaged<GradNode>] = []
        order.reserveCapacity(32)
        var stack: [(Unmanaged<GradNode>, Bool)] = []
        stack.reserveCapacity(32)
        stack.append((Unmanaged.passUnretained(root), false))
        while let (ref, expanded) = stack.popLast() {
            let node = ref._withUnsafeGuaranteedRef { $0 }
            if node === GradNode.replayed {
                for visited in order { visited._withUnsafeGuaranteedRef { $0.needed = false } }
                throw replayedGraph
            }
            if expanded {
                var needed = isTarget(node)
                if !needed { node.forEachInputNode { if $0.needed { needed = true } } }
                node.needed = needed
                order.append(ref)
                continue
            }
            if node.mark == pass { continue }
            node.mark = pass
            // A released node has lost its inputs: differentiating through it would silently stop.
            if node.released {
                for visited in order { visited._withUnsafeGuaranteedRef { $0.needed = false } }
                throw .notDifferentiable(message: "part of the graph (\(node.op.name)) was freed by an earlier backward pass; pass retainGraph: true to the first grad/backward call to differentiate twice")
            }
            stack.append((ref, true))
            node.forEachInputNode { n in
                // Older than every target: it cannot lead to one (an unrolled trajectory's history).
                if n.mark != pass && n.id >= oldestTarget { stack.append((Unmanaged.passUnretained(n), false)) }
            }
        }
        // The backward loop below clears each node's scratch as it goes; this covers an early exit.
        var finished = false
        defer {
            if !finished {
                for ref in order { ref._withUnsafeGuaranteedRef { $0.pending = nil; $0.needed = false } }
            }
        }
        // Checked before anything is computed or freed, so the caller can retry.
        if requireAll, let targets {
            for (i, target) in targets.enumerated() where !target.needed {
                throw .notDifferentiable(message: "input \(i) (shape \(target.shape)) is not used to compute the output; pass allowUnused: true to get zeros for it")
            }
        }
        guard root.needed else { return [] }
        if let plan = StepPlan.current, plan.mode == .recording {
            for ref in order { ref._withUnsafeGuaranteedRef { if $0.needed { plan.walked($0) } } }
        }

        let previousMode = GradMode.isEnabled
        GradMode.isEnabled = createGraph
        defer { GradMode.isEnabled = previousMode }

        root.pending = createGraph ? seed : seed.detached()
        var results: [(node: GradNode, grad: Tensor)] = []
        // Inputs come later in this order than every node that uses them, so a node's gradient is
        // complete when it is reached.
        for ref in order.reversed() {
            let node = ref._withUnsafeGuaranteedRef { $0 }
            if node.needed, let g = node.pending {
                node.pending = nil
                if isTarget(node) { results.append((node, g)) }
                if !node.isLeaf { try propagate(g, from: node) }
            }
            node.needed = false
        }
        finished = true
        // Only after the whole pass: a failure part-way leaves the graph as it was, to retry.
        // Inputs before their users: releasing a node can free only inputs already released
        // (or kept by another user still ahead in the order, or by a caller).
        if !retainGraph {
            for ref in order { ref._withUnsafeGuaranteedRef { if !$0.isLeaf { $0.release() } } }
        }
        return results
    }

    /// Applies `node`'s backward rule to its output gradient `g` and adds the results to its inputs.
    @inline(__always)
    private static func propagate(_ g: Tensor, from node: GradNode) throws(TensorError) {
        if case let .concat(axis, sizes) = node.op {
            let needs = node.extra.map { $0.node?.needed == true }
            let grads = try node.concatGradients(g, axis: axis, sizes: sizes, needs: needs)
            for (input, grad) in zip(node.extra, grads) {
                if let grad, let inputNode = input.node {
                    try accumulate(grad, into: inputNode, takenAt: input.version, from: node)
                }
            }
            return
        }
        let na = node.aNode, nb = node.bNode
        let (ga, gb) = try node.inputGradients(g, need0: na?.needed == true, need1: nb?.needed == true)
        // The version a leaf was taken at is read only for leaves: it needs the tensor itself.
        if let ga, let na { try accumulate(ga, into: na, takenAt: na.isLeaf ? node.a!.version : 0, from: node) }
        if let gb, let nb { try accumulate(gb, into: nb, takenAt: nb.isLeaf ? node.b!.version : 0, from: node) }
    }

    /// Adds `grad` to the pending gradient of an input's node, checking that a leaf was not modified
    /// since the value taken at `version` was used.
    @inline(__always)
    private static func accumulate(_ grad: Tensor, into inputNode: GradNode, takenAt version: Int32,
                                   from node: GradNode) throws(TensorError) {
        guard inputNode.needed else { return }
        if inputNode.isLeaf && version != inputNode.version {
            throw .notDifferentiable(message: "a tensor of shape \(inputNode.shape) that requires a gradient was modified in place after it was used (version \(version), now \(inputNode.version)); recompute the output after the update, or take the gradient before updating")
        }
        assert(grad.shape == inputNode.shape, "backward of \(node.op.name) gave \(grad.shape) for input \(inputNode.shape)")
        if let existing = inputNode.pending {
            inputNode.pending = try existing + grad
        } else {
            inputNode.pending = grad
        }
    }

    static let replayedGraph = TensorError.notDifferentiable(message: "this tensor was computed by a replayed compiled step, which keeps no graph; take its gradient inside the step, or run the step without compiling it")

    static func seed(for output: Tensor, _ gradOutput: Tensor?) throws(TensorError) -> Tensor {
        if let gradOutput {
            guard gradOutput.shape == output.shape else {
                throw .shapeMismatch(op: "grad", shapes: [output.shape, gradOutput.shape],
                    hint: "gradOutputs must have the output's shape")
            }
            return gradOutput
        }
        guard output.count == 1 else {
            throw .notDifferentiable(message: "the output has shape \(output.shape); the gradient of a non-scalar needs gradOutputs (a tensor of the same shape), or reduce it first with sum() or mean()")
        }
        return .ones(output.shape)
    }
}

/// Gradients of `output` with respect to each of `inputs` (PyTorch's `torch.autograd.grad`).
///
/// - Parameters:
///   - gradOutputs: the vector in the vector-Jacobian product; required when `output` is not a scalar.
///   - createGraph: record the backward pass, so the gradients can be differentiated again
///     (Hessian-vector products, gradients through unrolled updates).
///   - retainGraph: keep the graph for another pass; defaults to `createGraph`.
///   - allowUnused: return zeros for an input the output does not depend on, instead of throwing.
public func grad(
    of output: Tensor, wrt inputs: [Tensor], gradOutputs: Tensor? = nil,
    createGraph: Bool = false, retainGraph: Bool? = nil, allowUnused: Bool = false
) throws(TensorError) -> [Tensor] {
    for (i, input) in inputs.enumerated() where input.node == nil {
        throw .notDifferentiable(message: "input \(i) (shape \(input.shape)) does not require a gradient; create it with requiringGrad()")
    }
    let retain = retainGraph ?? createGraph
    func differentiate() throws(TensorError) -> [Tensor] {
        let seed = try Autograd.seed(for: output, gradOutputs)
        let nodes = inputs.map { $0.node! }
        let found = try Autograd.run(output: output, seed: seed, targets: nodes, requireAll: !allowUnused,
                                     createGraph: createGraph, retainGraph: retain)
        return inputs.map { input in
            found.first { $0.node === input.node! }?.grad ?? .zeros(input.shape)
        }
    }
    guard let plan = StepPlan.current else { return try differentiate() }
    let flags = StepPlan.BackwardFlags(createGraph: createGraph, retainGraph: retain, allowUnused: allowUnused)
    if plan.mode == .recording {
        return try plan.recordBackward(output: output, inputs: inputs, gradOutputs: gradOutputs, flags: flags, differentiate)
    }
    return try plan.replayBackward(output: output, inputs: inputs, gradOutputs: gradOutputs, flags: flags)
}

/// Gradient of a scalar `output` with respect to one input.
public func grad(of output: Tensor, wrt input: Tensor, createGraph: Bool = false,
                 retainGraph: Bool? = nil) throws(TensorError) -> Tensor {
    try grad(of: output, wrt: [input], createGraph: createGraph, retainGraph: retainGraph)[0]
}

extension Tensor {
    /// Accumulates the gradient of this tensor into `.grad` of every leaf it depends on
    /// (PyTorch's `backward()`).
    ///
    /// With `createGraph: true` each leaf's `.grad` holds a graph that holds the leaf: a reference
    /// cycle, as in PyTorch. Call `zeroGrad()` (or set `.grad = nil`) when done with it, or prefer
    /// `grad(of:wrt:createGraph:)`, which returns the gradients instead of storing them.
    public func backward(gradOutput: Tensor? = nil, retainGraph: Bool? = nil, createGraph: Bool = false) throws(TensorError) {
        if let plan = StepPlan.current {
            // It stores into leaves rather than returning: a plan does not record that (yet).
            plan.unsupported("backward() (use grad(of:wrt:), which returns the gradients)")
        }
        let seed = try Autograd.seed(for: self, gradOutput)
        let found = try Autograd.run(output: self, seed: seed, targets: nil,
                                     createGraph: createGraph, retainGraph: retainGraph ?? createGraph)
        for (node, g) in found {
            if let existing = node.grad {
                node.grad = createGraph ? try existing + g : try existing.detached() + g.detached()
            } else {
                node.grad = createGraph ? g : g.detached()
            }
        }
    }
}
