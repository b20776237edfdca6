/// The pointers one recorded kernel works on: its inputs, then its outputs.
public typealias KernelOperands = UnsafeMutablePointer<UnsafeMutablePointer<Float>>

/// A kernel as a step plan keeps it: everything but its operands and scalars captured when it was
/// recorded, so replaying it is one indirect call.
@usableFromInline
typealias RecordedKernel = (_ operands: KernelOperands, _ scalars: UnsafePointer<Float>) -> Void

/// What identifies one kernel call in a step: where in the code it was made, which kernel, the
/// shapes of its inputs as the call saw them (views over one storage differ), its output sizes and
/// whatever else the kernel captured (the output shape, axes, transposes, indices). Two calls with
/// equal signatures on the same operands compute the same function of the operands' values; scalars
/// are passed apart.
@usableFromInline
struct KernelSignature {
    @usableFromInline var site: UnsafeRawPointer
    @usableFromInline var kernel: ObjectIdentifier?
    @usableFromInline var shapes: (Shape, Shape, Shape)
    @usableFromInline var outputs: (Int, Int) = (0, 0)
    @usableFromInline var output: Shape
    @usableFromInline var key: SIMD8<Int32>
    /// Nil when the kernel captures no index list.
    @usableFromInline var indices: [Int]?

    /// `site` names the call (unique per call site); `kernel` the generic kernel type it is
    /// specialised for; then the shapes of its inputs; `output` the shape of the first output when
    /// the kernel captures it; `key` and `indices` what else the kernel captures.
    @inlinable
    init(_ site: StaticString, kernel: Any.Type? = nil, _ a: Shape, _ b: Shape = .scalar, _ c: Shape = .scalar,
         output: Shape = .scalar, key: SIMD8<Int32> = .zero, indices: [Int]? = nil) {
        self.site = UnsafeRawPointer(site.utf8Start)
        self.kernel = kernel.map(ObjectIdentifier.init)
        shapes = (a, b, c)
        self.output = output
        self.key = key
        self.indices = indices
    }

    /// The same call, outputs aside (the caller compares those).
    func matches(_ other: borrowing KernelSignature) -> Bool {
        site == other.site && kernel == other.kernel && shapes.0 == other.shapes.0 && shapes.1 == other.shapes.1
            && shapes.2 == other.shapes.2 && output == other.output && key == other.key && indices == other.indices
    }

    var siteName: String {
        String(cString: site.assumingMemoryBound(to: CChar.self))
    }
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
    /// Runs one kernel call on up to three inputs and returns its output storages (the second is nil
    /// unless `outputs.1` asks for one): directly, or through the step plan of this thread, which
    /// records or replays it (`StepPlan`).
    ///
    /// The inputs are unretained: the calling operation's tensors hold them for the call (a retain
    /// and release of each was a sixth of a small operation's time).
    /// `run` is the kernel: it reads `operands[0..<inputs]`, writes the outputs after them, and takes
    /// its scalars from `scalars` (not from captured values, so a replay can pass new ones).
    /// `record` makes an escaping copy of it and `describe` its signature; both are called only under
    /// a plan, so the direct path builds neither.
    @inlinable @inline(__always)
    static func compute(
        _ a: Unmanaged<TensorStorage>?, _ b: Unmanaged<TensorStorage>? = nil, _ c: Unmanaged<TensorStorage>? = nil,
        outputs: (Int, Int), scalars: (Float, Float) = (0, 0),
        _ run: (KernelOperands, UnsafePointer<Float>) -> Void,
        record: () -> (KernelOperands, UnsafePointer<Float>) -> Void,
        describe: () -> KernelSignature
    ) -> (TensorStorage, TensorStorage?) {
        if let plan = StepPlan.current {
            if plan.isReplaying { return plan.replayKernel((a, b, c), outputs: outputs, scalars: scalars, run, describe) }
            return plan.kernel((a, b, c), outputs: outputs, scalars: scalars, run: run, record: record, describe: describe)
        }
        let first = allocate(count: outputs.0, traced: true)
        let second = outputs.1 > 0 ? allocate(count: outputs.1, traced: true) : nil
        // Operands on the stack, inputs first: no array, no allocation.
        var operands = (UnsafeMutablePointer<Float>?.none, UnsafeMutablePointer<Float>?.none, UnsafeMutablePointer<Float>?.none,
                        UnsafeMutablePointer<Float>?.none, UnsafeMutablePointer<Float>?.none)
        var n = 0
        withUnsafeMutableBytes(of: &operands) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: UnsafeMutablePointer<Float>.self)
            if let a { p[n] = a._withUnsafeGuaranteedRef { $0.pointer }; n += 1 }
            if let b { p[n] = b._withUnsafeGuaranteedRef { $0.pointer }; n += 1 }
            if let c { p[n] = c._withUnsafeGuaranteedRef { $0.pointer }; n += 1 }
            p[n] = first.pointer
            if let second { p[n + 1] = second.pointer }
            var s = scalars
            withUnsafeMutableBytes(of: &s) { run(p, UnsafePointer($0.baseAddress!.assumingMemoryBound(to: Float.self))) }
        }
        return (first, second)
    }

    /// `compute` for the common case of one output.
    @inlinable @inline(__always)
    static func compute1(
        _ a: Unmanaged<TensorStorage>?, _ b: Unmanaged<TensorStorage>? = nil, _ c: Unmanaged<TensorStorage>? = nil,
        outputs: (Int, Int), scalars: (Float, Float) = (0, 0),
        _ run: (KernelOperands, UnsafePointer<Float>) -> Void,
        record: () -> (KernelOperands, UnsafePointer<Float>) -> Void,
        describe: () -> KernelSignature
    ) -> TensorStorage {
        compute(a, b, c, outputs: outputs, scalars: scalars, run, record: record, describe: describe).0
    }
}
