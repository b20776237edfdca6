// Elementwise functions of one tensor.

extension Tensor {
    @inlinable
    static func unary<K: UnaryKernel>(
        _ kernel: K.Type, _ x: Tensor, _ op: @autoclosure () -> Op, saveOutput: Bool = false
    ) -> Tensor {
        let out = TensorStorage.allocate(count: x.count)
        withExtendedLifetime(x.storage) { K.run(x.storage.pointer, out.pointer, x.count) }
        return result(out, x.shape, op(), x, saveOutput: saveOutput)
    }

    /// The same function without recording: for masks and constants inside backward rules.
    @inlinable
    func mapped<K: UnaryKernel>(_ kernel: K.Type) -> Tensor {
        let out = TensorStorage.allocate(count: count)
        withExtendedLifetime(storage) { K.run(storage.pointer, out.pointer, count) }
        return Tensor(storage: out, shape: shape)
    }

    /// `f(self, other)` elementwise for a tensor `other` of the same shape, without recording.
    @inlinable
    func mapped<K: BinaryKernel>(with other: Tensor, _ kernel: K.Type) -> Tensor {
        precondition(other.shape == shape, "mapped(with:): shape \(other.shape) does not match \(shape)")
        let out = TensorStorage.allocate(count: count)
        withExtendedLifetime((storage, other.storage)) {
            K.run(storage.pointer, 1, other.storage.pointer, 1, out.pointer, count)
        }
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
    let values = TensorStorage.allocate(count: x.count), slopes = TensorStorage.allocate(count: x.count)
    withExtendedLifetime(x.storage) {
        runPaired(x.storage.pointer, values.pointer, slopes.pointer, x.count) { VectorMath.softplusAndSigmoid($0) }
    }
    return .result(values, x.shape, .softplus, x, extra: [Tensor(storage: slopes, shape: x.shape)])
}
/// -1, 0 or 1 by the sign of each element; not differentiable (a constant).
@inlinable public func sign(_ x: Tensor) -> Tensor { x.mapped(SignKernel.self) }

/// `x` raised to a scalar power, elementwise (negative bases need an integer exponent).
@inlinable
public func pow(_ x: Tensor, _ exponent: Float) -> Tensor {
    if exponent == 2 {
        let out = TensorStorage.allocate(count: x.count)
        withExtendedLifetime(x.storage) {
            MulKernel.run(x.storage.pointer, 1, x.storage.pointer, 1, out.pointer, x.count)
        }
        return .result(out, x.shape, .powScalar(2), x)
    }
    return .withScalar(PowKernel.self, x, exponent, .powScalar(exponent))
}

/// `x` limited to `[lower, upper]` elementwise; the gradient passes where `lower <= x <= upper`.
public func clamp(_ x: Tensor, min lower: Float = -.infinity, max upper: Float = .infinity) -> Tensor {
    let out = TensorStorage.allocate(count: x.count)
    withExtendedLifetime(x.storage) {
        let src = x.storage.pointer, dst = out.pointer
        let lo = SIMD8<Float>(repeating: lower), hi = SIMD8<Float>(repeating: upper)
        var i = 0
        while i + 8 <= x.count {
            var v = src.load8(i)
            v = v.replacing(with: lo, where: v .< lo)
            v = v.replacing(with: hi, where: v .> hi)
            dst.store8(v, i)
            i += 8
        }
        while i < x.count {
            dst[i] = Swift.min(Swift.max(src[i], lower), upper)
            i += 1
        }
    }
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
    let sines = TensorStorage.allocate(count: x.count), cosines = TensorStorage.allocate(count: x.count)
    withExtendedLifetime(x.storage) {
        runPaired(x.storage.pointer, sines.pointer, cosines.pointer, x.count) { VectorMath.sinCos($0) }
    }
    let (value, other) = cosine ? (cosines, sines) : (sines, cosines)
    return .result(value, x.shape, cosine ? .cos : .sin, x, extra: [Tensor(storage: other, shape: x.shape)],
                   saveOutput: true)
}
