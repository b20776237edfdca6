import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A step recorded once and replayed: every kernel call, recorded operation and backward pass of a
/// piece of code (a training step), in order, over buffers the plan owns.
///
/// `record` runs the code on the dynamic tape and keeps, besides the results, each kernel call as a
/// closure over operand pointers (`TensorStorage.compute`), each recorded operation's structure and each
/// backward pass as the range of kernel calls it made. `replay` runs the same code again: every
/// operation checks that it is the one recorded at that point (same call site, kernel, shapes,
/// parameters, and operands produced by the same earlier calls), then writes into the plan's buffer
/// instead of allocating and builds no graph node; every `grad(of:wrt:)` runs its recorded kernels
/// straight through, with no graph walk. The kernels and their order are the dynamic tape's, so the
/// numbers are the same bit for bit.
///
/// The code around the operations runs as usual (it may read values, branch, update parameters in
/// place). If it does something other than what was recorded, the first operation that differs
/// ends the replay: `divergence` says where and why, later operations run on the dynamic tape, and a
/// later backward pass throws `TensorError.stepChanged`, since it would need the graph the replayed
/// part did not build. The caller then undoes the step and records it again (`Engine` does).
///
/// Not thread-safe: record and replay on one thread at a time.
public final class StepPlan {
    // MARK: State

    enum Mode { case idle, recording, replaying, passive }

    // Stored properties skip the runtime's exclusivity checks: a replay reads several per operation,
    // and a plan is used by one thread at a time.

    private static let ids = Atomic<UInt64>(0)
    let id: UInt64
    @exclusivity(unchecked) var mode = Mode.idle

    /// Top-level events in order: kernel calls and recorded operations outside backward passes, and
    /// backward passes.
    @exclusivity(unchecked) var entries: [Entry] = []
    @exclusivity(unchecked) var kernels: [RecordedCall] = []
    @exclusivity(unchecked) var nodes: [NodeRecord] = []
    @exclusivity(unchecked) var spans: [BackwardSpan] = []
    /// The buffers the plan's kernels write, one per kernel output.
    @exclusivity(unchecked) var slots: [TensorStorage] = []
    /// Where each slot's pointer sits in the kernels' operand tables.
    @exclusivity(unchecked) var slotUses: [[(kernel: Int32, position: Int32)]] = []
    /// Storages the recorded code read but no recorded kernel wrote (data, parameters, constants).
    @exclusivity(unchecked) var externalCount = 0
    /// External operands that are constants made inside a backward pass: kept as they were.
    @exclusivity(unchecked) var constants: [(index: Int, storage: TensorStorage)] = []
    /// Leaf tensors (parameters, `requiringGrad()` values) the recorded operations used.
    @exclusivity(unchecked) var leafCount = 0

    // Recording only.
    @exclusivity(unchecked) var externalIndex: [ObjectIdentifier: Int] = [:]
    @exclusivity(unchecked) var externalStorages: [TensorStorage] = []
    @exclusivity(unchecked) var leafIndex: [ObjectIdentifier: Int] = [:]
    @exclusivity(unchecked) var leafNodes: [GradNode] = []
    @exclusivity(unchecked) var constantCandidates: Set<ObjectIdentifier> = []
    @exclusivity(unchecked) var openSpan = false
    @exclusivity(unchecked) var firstNodeID = 0

    // Replaying only.
    @exclusivity(unchecked) var cursor = 0
    @exclusivity(unchecked) var bindings: [TensorStorage?] = []
    @exclusivity(unchecked) var boundLeaves: [GradNode?] = []
    @exclusivity(unchecked) var leafUses: [(node: GradNode, version: Int32)] = []

    /// Why this plan cannot be replayed, when it cannot.
    @exclusivity(unchecked) public internal(set) var refusal: String?
    /// Where the latest replay stopped following the recording, or nil when it followed it.
    @exclusivity(unchecked) public internal(set) var divergence: String?

    public init() {
        id = StepPlan.ids.wrappingAdd(1, ordering: .relaxed).newValue
    }

    deinit {
        for k in kernels { k.deallocate() }
    }

    @usableFromInline var isReplaying: Bool { mode == .replaying }

    /// Whether `replay` can be tried: recorded, and nothing in the recording refused replay.
    public var isReady: Bool { !entries.isEmpty && refusal == nil && mode == .idle }

    /// Kernel calls recorded (backward passes included).
    public var kernelCount: Int { kernels.count }
    /// Bytes of the buffers the plan keeps between steps.
    public var bufferBytes: Int { slots.reduce(0) { $0 + $1.count * 4 } }

    // MARK: Running code under the plan

    /// Runs `body` on the dynamic tape, recording it. A plan records once.
    public func record<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        guard mode == .idle, entries.isEmpty, refusal == nil, StepPlan.current == nil else {
            refusal = refusal ?? "a plan records once, and not inside another plan's step"
            return try body()
        }
        mode = .recording
        firstNodeID = GradNode.counter.load(ordering: .relaxed) + 1
        StepPlan.current = self
        defer {
            StepPlan.current = nil
            mode = .idle
            finishRecording()
        }
        do {
            return try body()
        } catch {
            refuse("the step failed while it was recorded")
            throw error
        }
    }

    /// Runs `body` again under the recording; `divergence` tells afterwards whether it followed it.
    public func replay<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        precondition(isReady, "StepPlan.replay: the plan is not ready (\(refusal ?? "nothing recorded"))")
        precondition(StepPlan.current == nil, "StepPlan.replay: another plan's step is running on this thread")
        startReplay()
        StepPlan.current = self
        defer {
            StepPlan.current = nil
            mode = .idle
            endReplay()
        }
        return try body()
    }

    func refuse(_ reason: @autoclosure () -> String) {
        if refusal == nil { refusal = reason() }
    }

    /// Leaves the recording: later operations run on the dynamic tape.
    func diverge(_ reason: @autoclosure () -> String) {
        guard mode == .replaying else { return }
        divergence = "operation \(cursor + 1) of the recorded step: \(reason())"
        mode = .passive
    }

    // MARK: The plan of the current thread

    @usableFromInline
    static let key = threadKey("StepPlan")

    /// Threads with a plan current: while there are none, no operation asks its thread for one.
    @usableFromInline
    static let activeThreads = Atomic<Int>(0)

    /// The plan recording or replaying on this thread, if any.
    @inlinable
    static var current: StepPlan? {
        get {
            guard activeThreads.load(ordering: .relaxed) > 0 else { return nil }
            return currentOfThread
        }
        set {
            if newValue != nil { activeThreads.wrappingAdd(1, ordering: .relaxed) }
            else if currentOfThread != nil { activeThreads.wrappingSubtract(1, ordering: .relaxed) }
            currentOfThread = newValue
        }
    }

    @usableFromInline
    static var currentOfThread: StepPlan? {
        get {
            guard let raw = pthread_getspecific(key) else { return nil }
            return Unmanaged<StepPlan>.fromOpaque(raw).takeUnretainedValue()
        }
        set {
            pthread_setspecific(key, newValue.map { UnsafeRawPointer(Unmanaged.passUnretained($0).toOpaque()) })
        }
    }
}

// MARK: Recorded program

extension StepPlan {
    enum Entry {
        case kernel(Int32)
        case node(Int32)
        case backward(Int32)
    }

    /// An operand: a slot (>= 0) or an external storage (-(index + 1)).
    typealias Operand = Int32

    @inline(__always) static func external(_ j: Int) -> Operand { -Operand(j) - 1 }
    @inline(__always) static func externalIndex(_ o: Operand) -> Int { Int(-o - 1) }

    /// How a tensor took part in the graph: no node, an operation of this step, or leaf number i.
    enum GradRole: Equatable {
        case none
        case operation
        case leaf(Int)
    }

    /// A tensor as an operation recorded it: its storage, shape and role in the graph.
    struct TensorOperand {
        var storage: Operand
        var shape: Shape
        var role: GradRole
    }

    /// A kernel call as recorded.
    final class RecordedCall {
        let signature: KernelSignature
        let inputCount: Int
        let operands: [Operand]
        let pointers: KernelOperands
        let scalars: UnsafeMutablePointer<Float>
        let body: RecordedKernel

        /// Whether a call with `signature` and `outputs` is this one (read in place, not copied).
        func matches(_ signature: borrowing KernelSignature, outputs: (Int, Int)) -> Bool {
            self.signature.outputs == outputs && self.signature.matches(signature)
        }
        /// Input positions that read an external storage, with its index.
        let externalInputs: [(position: Int, index: Int)]

        init(signature: KernelSignature, inputCount: Int, operands: [Operand], scalars: (Float, Float), body: @escaping RecordedKernel) {
            self.signature = signature
            self.inputCount = inputCount
            self.operands = operands
            pointers = .allocate(capacity: Swift.max(operands.count, 1))
            self.scalars = .allocate(capacity: 2)
            self.scalars[0] = scalars.0
            self.scalars[1] = scalars.1
            self.body = body
            externalInputs = operands.prefix(inputCount).enumerated().compactMap { i, o in
                o < 0 ? (i, StepPlan.externalIndex(o)) : nil
            }
        }

        func deallocate() {
            pointers.deallocate()
            scalars.deallocate()
        }
    }

    /// An operation the graph recorded: what its backward rule reads. A class: a replay reads it
    /// in place for every operation.
    final class NodeRecord {
        let op: Op
        let output: Operand
        let shape: Shape
        let inputs: [TensorOperand?]

        init(op: Op, output: Operand, shape: Shape, inputs: [TensorOperand?]) {
            self.op = op
            self.output = output
            self.shape = shape
            self.inputs = inputs
        }
    }

    /// One `grad(of:wrt:)`: its arguments as operands, its kernels and its results.
    struct BackwardSpan {
        var output: TensorOperand
        var seed: TensorOperand?
        var targets: [TensorOperand]
        var flags: BackwardFlags
        var kernels: Range<Int>
        var results: [(storage: Operand, shape: Shape, tracked: Bool)]
    }

    struct BackwardFlags: Equatable {
        var createGraph: Bool
        var retainGraph: Bool
        var allowUnused: Bool
    }
}
