// Convolution and pooling over [N, C, H, W] batches, as BLAS products and reductions over unfolded
// windows (im2col): differentiable to any order through `unfolded`/`folded`.

/// 2-D cross-correlation (PyTorch's `conv2d`): `weight` is `[out, in, kh, kw]`, `bias` is `[out]`.
public func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil,
                   stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) throws(TensorError) -> Tensor {
    guard weight.rank == 4 else {
        throw .invalidArgument(op: "conv2d", message: "weight must be [out, in, kh, kw], got shape \(weight.shape)")
    }
    guard input.rank == 4, input.shape[1] == weight.shape[1] else {
        throw .shapeMismatch(op: "conv2d", shapes: [input.shape, weight.shape],
            hint: "input must be [batch, \(weight.shape[1]), height, width] for this weight")
    }
    let geometry = WindowGeometry(kernel: (weight.shape[2], weight.shape[3]), stride: stride, padding: padding)
    let columns = try input.unfolded(geometry)                      // [N, C*kh*kw, L]
    let filters = try weight.reshaped(to: [weight.shape[0], -1])    // [O, C*kh*kw]
    var y = try filters.matmul(columns)                             // [N, O, L]
    let out = geometry.outputSize(height: input.shape[2], width: input.shape[3])
    y = try y.reshaped(to: [input.shape[0], weight.shape[0], out.height, out.width])
    if let bias {
        guard bias.shape == [weight.shape[0]] else {
            throw .shapeMismatch(op: "conv2d", shapes: [bias.shape, [weight.shape[0]]], hint: "bias must have one value per output channel")
        }
        y = try y + bias.reshaped(to: [1, weight.shape[0], 1, 1])
    }
    return y
}

/// Maximum over each window (PyTorch's `max_pool2d`, without padding). Ties share the gradient.
public func maxPool2d(_ input: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil) throws(TensorError) -> Tensor {
    try pool(input, kernel: kernel, stride: stride ?? kernel, padding: (0, 0), op: "maxPool2d") { w throws(TensorError) in
        try w.max(axis: 2)
    }
}

/// Mean over each window (PyTorch's `avg_pool2d`; padding counts as zeros, `count_include_pad`).
public func avgPool2d(_ input: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil,
                      padding: (Int, Int) = (0, 0)) throws(TensorError) -> Tensor {
    try pool(input, kernel: kernel, stride: stride ?? kernel, padding: padding, op: "avgPool2d") { w throws(TensorError) in
        try w.mean(axis: 2)
    }
}

private func pool(_ input: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), op: String,
                  _ reduce: (Tensor) throws(TensorError) -> Tensor) throws(TensorError) -> Tensor {
    let geometry = WindowGeometry(kernel: kernel, stride: stride, padding: padding)
    try geometry.validate(input.shape, op: op)
    let (n, c) = (input.shape[0], input.shape[1])
    let out = geometry.outputSize(height: input.shape[2], width: input.shape[3])
    let windows = try input.unfolded(geometry).reshaped(to: [n, c, kernel.0 * kernel.1, out.height * out.width])
    return try reduce(windows).reshaped(to: [n, c, out.height, out.width])
}
