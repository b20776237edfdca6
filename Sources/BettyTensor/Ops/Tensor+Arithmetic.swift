// Broadcasting arithmetic between tensors and with scalars.

extension Tensor {
    @inlinable
    static func binary<K: BinaryKernel>(
        _ kernel: K.Type, _ a: Tensor, _ b: Tensor, _ op: @autoclosure () -> Op, name: String
    ) throws(TensorError) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : try broadcastShape(a.shape, b.shape, op: name)
        let (aShape, bShape) = (a.shape, b.shape)
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            broadcastBinary(K.self, p[0], aShape, p[1], bShape, p[2], shape)
        }
        let out = TensorStorage.compute1(.passUnretained(a.storage), .passUnretained(b.storage), outputs: (shape.elementCount, 0), run, record: { run },
            describe: { KernelSignature("binary", kernel: K.self, aShape, bShape) })
        return result(out, shape, op(), a, b)
    }

    /// `f(x, s)` for a scalar `s`, elementwise.
    @inlinable
    static func withScalar<K: BinaryKernel>(
        _ kernel: K.Type, _ x: Tensor, _ s: Float, _ op: @autoclosure () -> Op, saveOutput: Bool = false
    ) -> Tensor {
        let n = x.count
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) { K.run(p[0], 1, s, 0, p[1], n) }
        let out = TensorStorage.compute1(.passUnretained(x.storage), outputs: (n, 0), scalars: (s, 0), run, record: { run },
            describe: { KernelSignature("withScalar", kernel: K.self, x.shape) })
        return result(out, x.shape, op(), x, saveOutput: saveOutput)
    }

    /// `f(s, x)` for a scalar `s`, elementwise.
    @inlinable
    static func scalarWith<K: BinaryKernel>(
        _ kernel: K.Type, _ s: Float, _ x: Tensor, _ op: @autoclosure () -> Op, saveOutput: Bool = false
    ) -> Tensor {
        let n = x.count
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) { K.run(s, 0, p[0], 1, p[1], n) }
        let out = TensorStorage.compute1(.passUnretained(x.storage), outputs: (n, 0), scalars: (s, 0), run, record: { run },
            describe: { KernelSignature("scalarWith", kernel: K.self, x.shape) })
        return result(out, x.shape, op(), x, saveOutput: saveOutput)
    }

    @inlinable
    public static func + (a: Tensor, b: Tensor) throws(TensorError) -> Tensor {
        try binary(AddKernel.self, a, b, .add, name: "add")
    }
    @inlinable
    public static func - (a: Tensor, b: Tensor) throws(TensorError) -> Tensor {
        try binary(SubKernel.self, a, b, .sub, name: "sub")
    }
    @inlinable
    public static func * (a: Tensor, b: Tensor) throws(TensorError) -> Tensor {
        try binary(MulKernel.self, a, b, .mul, name: "mul")
    }
    @inlinable
    public static func / (a: Tensor, b: Tensor) throws(TensorError) -> Tensor {
        try binary(DivKernel.self, a, b, .div, name: "div")
    }

    @inlinable public static func + (a: Tensor, s: Float) -> Tensor { withScalar(AddKernel.self, a, s, .addScalar) }
    @inlinable public static func + (s: Float, a: Tensor) -> Tensor { withScalar(AddKernel.self, a, s, .addScalar) }
    @inlinable public static func - (a: Tensor, s: Float) -> Tensor { withScalar(AddKernel.self, a, -s, .addScalar) }
    @inlinable public static func - (s: Float, a: Tensor) -> Tensor { scalarWith(SubKernel.self, s, a, .rsubScalar) }
    @inlinable public static func * (a: Tensor, s: Float) -> Tensor { withScalar(MulKernel.self, a, s, .mulScalar(s)) }
    @inlinable public static func * (s: Float, a: Tensor) -> Tensor { withScalar(MulKernel.self, a, s, .mulScalar(s)) }
    @inlinable public static func / (a: Tensor, s: Float) -> Tensor { withScalar(MulKernel.self, a, 1 / s, .mulScalar(1 / s)) }
    @inlinable public static func / (s: Float, a: Tensor) -> Tensor {
        scalarWith(DivKernel.self, s, a, .rdivScalar(s), saveOutput: true)
    }

    @inlinable
    public static prefix func - (a: Tensor) -> Tensor { unary(NegKernel.self, a, .neg) }

    /// `a = a + b`. Outside recording (`withoutGrad`, or neither operand tracked) it updates `a`'s
    /// storage in place when the result keeps `a`'s shape, so a parameter stays the same leaf (its
    /// version is bumped); while recording it rebinds `a` to a new tensor in the graph.
    @inlinable
    public static func += (a: inout Tensor, b: Tensor) throws(TensorError) {
        try a.update(b, AddKernel.self, .add, name: "add")
    }

    /// `a = a - b`, in place outside recording as `+=` is.
    @inlinable
    public static func -= (a: inout Tensor, b: Tensor) throws(TensorError) {
        try a.update(b, SubKernel.self, .sub, name: "sub")
    }

    /// `a = a * b`, in place outside recording as `+=` is.
    @inlinable
    public static func *= (a: inout Tensor, b: Tensor) throws(TensorError) {
        try a.update(b, MulKernel.self, .mul, name: "mul")
    }

    @inlinable
    mutating func update<K: BinaryKernel>(_ b: Tensor, _ kernel: K.Type, _ op: Op, name: String) throws(TensorError) {
        let recording = GradMode.isEnabled && (node != nil || b.node != nil)
        if !recording && (b.shape == shape || b.count == 1) {
            inPlace(b, K.self)
        } else if !recording {
            let r = try Tensor.binary(K.self, detached(), b.detached(), op, name: name)
            guard r.shape == shape else { self = r; return }
            withUnsafeMutableBufferPointer { dst in
                r.withUnsafeBufferPointer { src in _ = dst.update(fromContentsOf: src) }
            }
        } else {
            self = try Tensor.binary(K.self, self, b, op, name: name)
        }
    }

    /// `self = f(self, b)` in the existing storage (copied first if shared); `b` has this shape or
    /// one element. Bumps a leaf's version, as any in-place write does.
    @inlinable
    mutating func inPlace<K: BinaryKernel>(_ b: Tensor, _ kernel: K.Type) {
        let n = count
        let stride = b.count == 1 && n != 1 ? 0 : 1
        withExtendedLifetime(b.storage) {
            withUnsafeMutableBufferPointer { dst in
                K.run(UnsafePointer(dst.baseAddress!), 1, b.storage.pointer, stride, dst.baseAddress!, n)
            }
        }
    }
}
