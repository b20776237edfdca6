// Broadcasting arithmetic between tensors and with scalars.

extension Tensor {
    @inlinable
    static func binary<K: BinaryKernel>(
        _ kernel: K.Type, _ a: Tensor, _ b: Tensor, _ op: @autoclosure () -> Op, name: String
    ) throws(TensorError) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : try broadcastShape(a.shape, b.shape, op: name)
        let out = TensorStorage.allocate(count: shape.elementCount)
        withExtendedLifetime(a.storage) { withExtendedLifetime(b.storage) {
            broadcastBinary(K.self, a.storage.pointer, a.shape, b.storage.pointer, b.shape, out.pointer, shape)
        }}
        return result(out, shape, op(), a, b)
    }

    /// `f(x, s)` for a scalar `s`, elementwise.
    @inlinable
    static func withScalar<K: BinaryKernel>(
        _ kernel: K.Type, _ x: Tensor, _ s: Float, _ op: @autoclosure () -> Op, saveOutput: Bool = false
    ) -> Tensor {
        let out = TensorStorage.allocate(count: x.count)
        withExtendedLifetime(x.storage) {
            withUnsafePointer(to: s) { sp in K.run(x.storage.pointer, 1, sp, 0, out.pointer, x.count) }
        }
        return result(out, x.shape, op(), x, saveOutput: saveOutput)
    }

    /// `f(s, x)` for a scalar `s`, elementwise.
    @inlinable
    static func scalarWith<K: BinaryKernel>(
        _ kernel: K.Type, _ s: Float, _ x: Tensor, _ op: @autoclosure () -> Op, saveOutput: Bool = false
    ) -> Tensor {
        let out = TensorStorage.allocate(count: x.count)
        withExtendedLifetime(x.storage) {
            withUnsafePointer(to: s) { sp in K.run(sp, 0, x.storage.pointer, 1, out.pointer, x.count) }
        }
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

    /// `a = a + b`; in place when `a` is outside any graph, owns its storage and keeps its shape.
    @inlinable
    public static func += (a: inout Tensor, b: Tensor) throws(TensorError) {
        if a.node == nil && b.node == nil && a.shape == b.shape {
            a.inPlace(b, AddKernel.self)
        } else {
            a = try a + b
        }
    }

    /// `a = a - b`; in place when `a` is outside any graph, owns its storage and keeps its shape.
    @inlinable
    public static func -= (a: inout Tensor, b: Tensor) throws(TensorError) {
        if a.node == nil && b.node == nil && a.shape == b.shape {
            a.inPlace(b, SubKernel.self)
        } else {
            a = try a - b
        }
    }

    @inlinable
    mutating func inPlace<K: BinaryKernel>(_ b: Tensor, _ kernel: K.Type) {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        withExtendedLifetime(b.storage) {
            K.run(storage.pointer, 1, b.storage.pointer, 1, storage.pointer, count)
        }
    }
}
