// Replaying: each operation of the running code is checked against the recording and writes into
// the plan's buffers; backward passes run their recorded kernels straight through.

extension StepPlan {
    func startReplay() {
        mode = .replaying
        divergence = nil
        cursor = 0
        // A buffer someone still holds (a result kept from the last replay) is theirs now: the plan
        // takes a new one, and the old one stops being this plan's.
        for i in slots.indices where !isKnownUniquelyReferenced(&slots[i]) {
            let old = slots[i]
            let fresh = TensorStorage.allocate(count: old.count, traced: true)
            fresh.planTag = old.planTag
            old.planTag = 0
            slots[i] = fresh
            for use in slotUses[i] { kernels[Int(use.kernel)].pointers[Int(use.position)] = fresh.pointer }
        }
        // Emptied by the last `endReplay`, with their capacity kept: no allocation per step.
        bindings.append(contentsOf: repeatElement(nil, count: externalCount))
        for (j, storage) in constants { bindings[j] = storage }
        boundLeaves.append(contentsOf: repeatElement(nil, count: leafCount))
    }

    func endReplay() {
        // Data and parameters of this step are not kept alive by the plan.
        bindings.removeAll(keepingCapacity: true)
        boundLeaves.removeAll(keepingCapacity: true)
        leafUses.removeAll(keepingCapacity: true)
    }

    /// Whether `storage` is the operand recorded, binding an external seen for the first time.
    private func matches(_ storage: TensorStorage, _ expected: Operand) -> Bool {
        let tag = storage.planTag
        if expected >= 0 { return tag == (id << 32) | UInt64(expected + 1) }
        if tag >> 32 == id { return false }
        let j = StepPlan.externalIndex(expected)
        if let bound = bindings[j] { return bound === storage }
        bindings[j] = storage
        return true
    }

    private func matches(_ t: Tensor, _ expected: TensorOperand) -> Bool {
        guard t.shape == expected.shape, matches(t.storage, expected.storage) else { return false }
        switch expected.role {
        case .none:
            return t.node == nil
        case .operation:
            return t.node === GradNode.replayed
        case let .leaf(i):
            guard let node = t.node, node.isLeaf else { return false }
            if let bound = boundLeaves[i] {
                guard bound === node else { return false }
            } else {
                boundLeaves[i] = node
            }
            leafUses.append((node, t.version))
            return true
        }
    }

    @usableFromInline
    func replayKernel(_ inputs: Inputs, outputs: (Int, Int), scalars: (Float, Float),
                      _ run: (KernelOperands, UnsafePointer<Float>) -> Void,
                      _ describe: () -> KernelSignature) -> (TensorStorage, TensorStorage?) {
        let signature = describe()
        guard cursor < entries.count, case let .kernel(k) = entries[cursor] else {
            diverge(cursor < entries.count ? "a kernel call (\(signature.siteName)) where the recording has \(describeEntry(cursor))"
                                           : "a kernel call (\(signature.siteName)) after the recorded step ended")
            return StepPlan.direct(inputs, outputs: outputs, scalars: scalars, run)
        }
        let recorded = kernels[Int(k)]
        guard recorded.matches(signature, outputs: outputs) else {
            diverge("\(signature.siteName) with other shapes or parameters than recorded (\(recorded.signature.siteName))")
            return StepPlan.direct(inputs, outputs: outputs, scalars: scalars, run)
        }
        // Indexed, not a loop over an array of the three: this runs for every replayed operation.
        var position = 0
        for i in 0..<3 {
            guard let input = StepPlan.input(inputs, i) else { continue }
            guard position < recorded.inputCount, matches(input, recorded.operands[position]) else {
                diverge("\(signature.siteName) reads operand \(position + 1) from another source than recorded")
                return StepPlan.direct(inputs, outputs: outputs, scalars: scalars, run)
            }
            recorded.pointers[position] = input.pointer
            position += 1
        }
        guard position == recorded.inputCount else {
            diverge("\(signature.siteName) with \(position) inputs where the recording has \(recorded.inputCount)")
            return StepPlan.direct(inputs, outputs: outputs, scalars: scalars, run)
        }
        cursor += 1
        recorded.scalars[0] = scalars.0
        recorded.scalars[1] = scalars.1
        run(recorded.pointers, recorded.scalars)
        let first = slots[Int(recorded.operands[recorded.inputCount])]
        let second = recorded.operands.count > recorded.inputCount + 1 ? slots[Int(recorded.operands[recorded.inputCount + 1])] : nil
        return (first, second)
    }

    func replayNode(_ op: Op, _ storage: TensorStorage, _ shape: Shape, _ a: Tensor?, _ b: Tensor?, _ extra: [Tensor]) -> Tensor? {
        guard cursor < entries.count, case let .node(n) = entries[cursor] else {
            diverge(cursor < entries.count ? "a recorded \(op.name) where the recording has \(describeEntry(cursor))"
                                           : "a recorded \(op.name) after the recorded step ended")
            return nil
        }
        let record = nodes[Int(n)]
        guard record.op.isIdentical(to: op), record.shape == shape, matches(storage, record.output),
              record.inputs.count == 2 + extra.count else {
            diverge("\(op.name) where the recording has \(record.op.name), or with other parameters or shapes")
            return nil
        }
        func same(_ t: Tensor?, _ expected: TensorOperand?) -> Bool {
            switch (t, expected) {
            case (nil, nil): true
            case let (t?, e?): matches(t, e)
            default: false
            }
        }
        var sameInputs = same(a, record.inputs[0]) && same(b, record.inputs[1])
        if sameInputs && !extra.isEmpty {
            for (i, t) in extra.enumerated() where !same(t, record.inputs[2 + i]) { sameInputs = false; break }
        }
        guard sameInputs else {
            diverge("\(op.name): an input comes from another source, or takes another part in the graph, than recorded")
            return nil
        }
        cursor += 1
        return Tensor(storage: storage, shape: shape, node: GradNode.replayed)
    }

    /// Replays one backward pass, or returns nil after a divergence (the caller throws).
    func replayBackward(output: Tensor, inputs: [Tensor], gradOutputs: Tensor?, flags: BackwardFlags) throws(TensorError) -> [Tensor] {
        guard mode == .replaying else {
            throw .stepChanged(reason: divergence ?? "the step left its recording")
        }
        guard cursor < entries.count, case let .backward(s) = entries[cursor] else {
            diverge(cursor < entries.count ? "a backward pass where the recording has \(describeEntry(cursor))"
                                           : "a backward pass after the recorded step ended")
            throw .stepChanged(reason: divergence!)
        }
        let span = spans[Int(s)]
        var same = span.flags == flags && span.targets.count == inputs.count && matches(output, span.output)
        if same {
            switch (gradOutputs, span.seed) {
            case (nil, nil): break
            case let (g?, seed?): same = matches(g, seed)
            default: same = false
            }
        }
        if same { same = zip(inputs, span.targets).allSatisfy { matches($0, $1) } }
        guard same else {
            diverge("a backward pass of another output, seed or inputs than recorded")
            throw .stepChanged(reason: divergence!)
        }
        // The dynamic tape refuses a leaf changed in place after it was used; so does the replay.
        for (node, version) in leafUses where node.version != version {
            throw .notDifferentiable(message: "a tensor of shape \(node.shape) that requires a gradient was modified in place after it was used (version \(version), now \(node.version)); recompute the output after the update, or take the gradient before updating")
        }
        for k in span.kernels {
            let call = kernels[k]
            for (position, j) in call.externalInputs {
                guard let bound = bindings[j] else {
                    diverge("a backward pass reads a tensor this replay has not seen")
                    throw .stepChanged(reason: divergence!)
                }
                call.pointers[position] = bound.pointer
            }
            call.body(call.pointers, call.scalars)
        }
        var results: [Tensor] = []
        results.reserveCapacity(span.results.count)
        for result in span.results {
            let storage = result.storage >= 0 ? slots[Int(result.storage)] : bindings[StepPlan.externalIndex(result.storage)]
            guard let storage else {
                diverge("a backward pass returns a tensor this replay has not seen")
                throw .stepChanged(reason: divergence!)
            }
            results.append(Tensor(storage: storage, shape: result.shape, node: result.tracked ? GradNode.replayed : nil))
        }
        cursor += 1
        return results
    }

    private func describeEntry(_ i: Int) -> String {
        switch entries[i] {
        case let .kernel(k): "a kernel call (\(kernels[Int(k)].signature.siteName))"
        case let .node(n): "a recorded \(nodes[Int(n)].op.name)"
        case .backward: "a backward pass"
        }
    }
}
