// Elementwise comparisons (zeros and ones, not differentiable) and selection by a condition.


extension Tensor {
    static func compare<K: BinaryKernel>(_ k: K.Type, _ a: Tensor, _ b: Tensor, _ name: String) throws(TensorError) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : try broadcastShape(a.shape, b.shape, op: name)
        let out = TensorStorage.allocate(count: shape.elementCount)
        withExtendedLifetime(a.storage) { withExtendedLifetime(b.storage) {
            broadcastBinary(K.self, a.storage.pointer, a.shape, b.storage.pointer, b.shape, out.pointer, shape)
        }}
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
        let out = TensorStorage.allocate(count: shape.elementCount)
        withExtendedLifetime((c.storage, x.storage, y.storage)) {
            let cp = c.storage.pointer, xp = x.storage.pointer, yp = y.storage.pointer, op = out.pointer
            var i = 0
            while i + 8 <= shape.elementCount {
                op.store8(yp.load8(i).replacing(with: xp.load8(i), where: cp.load8(i) .!= 0), i)
                i += 8
            }
            while i < shape.elementCount { op[i] = cp[i] != 0 ? xp[i] : yp[i]; i += 1 }
        }
        guard GradMode.isEnabled, a.node != nil || b.node != nil else { return Tensor(storage: out, shape: shape) }
        let node = GradNode.recording(.select, shape: shape, a: a, aNode: a.node, b: b, bNode: b.node, extra: [c])
        return Tensor(storage: out, shape: shape, node: node)
    }
}
