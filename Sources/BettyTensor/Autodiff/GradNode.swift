import Synchronization

/// One recorded operation: its inputs (edges and saved values at once) and, for rules that need it,
/// its output.
///
/// Holding the input tensors, not just their nodes, is what makes higher-order gradients work: a
/// backward rule written in tensor operations on tracked inputs is itself recorded when
/// `createGraph` is on.
@usableFromInline
final class GradNode {
    /// Creation order: an operation's inputs are always older than it, so a backward pass can skip
    /// everything older than the oldest tensor it differentiates with respect to.
    static let counter = Atomic<Int>(0)
    let id = GradNode.counter.wrappingAdd(1, ordering: .relaxed).newValue

    // Scratch for one backward pass (see `Autograd.run`). Only the pass's own thread touches them,
    // so the runtime's exclusivity bookkeeping (7% of a small hypergradient step) buys nothing.
    // Declared first, next to the inputs: a pass reads these and the inputs' nodes on every visit,
    // and a large graph (an unrolled window) does not fit in cache, so they share cache lines.
    @exclusivity(unchecked) var mark = 0
    @exclusivity(unchecked) var targetPass = 0
    @exclusivity(unchecked) var needed = false
    /// Set after a backward pass without `retainGraph` dropped the saved values.
    @usableFromInline @exclusivity(unchecked) var released = false
    @usableFromInline @exclusivity(unchecked) var a: Tensor?
    @usableFromInline @exclusivity(unchecked) var b: Tensor?
    // The inputs' nodes, unretained (`a` and `b` hold them): a backward pass reads these for every
    // node, and reading them through the optional tensors copied each tensor (with its retains).
    // Set by `recording(...)`, not by the initialiser: one more argument made Swift pass the
    // optional tensors indirectly and move them through generic value witnesses (+30 ns a node).
    @usableFromInline @exclusivity(unchecked) var aRef: Unmanaged<GradNode>?
    @usableFromInline @exclusivity(unchecked) var bRef: Unmanaged<GradNode>?
    var aNode: GradNode? { aRef?._withUnsafeGuaranteedRef { $0 } }
    var bNode: GradNode? { bRef?._withUnsafeGuaranteedRef { $0 } }
    /// Further inputs (concat) or constants a rule needs (a condition, an index tensor).
    @usableFromInline @exclusivity(unchecked) var extra: [Tensor]

    @usableFromInline let op: Op
    /// Shape of the output.
    @usableFromInline let shape: Shape
    /// The output's storage, for rules that use the result (exp, tanh, softmax, ...). Storage, not a
    /// tensor: a tensor would hold this node and form a cycle.
    @usableFromInline @exclusivity(unchecked) var output: TensorStorage?
    @exclusivity(unchecked) var pending: Tensor?

    // Leaf state.
    @usableFromInline @exclusivity(unchecked) var grad: Tensor?
    @usableFromInline @exclusivity(unchecked) var version: Int32 = 0

    // Not inlinable: initialising stored properties from inlined code costs dynamic exclusivity
    // checks (a third of a small operation's time).
    @usableFromInline
    init(op: Op, shape: Shape, a: Tensor?, b: Tensor?, extra: [Tensor] = [], output: TensorStorage? = nil) {
        self.op = op
        self.shape = shape
        self.a = a
        self.b = b
        self.extra = extra
        self.output = output
    }

    /// Releasing a graph frees each node from its user's deinit, one stack frame per node: a long chain
    /// (an unrolled window of thousands of steps) would overflow the stack. So the inputs this node
    /// holds the last reference to are taken into a work list and freed here, one at a time, each
    /// after its own inputs were taken the same way.
    deinit {
        var pending: [GradNode] = []
        GradNode.takeLastReferences(from: self, into: &pending)
        while let node = pending.popLast() {
            GradNode.takeLastReferences(from: node, into: &pending)
        }
    }

    private static func takeLastReferences(from node: GradNode, into pending: inout [GradNode]) {
        take(&node.a, into: &pending)
        take(&node.b, into: &pending)
        take(&node.grad, into: &pending)
        take(&node.pending, into: &pending)
        if !node.extra.isEmpty {
            var extra = node.extra
            node.extra = []
            for i in extra.indices { take(&extra[i].node, into: &pending) }
        }
    }

    private static func take(_ tensor: inout Tensor?, into pending: inout [GradNode]) {
        guard tensor?.node != nil, var moved = tensor.take() else { return }
        take(&moved.node, into: &pending)
    }

    private static func take(_ reference: inout GradNode?, into pending: inout [GradNode]) {
        guard var node = reference.take() else { return }
        if isKnownUniquelyReferenced(&node) { pending.append(node) }
    }

    /// The node of every tensor a step plan's replay makes inside the graph (`StepPlan`): it says
    /// "requires a gradient" to the code that asks, and is never differentiated.
    @usableFromInline
    nonisolated(unsafe) static let replayed = GradNode(op: .replayed, shape: .scalar, a: nil, b: nil)

    init(leafOf shape: Shape) {
        self.op = .leaf
        self.shape = shape
        self.extra = []
    }

    @inlinable
    var isLeaf: Bool { if case .leaf = op { true } else { false } }

    /// The output as a tensor of this node, for rules that differentiate through their result.
    func outputTensor() -> Tensor {
        Tensor(storage: output!, shape: shape, node: self)
    }

    /// A node recording `op` on inputs `a` and `b`: the only way operations create one.
    @inlinable
    static func recording(_ op: Op, shape: Shape, a: Tensor?, aNode: GradNode?, b: Tensor?, bNode: GradNode?,
                          extra: [Tensor] = [], output: TensorStorage? = nil) -> GradNode {
        let node = GradNode(op: op, shape: shape, a: a, b: b, extra: extra, output: output)
        node.aRef = aNode.map { Unmanaged.passUnretained($0) }
        node.bRef = bNode.map { Unmanaged.passUnretained($0) }
        return node
    }

    /// The graph nodes of the inputs, without building an array (the walk visits every node thrice).
    @inline(__always)
    func forEachInputNode(_ body: (GradNode) -> Void) {
        assert((aRef == nil) == (a?.node == nil) && (bRef == nil) == (b?.node == nil),
               "\(op.name): node made without GradNode.recording, its input references are unset")
        if let n = aNode { body(n) }
        if let n = bNode { body(n) }
        // `extra` first: it sits with the inputs, while the operation's tag is another cache line.
        if !extra.isEmpty, case .concat = op { for t in extra { if let n = t.node { body(n) } } }
    }

    func release() {
        aRef = nil
        bRef = nil
        a = nil
        b = nil
        extra = []
        output = nil
        released = true
    }
}

extension Tensor {
    /// Wraps a freshly computed result, recording `op` when recording is on and an input is tracked.
    @inlinable
    static func result(
        _ storage: TensorStorage, _ shape: Shape, _ op: @autoclosure () -> Op,
        _ a: Tensor, _ b: Tensor? = nil, extra: [Tensor] = [], saveOutput: Bool = false
    ) -> Tensor {
        guard (a.node != nil || b?.node != nil), GradMode.isEnabled else {
            return Tensor(storage: storage, shape: shape)
        }
        return recorded(op(), storage, shape, a, b, extra: extra, saveOutput: saveOutput)
    }

    /// A result that takes part in the graph: a new node, or what the current step plan says.
    @inlinable
    static func recorded(_ op: Op, _ storage: TensorStorage, _ shape: Shape, _ a: Tensor?, _ b: Tensor?,
                         extra: [Tensor] = [], saveOutput: Bool = false) -> Tensor {
        if let plan = StepPlan.current,
           let t = plan.node(op, storage, shape, a, b, extra, saveOutput: saveOutput) {
            return t
        }
        let node = GradNode.recording(op, shape: shape, a: a, aNode: a?.node, b: b, bNode: b?.node, extra: extra,
                                      output: saveOutput ? storage : nil)
        return Tensor(storage: storage, shape: shape, node: node)
    }
}
