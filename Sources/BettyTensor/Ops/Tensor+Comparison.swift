// Elementwise comparisons (zeros and ones, not differentiable) and selection by a condition.


extension Tensor {
    static func compare<K: BinaryKernel>(_ k: K.Type, _ a: Tensor, _ b: Tensor, _ name: String) throws(TensorError) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : try broadcastShape(a.shape, b.shape, op: name)
        let (aShape, bShape) = (a.shape, b.shape)
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            broadcastBinary(K.self, p[0], aShape, p[1], bShape, p[2], shape)
        }
        let out = TensorStorage.compute1(.passUnretained(a.storage), .passUnretained(b.storage), outputs: (shape.elementCount, 0), run, record: { run },
            describe: { KernelSignature("compare", kernel: K.self, aShape, bShape) })
        return Tensor(storage: out, shape: shape)
    }

    public static func .== (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try compare(EqualKernel.self, a, b, "==") }
    public static func .!= (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try compare(NotEqualKernel.self, a, b, "!=") }
    public static func .< (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try compare(LessKernel.self, a, b, "<") }
    public static func .<= (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try compare(LessEqualKernel.self, a, b, "<=") }
    public static func .> (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try compare(LessKernel.self, b, a, ">") }
    public static func .>= (a: Tensor, b: Tensor) throws(TensorError) -> Tensor { try compare(LessEqualKernel.self, b, a, ">=") }

    public static func .== (a: Tensor, s: Float) -> Tensor { try! a .== Tensor(s) }
    public static func .!= (a: Tensor, s: Float) -> Tensor { try! a .!= Tensor(s) }
    public static func .< (a: Tensor, s: Float) -> Tensor { try! a .< Tensor(s) }
    public static func .<= (a: Tensor, s: Float) -> Tensor { try! a .<= Tensor(s) }
    public static func .> (a: Tensor, s: Float) -> Tensor { try! a .> Tensor(s) }
    public static func .>= (a: Tensor, s: Float) -> Tensor { try! a .>= Tensor(s) }

    /// `a` where `condition` is non-zero, else `b`, with broadcasting among all three. The gradient
    /// flows to `a` and `b` through the elements each supplied; the condition is a constant.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
        let ab = try broadcastShape(a.shape, b.shape, op: "where")
        let shape = try broadcastShape(condition.shape, ab, op: "where")
        let c = try condition.detached().broadcast(to: shape)
        let x = try a.detached().broadcast(to: shape), y = try b.detached().broadcast(to: shape)
        let n = shape.elementCount
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            let cp = p[0], xp = p[1], yp = p[2], op = p[3]
            var i = 0
            while i + 8 <= n {
                op.store8(yp.load8(i).replacing(with: xp.load8(i), where: cp.load8(i) .!= 0), i)
                i += 8
            }
            while i < n { op[i] = cp[i] != 0 ? xp[i] : yp[i]; i += 1 }
        }
        let out = TensorStorage.compute1(.passUnretained(c.storage), .passUnretained(x.storage), .passUnretained(y.storage), outputs: (n, 0), run, record: { run },
            describe: { KernelSignature("select", c.shape, x.shape, y.shape) })
        guard GradMode.isEnabled, a.node != nil || b.node != nil else { return Tensor(storage: out, shape: shape) }
        return recorded(.select, out, shape, a, b, extra: [c])
    }
}
