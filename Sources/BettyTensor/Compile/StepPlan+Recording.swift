// Recording: the code runs on the dynamic tape while the plan notes each kernel call, recorded
// operation and backward pass.

extension StepPlan {
    @usableFromInline typealias Inputs = (Unmanaged<TensorStorage>?, Unmanaged<TensorStorage>?, Unmanaged<TensorStorage>?)

    /// Entry point of every kernel call while a plan is current.
    @usableFromInline
    func kernel(_ inputs: Inputs, outputs: (Int, Int), scalars: (Float, Float),
                run: (KernelOperands, UnsafePointer<Float>) -> Void,
                record: () -> (KernelOperands, UnsafePointer<Float>) -> Void,
                describe: () -> KernelSignature) -> (TensorStorage, TensorStorage?) {
        switch mode {
        case .recording:
            var signature = describe()
            signature.outputs = outputs
            return recordKernel(signature, inputs, scalars, record())
        case .replaying: return replayKernel(inputs, outputs: outputs, scalars: scalars, run, describe)
        case .idle, .passive: return StepPlan.direct(inputs, outputs: outputs, scalars: scalars, run)
        }
    }

    /// Input `i` (0 to 2) of a kernel call, if it has one.
    @inline(__always)
    static func input(_ inputs: Inputs, _ i: Int) -> TensorStorage? {
        (i == 0 ? inputs.0 : i == 1 ? inputs.1 : inputs.2)?.takeUnretainedValue()
    }

    static func storages(_ inputs: Inputs) -> [TensorStorage] {
        (0..<3).compactMap { input(inputs, $0) }
    }

    /// The kernel call without the plan (after a divergence).
    static func direct(_ inputs: Inputs, outputs: (Int, Int), scalars: (Float, Float),
                       _ run: (KernelOperands, UnsafePointer<Float>) -> Void) -> (TensorStorage, TensorStorage?) {
        let first = TensorStorage.allocate(count: outputs.0, traced: true)
        let second = outputs.1 > 0 ? TensorStorage.allocate(count: outputs.1, traced: true) : nil
        var pointers = storages(inputs).map(\.pointer)
        pointers.append(first.pointer)
        if let second { pointers.append(second.pointer) }
        pointers.withUnsafeMutableBufferPointer { p in
            withUnsafePointer(to: scalars) { s in
                s.withMemoryRebound(to: Float.self, capacity: 2) { run(p.baseAddress!, $0) }
            }
        }
        return (first, second)
    }

    private func recordKernel(_ signature: KernelSignature, _ given: Inputs, _ scalars: (Float, Float),
                              _ body: @escaping RecordedKernel) -> (TensorStorage, TensorStorage?) {
        let inputs = StepPlan.storages(given)
        var operands = inputs.map(operand)
        let inputCount = operands.count
        var outputs: [TensorStorage] = [newSlot(signature.outputs.0)]
        if signature.outputs.1 > 0 { outputs.append(newSlot(signature.outputs.1)) }
        for o in outputs { operands.append(Operand(o.planTag & 0xffff_ffff) - 1) }
        let recorded = RecordedCall(signature: signature, inputCount: inputCount, operands: operands,
                                    scalars: scalars, body: body)
        let k = kernels.count
        kernels.append(recorded)
        for (i, s) in (inputs + outputs).enumerated() {
            recorded.pointers[i] = s.pointer
            let o = operands[i]
            if o >= 0 { slotUses[Int(o)].append((Int32(k), Int32(i))) }
        }
        if !openSpan { entries.append(.kernel(Int32(k))) }
        withExtendedLifetime(inputs) { body(recorded.pointers, recorded.scalars) }
        return (outputs[0], outputs.count > 1 ? outputs[1] : nil)
    }

    private func newSlot(_ count: Int) -> TensorStorage {
        let s = TensorStorage.allocate(count: count, traced: true)
        s.planTag = (id << 32) | UInt64(slots.count + 1)
        slots.append(s)
        slotUses.append([])
        return s
    }

    /// The operand a storage is: a slot of this plan, or an external seen before or new.
    func operand(_ storage: TensorStorage) -> Operand {
        let tag = storage.planTag
        if tag >> 32 == id { return Operand(tag & 0xffff_ffff) - 1 }
        let key = ObjectIdentifier(storage)
        if let j = externalIndex[key] { return StepPlan.external(j) }
        let j = externalCount
        externalCount += 1
        externalIndex[key] = j
        externalStorages.append(storage)
        if constantCandidates.contains(key) {
            constants.append((j, storage))
        } else if openSpan {
            refuse("a backward pass reads a tensor that no operation of the step made or read (a graph recorded before the step began)")
        }
        return StepPlan.external(j)
    }

    func tensorOperand(_ t: Tensor) -> TensorOperand {
        TensorOperand(storage: operand(t.storage), shape: t.shape, role: role(of: t))
    }

    private func role(of t: Tensor) -> GradRole {
        guard let node = t.node else { return .none }
        guard node.isLeaf else {
            if node.id < firstNodeID {
                refuse("the step uses a tensor whose graph was recorded before the step began (an open unrolled window)")
            }
            return .operation
        }
        let key = ObjectIdentifier(node)
        if let i = leafIndex[key] { return .leaf(i) }
        let i = leafNodes.count
        leafIndex[key] = i
        leafNodes.append(node)
        return .leaf(i)
    }

    /// A storage made outside a kernel call: inside a backward pass, a constant is kept and anything
    /// else cannot be replayed.
    @usableFromInline
    func untracedAllocation(_ storage: TensorStorage, constant: Bool, site: StaticString) {
        guard mode == .recording, openSpan else { return }
        if constant {
            constantCandidates.insert(ObjectIdentifier(storage))
        } else {
            refuse("a backward pass computed a value outside a recorded kernel (\(site))")
        }
    }

    /// Records an operation of the graph (recording) or checks it against the recording (replaying).
    /// Returns the tensor to use, or nil when the dynamic tape should record it itself.
    @usableFromInline
    func node(_ op: Op, _ storage: TensorStorage, _ shape: Shape, _ a: Tensor?, _ b: Tensor?, _ extra: [Tensor],
              saveOutput: Bool) -> Tensor? {
        switch mode {
        case .recording:
            let node = GradNode.recording(op, shape: shape, a: a, aNode: a?.node, b: b, bNode: b?.node, extra: extra,
                                          output: saveOutput ? storage : nil)
            if !openSpan {
                let record = NodeRecord(op: op, output: operand(storage), shape: shape,
                                        inputs: [a.map(tensorOperand), b.map(tensorOperand)] + extra.map(tensorOperand))
                entries.append(.node(Int32(nodes.count)))
                nodes.append(record)
            }
            return Tensor(storage: storage, shape: shape, node: node)
        case .replaying:
            return replayNode(op, storage, shape, a, b, extra)
        case .idle, .passive:
            return nil
        }
    }

    /// Records one backward pass: `body` runs it on the dynamic tape.
    func recordBackward(output: Tensor, inputs: [Tensor], gradOutputs: Tensor?, flags: BackwardFlags,
                        _ body: () throws(TensorError) -> [Tensor]) throws(TensorError) -> [Tensor] {
        guard !openSpan else {
            refuse("a backward pass started inside another")
            return try body()
        }
        let outputOperand = tensorOperand(output)
        let seed = gradOutputs.map(tensorOperand)
        let targets = inputs.map(tensorOperand)
        openSpan = true
        let first = kernels.count
        defer { openSpan = false }
        let results = try body()
        spans.append(BackwardSpan(output: outputOperand, seed: seed, targets: targets, flags: flags,
                                  kernels: first..<kernels.count,
                                  results: results.map { (operand($0.storage), $0.shape, $0.node != nil) }))
        entries.append(.backward(Int32(spans.count - 1)))
        return results
    }

    /// Something the plan cannot record: refuses the recording, or leaves a replay.
    func unsupported(_ what: @autoclosure () -> String) {
        if mode == .recording { refuse("the step calls \(what()), which a compiled step does not record") }
        if mode == .replaying { diverge("a call to \(what())") }
    }

    /// Called by a recorded backward pass with the nodes it walks.
    func walked(_ node: GradNode) {
        if !node.isLeaf && node.id < firstNodeID {
            refuse("a backward pass runs into a graph recorded before the step began (an open unrolled window)")
        }
    }

    func finishRecording() {
        // Only what a replay needs stays: the externals are bound afresh by each replay.
        externalIndex = [:]
        externalStorages = []
        leafIndex = [:]
        leafCount = leafNodes.count
        leafNodes = []
        constantCandidates = []
        if entries.isEmpty { refuse("the step made no tensor operation") }
    }
}
