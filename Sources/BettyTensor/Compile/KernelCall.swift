/// The pointers one recorded kernel works on: its inputs, then its outputs.
public typealias KernelOperands = UnsafeMutablePointer<UnsafeMutablePointer<Float>>

/// A kernel as a step plan keeps it: everything but its operands and scalars captured when it was
/// recorded, so replaying it is one indirect call.
@usableFromInline
typealias RecordedKernel = (_ operands: KernelOperands, _ scalars: UnsafePointer<Float>) -> Void

/// What identifies one kernel call in a step: where in the code it was made, which kernel, the
/// shapes of its inputs as the call saw them (views over one storage differ), its output sizes and
/// whatever else the kernel captured (axes, transposes, indices). Two calls with equal signatures on
/// the same operands compute the same function of the operands' values; scalars are passed apart.
@usableFromInline
struct KernelSignature {
    @usableFromInline var site: UnsafeRawPointer
    @usableFromInline var kernel: ObjectIdentifier?
    @usableFromInline var shapes: (Shape, Shape, Shape)
    @usableFromInline var outputs: (Int, Int)
    @usableFromInline var output: Shape
    @usableFromInline var key: SIMD8<Int32>
    @usableFromInline var indices: [Int]

    @inlinable
    init(_ site: StaticString, kernel: Any.Type? = nil, shapes: (Shape, Shape, Shape), outputs: (Int, Int),
         output: Shape, key: SIMD8<Int32>, indices: [Int]) {
        self.output = output
        self.site = UnsafeRawPointer(site.utf8Start)
        self.kernel = kernel.map(ObjectIdentifier.init)
        self.shapes = shapes
        self.outputs = outputs
        self.key = key
        self.indices = indices
    }

    @inlinable
    func matches(_ other: KernelSignature) -> Bool {
        site == other.site && kernel == other.kernel && shapes.0 == other.shapes.0 && shapes.1 == other.shapes.1
            && shapes.2 == other.shapes.2 && outputs == other.outputs && output == other.output && key == other.key
            && indices == other.indices
    }

    var siteName: String {
        String(cString: site.assumingMemoryBound(to: CChar.self))
    }
}

/// One kernel call of a tensor operation: the operation's code describes it once and runs it through
/// `TensorStorage.compute`, which runs it directly, records it into a step plan or replays the
/// recorded one (`StepPlan`).
@usableFromInline
struct KernelCall {
    @usableFromInline var signature: KernelSignature
    @usableFromInline var inputs: (TensorStorage?, TensorStorage?, TensorStorage?)
    @usableFromInline var scalars: (Float, Float)

    /// `site` names the call (unique per call site); `kernel` the generic kernel type it is
    /// specialised for; `output` the shape of the first output when the kernel captures it; `key`
    /// and `indices` hold what else the kernel captures.
    @inlinable
    init(_ site: StaticString, kernel: Any.Type? = nil,
         _ a: TensorStorage?, _ aShape: Shape, _ b: TensorStorage? = nil, _ bShape: Shape = .scalar,
         _ c: TensorStorage? = nil, _ cShape: Shape = .scalar,
         outputs: (Int, Int), output: Shape = .scalar, scalars: (Float, Float) = (0, 0),
         key: SIMD8<Int32> = .zero, indices: [Int] = []) {
        signature = KernelSignature(site, kernel: kernel, shapes: (aShape, bShape, cShape), outputs: outputs,
                                    output: output, key: key, indices: indices)
        inputs = (a, b, c)
        self.scalars = scalars
    }

    @inlinable var inputCount: Int { inputs.2 != nil ? 3 : inputs.1 != nil ? 2 : inputs.0 != nil ? 1 : 0 }
    @inlinable var outputCount: Int { signature.outputs.1 > 0 ? 2 : 1 }
}

extension SIMD8 where Scalar == Int32 {
    /// Up to eight integers a kernel captures, as a signature key (no array: this runs per call).
    @inlinable
    static func key(_ a: Int, _ b: Int = 0, _ c: Int = 0, _ d: Int = 0,
                    _ e: Int = 0, _ f: Int = 0, _ g: Int = 0, _ h: Int = 0) -> SIMD8<Int32> {
        SIMD8<Int32>(Int32(truncatingIfNeeded: a), Int32(truncatingIfNeeded: b), Int32(truncatingIfNeeded: c),
                     Int32(truncatingIfNeeded: d), Int32(truncatingIfNeeded: e), Int32(truncatingIfNeeded: f),
                     Int32(truncatingIfNeeded: g), Int32(truncatingIfNeeded: h))
    }

    /// A set of axes (each below 32) as a bit mask in lane 0, then up to three more integers.
    @inlinable
    static func axes(_ axes: [Int], _ b: Int = 0, _ c: Int = 0, _ d: Int = 0) -> SIMD8<Int32> {
        var mask: Int32 = 0
        for a in axes { mask |= Int32(1) << Int32(a) }
        return .key(Int(mask), b, c, d)
    }
}

extension TensorStorage {
    /// Runs one kernel call and returns its output storages (the second is nil for one output).
    ///
    /// `run` is the kernel: it reads `operands[0..<inputs]`, writes the outputs after them, and takes
    /// its scalars from `scalars` (not from captured values, so a replay can pass new ones).
    /// `record` makes an escaping copy of it, and is called only while a step plan records: the
    /// direct path allocates no closure.
    @inlinable
    static func compute(
        _ call: KernelCall, _ run: (KernelOperands, UnsafePointer<Float>) -> Void,
        record: () -> (KernelOperands, UnsafePointer<Float>) -> Void
    ) -> (TensorStorage, TensorStorage?) {
        if let plan = StepPlan.current { return plan.kernel(call, run: run, record: record) }
        let first = allocate(count: call.signature.outputs.0, traced: true)
        let second = call.signature.outputs.1 > 0 ? allocate(count: call.signature.outputs.1, traced: true) : nil
        withExtendedLifetime(call.inputs) {
            withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: 5) { p in
                var i = 0
                if let a = call.inputs.0 { p[i] = a.pointer; i += 1 }
                if let b = call.inputs.1 { p[i] = b.pointer; i += 1 }
                if let c = call.inputs.2 { p[i] = c.pointer; i += 1 }
                p[i] = first.pointer
                if let second { p[i + 1] = second.pointer }
                withUnsafePointer(to: call.scalars) { s in
                    s.withMemoryRebound(to: Float.self, capacity: 2) { run(p.baseAddress!, $0) }
                }
            }
        }
        return (first, second)
    }

    /// `compute` for the common case of one output.
    @inlinable
    static func compute1(
        _ call: KernelCall, _ run: (KernelOperands, UnsafePointer<Float>) -> Void,
        record: () -> (KernelOperands, UnsafePointer<Float>) -> Void
    ) -> TensorStorage {
        compute(call, run, record: record).0
    }
}
