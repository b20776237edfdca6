// The backward rule of every operation, written in tensor operations so that, with `createGraph`,
// the gradient is itself recorded and can be differentiated again.

extension GradNode {
    /// Gradients for inputs `a` and `b` given the gradient `g` of the output; `nil` where an input
    /// needs none. A pair, not an array: this runs once per node of every backward pass.
    func inputGradients(_ g: Tensor, need0: Bool, need1: Bool) throws(TensorError) -> (Tensor?, Tensor?) {
        switch op {
        case .leaf:
            return (nil, nil)
        case .replayed:
            preconditionFailure("Autograd.run refuses a replayed node before differentiating")
        case .add:
            return (need0 ? try g.sum(toShape: a!.shape) : nil, need1 ? try g.sum(toShape: b!.shape) : nil)
        case .sub:
            return (need0 ? try g.sum(toShape: a!.shape) : nil, need1 ? try (-g).sum(toShape: b!.shape) : nil)
        case .mul:
            return (need0 ? try (g * b!).sum(toShape: a!.shape) : nil, need1 ? try (g * a!).sum(toShape: b!.shape) : nil)
        case .div:
            return (need0 ? try (g / b!).sum(toShape: a!.shape) : nil, need1 ? try (-(g * a!) / (b! * b!)).sum(toShape: b!.shape) : nil)
        case .addScalar:
            return (g, nil)
        case let .mulScalar(s):
            return (g * s, nil)
        case .rsubScalar:
            return (-g, nil)
        case .rdivScalar:
            // d(s/x)/dx = -(s/x)/x
            return (try -(g * outputTensor()) / a!, nil)
        case let .powScalar(p):
            if p == 2 { return (try g * a! * 2, nil) }
            return (try g * pow(a!, p - 1) * p, nil)
        case .neg:
            return (-g, nil)
        case .exp:
            return (try g * outputTensor(), nil)
        case .log:
            return (try g / a!, nil)
        case .sqrt:
            return (try (g / outputTensor()) * 0.5, nil)
        case .abs:
            return (try g * sign(a!), nil)
        case .sin:
            return (try g * trigonometricPartner(), nil)
        case .cos:
            return (try -(g * trigonometricPartner()), nil)
        case .tanh:
            let y = outputTensor()
            return (try g * (1 - y * y), nil)
        case .sigmoid:
            let y = outputTensor()
            return (try g * y * (1 - y), nil)
        case .relu:
            // Recorded: g times a constant mask. Otherwise the same product in one pass.
            if GradMode.isEnabled { return (try g * a!.mapped(PositiveMaskKernel.self), nil) }
            return (g.mapped(with: a!, TimesPositiveMaskKernel.self), nil)
        case .softplus:
            return (try g * savedSigmoid(), nil)
        case let .clamp(lower, upper):
            let x = a!.detached()
            return (try g * ((x .>= Tensor(lower)) * (x .<= Tensor(upper))), nil)
        case .select:
            let c = extra[0], zero = Tensor(0)
            return (need0 ? try Tensor.where(c, g, zero).sum(toShape: a!.shape) : nil, need1 ? try Tensor.where(c, zero, g).sum(toShape: b!.shape) : nil)
        case let .matmul(tA, tB):
            return try matmulGradients(g, tA, tB, need0: need0, need1: need1)
        case let .sum(axes, _):
            return (try g.keptDims(axes, of: a!.shape).broadcast(to: a!.shape), nil)
        case let .mean(axes, _, count):
            return (try g.keptDims(axes, of: a!.shape).broadcast(to: a!.shape) * (1 / Float(count)), nil)
        case let .max(axes, _):
            let x = a!.detached()
            let keep = a!.shape.keeping(axes)
            let m = Tensor(storage: output!, shape: keep)
            let mask = try x .== m
            let ties = try mask.sum(axes: axes, keepDims: true)
            return (try g.reshapedUnchecked(keep).broadcast(to: a!.shape) * (mask / ties), nil)
        case .sumTo:
            return (try g.broadcast(to: a!.shape), nil)
        case .broadcastTo:
            return (try g.sum(toShape: a!.shape), nil)
        case .reshape:
            return (g.reshapedUnchecked(a!.shape), nil)
        case let .permute(p):
            var inverse = [Int](repeating: 0, count: p.count)
            for (i, axis) in p.enumerated() { inverse[axis] = i }
            return (try g.permuted(inverse), nil)
        case .concat:
            preconditionFailure("concat has its own rule: concatGradients")
        case let .slice(axis, start):
            return (g.paddedSlice(axis: axis, start: start, size: a!.shape[axis]), nil)
        case let .padSlice(axis, start, _):
            return (try g.slice(axis: axis, start..<(start + a!.shape[axis])), nil)
        case let .indexSelect(axis, indices):
            return (g.indexAdded(axis: axis, indices: indices, size: a!.shape[axis]), nil)
        case let .indexAdd(axis, indices, _):
            return (try g.indexSelect(axis: axis, indices: indices), nil)
        case let .gather(axis):
            return (g.scatterAdded(axis: axis, index: extra[0], size: a!.shape[axis]), nil)
        case let .scatterAdd(axis, _):
            return (try g.gather(axis: axis, index: extra[0]), nil)
        case let .unfold(geometry, inputShape):
            return (try g.folded(geometry, into: inputShape), nil)
        case let .fold(geometry, _):
            return (try g.unfolded(geometry), nil)
        case let .softmax(axis):
            let y = outputTensor()
            return (try y * (g - (g * y).sum(axis: axis, keepDims: true)), nil)
        case let .logSoftmax(axis):
            let y = outputTensor()
            return (try g - exp(y) * g.sum(axis: axis, keepDims: true), nil)
        case let .sigmoidCrossEntropy(scale):
            return try sigmoidCrossEntropyGradients(g, scale: scale, need0: need0, need1: need1)
        }
    }
}

extension GradNode {
    /// Gradients of a matrix product. A vector operand (matmul records it as given) is viewed as the
    /// row or column it acted as, and its gradient viewed back; with `createGraph` the views are
    /// recorded reshapes, so the rule stays differentiable.
    func matmulGradients(_ g: Tensor, _ tA: Bool, _ tB: Bool, need0: Bool, need1: Bool) throws(TensorError) -> (Tensor?, Tensor?) {
        var x = a!, y = b!, g = g
        if x.rank == 1 || y.rank == 1 {
            if x.rank == 1 { x = x.reshapedUnchecked(.matrix(1, x.count)) }
            if y.rank == 1 { y = y.reshapedUnchecked(.matrix(y.count, 1)) }
            g = g.reshapedUnchecked(.matrix(tA ? x.shape[1] : x.shape[0], tB ? y.shape[0] : y.shape[1]))
        }
        let ga: Tensor?, gb: Tensor?
        switch (tA, tB) {
        case (false, false):
            ga = need0 ? try Tensor.matmulCore(g, y, false, true) : nil
            gb = need1 ? try Tensor.matmulCore(x, g, true, false) : nil
        case (true, false):
            ga = need0 ? try Tensor.matmulCore(y, g, false, true) : nil
            gb = need1 ? try Tensor.matmulCore(x, g, false, false) : nil
        case (false, true):
            ga = need0 ? try Tensor.matmulCore(g, y, false, false) : nil
            gb = need1 ? try Tensor.matmulCore(g, x, true, false) : nil
        case (true, true):
            ga = need0 ? try Tensor.matmulCore(y, g, true, true) : nil
            gb = need1 ? try Tensor.matmulCore(g, x, true, true) : nil
        }
        return (ga?.reshapedUnchecked(a!.shape), gb?.reshapedUnchecked(b!.shape))
    }
}

extension GradNode {
    /// Gradients of concat's operands (`extra`), `nil` where `needs` says none is needed.
    func concatGradients(_ g: Tensor, axis: Int, sizes: [Int], needs: [Bool]) throws(TensorError) -> [Tensor?] {
        var start = 0
        var grads: [Tensor?] = []
        for (i, size) in sizes.enumerated() {
            grads.append(needs[i] ? try g.slice(axis: axis, start..<(start + size)) : nil)
            start += size
        }
        return grads
    }
}

extension Tensor {
    /// A reduction's gradient reshaped to keep the reduced axes as 1, ready to broadcast back. A
    /// one-element gradient broadcasts as it is, which saves an operation on the common full sum.
    func keptDims(_ axes: [Int], of input: Shape) -> Tensor {
        count == 1 && rank <= input.rank ? self : reshapedUnchecked(input.keeping(axes))
    }
}

extension Shape {
    /// This shape with `axes` set to 1: the shape a reduction over them keeps.
    func keeping(_ axes: [Int]) -> Shape {
        var s = self
        for a in axes { s[a] = 1 }
        return s
    }
}

extension GradNode {
    /// For a sin node, cos(a); for a cos node, sin(a): the value the forward pass saved. While
    /// recording (createGraph) it is a node of `a` itself, a cos or sin node holding this node's
    /// output as its own partner, so derivatives of every order reuse the two saved tensors.
    func trigonometricPartner() -> Tensor {
        let partnerOp: Op
        if case .sin = op { partnerOp = .cos } else { partnerOp = .sin }
        return .result(extra[0].storage, shape, partnerOp, a!, extra: [Tensor(storage: output!, shape: shape)],
                       saveOutput: true)
    }

    /// sigmoid(a), saved by the forward pass of softplus or the fused logistic loss (`extra[0]`);
    /// while recording, as the `sigmoid` node of `a` that `sigmoid(a)` would record, without
    /// evaluating exp again.
    func savedSigmoid() -> Tensor {
        .result(extra[0].storage, a!.shape, .sigmoid, a!, saveOutput: true)
    }
}
