// Elementwise functions of one tensor.

extension Tensor {
    @inlinable
    static func unary<K: UnaryKernel>(
        _ kernel: K.Type, _ x: Tensor, _ op: @autoclosure () -> Op, saveOutput: Bool = false
    ) -> Tensor {
        let out = x.mappedStorage(K.self, site: "unary")
        return result(out, x.shape, op(), x, saveOutput: saveOutput)
    }

    /// The same function without recording: for masks and constants inside backward rules.
    @inlinable
    func mapped<K: UnaryKernel>(_ kernel: K.Type) -> Tensor {
        Tensor(storage: mappedStorage(K.self, site: "mapped"), shape: shape)
    }

    @inlinable
    func mappedStorage<K: UnaryKernel>(_ kernel: K.Type, site: StaticString) -> TensorStorage {
        let n = count
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) { K.run(p[0], p[1], n) }
        return TensorStorage.compute1(.passUnretained(storage), outputs: (n, 0), run, record: { run },
            describe: { KernelSignature(site, kernel: K.self, shape) })
    }

    /// `f(self, other)` elementwise for a tensor `other` of the same shape, without recording.
    @inlinable
    func mapped<K: BinaryKernel>(with other: Tensor, _ kernel: K.Type) -> Tensor {
        precondition(other.shape == shape, "mapped(with:): shape \(other.shape) does not match \(shape)")
        let n = count
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) { K.run(p[0], 1, p[1], 1, p[2], n) }
        let out = TensorStorage.compute1(.passUnretained(storage), .passUnretained(other.storage), outputs: (n, 0), run, record: { run },
            describe: { KernelSignature("mappedWith", kernel: K.self, shape, other.shape) })
        return Tensor(storage: out, shape: shape)
    }
}

@inlinable public func exp(_ x: Tensor) -> Tensor { .unary(ExpKernel.self, x, .exp, saveOutput: true) }
@inlinable public func log(_ x: Tensor) -> Tensor { .unary(LogKernel.self, x, .log) }
@inlinable public func sqrt(_ x: Tensor) -> Tensor { .unary(SqrtKernel.self, x, .sqrt, saveOutput: true) }
@inlinable public func abs(_ x: Tensor) -> Tensor { .unary(AbsKernel.self, x, .abs) }
public func sin(_ x: Tensor) -> Tensor { trigonometric(x, cosine: false) }
public func cos(_ x: Tensor) -> Tensor { trigonometric(x, cosine: true) }
@inlinable public func tanh(_ x: Tensor) -> Tensor { .unary(TanhKernel.self, x, .tanh, saveOutput: true) }
@inlinable public func sigmoid(_ x: Tensor) -> Tensor { .unary(SigmoidKernel.self, x, .sigmoid, saveOutput: true) }
@inlinable public func relu(_ x: Tensor) -> Tensor { .unary(ReluKernel.self, x, .relu) }
/// `log(1 + exp(x))`, computed without overflow. When recording, the same pass keeps sigmoid(x), the
/// derivative, for the backward pass (one more tensor per recorded node, no exp in the backward).
public func softplus(_ x: Tensor) -> Tensor {
    guard GradMode.isEnabled, x.node != nil else { return x.mapped(SoftplusKernel.self) }
    let n = x.count
    @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
        runPaired(p[0], p[1], p[2], n) { VectorMath.softplusAndSigmoid($0) }
    }
    let (values, slopes) = TensorStorage.compute(.passUnretained(x.storage), outputs: (n, n), run, record: { run },
            describe: { KernelSignature("softplus", x.shape) })
    return .result(values, x.shape, .softplus, x, extra: [Tensor(storage: slopes!, shape: x.shape)])
}
/// -1, 0 or 1 by the sign of each element; not differentiable (a constant).
@inlinable public func sign(_ x: Tensor) -> Tensor { x.mapped(SignKernel.self) }

/// `x` raised to a scalar power, elementwise (negative bases need an integer exponent).
@inlinable
public func pow(_ x: Tensor, _ exponent: Float) -> Tensor {
    if exponent == 2 {
        let n = x.count
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) { MulKernel.run(p[0], 1, p[0], 1, p[1], n) }
        let out = TensorStorage.compute1(.passUnretained(x.storage), outputs: (n, 0), run, record: { run },
            describe: { KernelSignature("square", x.shape) })
        return .result(out, x.shape, .powScalar(2), x)
    }
    return .withScalar(PowKernel.self, x, exponent, .powScalar(exponent))
}

/// `x` limited to `[lower, upper]` elementwise; the gradient passes where `lower <= x <= upper`.
public func clamp(_ x: Tensor, min lower: Float = -.infinity, max upper: Float = .infinity) -> Tensor {
    let n = x.count
    @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
        let (src, dst, lower, upper) = (p[0], p[1], s[0], s[1])
        let lo = SIMD8<Float>(repeating: lower), hi = SIMD8<Float>(repeating: upper)
        var i = 0
        while i + 8 <= n {
            var v = src.load8(i)
            v = v.replacing(with: lo, where: v .< lo)
            v = v.replacing(with: hi, where: v .> hi)
            dst.store8(v, i)
            i += 8
        }
        while i < n {
            dst[i] = Swift.min(Swift.max(src[i], lower), upper)
            i += 1
        }
    }
    let out = TensorStorage.compute1(.passUnretained(x.storage), outputs: (n, 0), scalars: (lower, upper), run, record: { run },
            describe: { KernelSignature("clamp", x.shape) })
    return .result(out, x.shape, .clamp(lower: lower, upper: upper), x)
}

/// sin or cos of `x`. When recording, one pass computes both, and the node keeps the other function
/// (`extra[0]`) next to its output: that is the derivative (up to sign), so no backward pass of any
/// order evaluates a sine or cosine again (see `GradNode.trigonometricPartner`). Costs one tensor of
/// memory per recorded node.
func trigonometric(_ x: Tensor, cosine: Bool) -> Tensor {
    guard GradMode.isEnabled, x.node != nil else {
        return cosine ? x.mapped(CosKernel.self) : x.mapped(SinKernel.self)
    }
    let n = x.count
    @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) { runPaired(p[0], p[1], p[2], n) { VectorMath.sinCos($0) } }
    let (sines, cosines) = TensorStorage.compute(.passUnretained(x.storage), outputs: (n, n), run, record: { run },
            describe: { KernelSignature("sinCos", x.shape) })
    let (value, other) = cosine ? (cosines!, sines) : (sines, cosines!)
    return .result(value, x.shape, cosine ? .cos : .sin, x, extra: [Tensor(storage: other, shape: x.shape)],
                   saveOutput: true)
}
