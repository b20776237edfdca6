// The backward rule of every operation, written in tensor operations so that, with `createGraph`,
// the gradient is itself recorded and can be differentiated again.

extension GradNode {
    /// Gradients for `inputs` (in that order) given the gradient `g` of the output; `nil` where
    /// `needs` says an input needs none.
    func inputGradients(_ g: Tensor, needs: [Bool]) throws(TensorError) -> [Tensor?] {
        let need0 = needs.first ?? false, need1 = needs.count > 1 && needs[1]
        switch op {
        case .leaf:
            return []
        case .add:
            return [need0 ? try g.sum(toShape: a!.shape) : nil, need1 ? try g.sum(toShape: b!.shape) : nil]
        case .sub:
            return [need0 ? try g.sum(toShape: a!.shape) : nil, need1 ? try (-g).sum(toShape: b!.shape) : nil]
        case .mul:
            return [need0 ? try (g * b!).sum(toShape: a!.shape) : nil,
                    need1 ? try (g * a!).sum(toShape: b!.shape) : nil]
        case .div:
            return [need0 ? try (g / b!).sum(toShape: a!.shape) : nil,
                    need1 ? try (-(g * a!) / (b! * b!)).sum(toShape: b!.shape) : nil]
        case .addScalar:
            return [g]
        case let .mulScalar(s):
            return [g * s]
        case .rsubScalar:
            return [-g]
        case .rdivScalar:
            // d(s/x)/dx = -(s/x)/x
            return [try -(g * outputTensor()) / a!]
        case let .powScalar(p):
            if p == 2 { return [try g * a! * 2] }
            return [try g * pow(a!, p - 1) * p]
        case .neg:
            return [-g]
        case .exp:
            return [try g * outputTensor()]
        case .log:
            return [try g / a!]
        case .sqrt:
            return [try (g / outputTensor()) * 0.5]
        case .abs:
            return [try g * sign(a!)]
        case .sin:
            return [try g * cos(a!)]
        case .cos:
            return [try -(g * sin(a!))]
        case .tanh:
            let y = outputTensor()
            return [try g * (1 - y * y)]
        case .sigmoid:
            let y = outputTensor()
            return [try g * y * (1 - y)]
        case .relu:
            return [try g * a!.mapped(PositiveMaskKernel.self)]
        case .softplus:
            return [try g * sigmoid(a!)]
        case let .clamp(lower, upper):
            let x = a!.detached()
            return [try g * ((x .>= Tensor(lower)) * (x .<= Tensor(upper)))]
        case .select:
            let c = extra[0], zero = Tensor(0)
            return [need0 ? try Tensor.where(c, g, zero).sum(toShape: a!.shape) : nil,
                    need1 ? try Tensor.where(c, zero, g).sum(toShape: b!.shape) : nil]
        case let .matmul(tA, tB):
            let x = a!, y = b!
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
            return [ga, gb]
        case let .sum(axes, _):
            return [try g.reshapedUnchecked(a!.shape.keeping(axes)).broadcast(to: a!.shape)]
        case let .mean(axes, _, count):
            return [try g.reshapedUnchecked(a!.shape.keeping(axes)).broadcast(to: a!.shape) * (1 / Float(count))]
        case let .max(axes, _):
            let x = a!.detached()
            let keep = a!.shape.keeping(axes)
            let m = Tensor(storage: output!, shape: keep)
            let mask = try x .== m
            let ties = try mask.sum(axes: axes, keepDims: true)
            return [try g.reshapedUnchecked(keep).broadcast(to: a!.shape) * (mask / ties)]
        case .sumTo:
            return [try g.broadcast(to: a!.shape)]
        case .broadcastTo:
            return [try g.sum(toShape: a!.shape)]
        case .reshape:
            return [g.reshapedUnchecked(a!.shape)]
        case let .permute(p):
            var inverse = [Int](repeating: 0, count: p.count)
            for (i, axis) in p.enumerated() { inverse[axis] = i }
            return [try g.permuted(inverse)]
        case let .concat(axis, sizes):
            var start = 0
            var grads: [Tensor?] = []
            for (i, size) in sizes.enumerated() {
                grads.append(i < needs.count && needs[i] ? try g.slice(axis: axis, start..<(start + size)) : nil)
                start += size
            }
            return grads
        case let .slice(axis, start):
            return [g.paddedSlice(axis: axis, start: start, size: a!.shape[axis])]
        case let .padSlice(axis, start, _):
            return [try g.slice(axis: axis, start..<(start + a!.shape[axis]))]
        case let .indexSelect(axis, indices):
            return [g.indexAdded(axis: axis, indices: indices, size: a!.shape[axis])]
        case let .indexAdd(axis, indices, _):
            return [try g.indexSelect(axis: axis, indices: indices)]
        case let .gather(axis):
            return [g.scatterAdded(axis: axis, index: extra[0], size: a!.shape[axis])]
        case let .scatterAdd(axis, _):
            return [try g.gather(axis: axis, index: extra[0])]
        case let .unfold(geometry, inputShape):
            return [try g.folded(geometry, into: inputShape)]
        case let .fold(geometry, _):
            return [try g.unfolded(geometry)]
        case let .softmax(axis):
            let y = outputTensor()
            return [try y * (g - (g * y).sum(axis: axis, keepDims: true))]
        case let .logSoftmax(axis):
            let y = outputTensor()
            return [try g - exp(y) * g.sum(axis: axis, keepDims: true)]
        }
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
