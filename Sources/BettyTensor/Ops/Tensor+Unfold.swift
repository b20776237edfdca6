// Sliding windows of an image batch as columns (im2col) and back (col2im): convolution and pooling
// are a matrix product or a reduction over these columns, and both directions are linear, so each
// is the other's backward rule and gradients of any order follow.

/// Geometry of 2-D windows over `[N, C, H, W]` input.
public struct WindowGeometry: Sendable, Hashable {
    public var kernel: (height: Int, width: Int)
    public var stride: (height: Int, width: Int)
    public var padding: (height: Int, width: Int)

    public init(kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// Output height and width for an input of height `h` and width `w`.
    public func outputSize(height h: Int, width w: Int) -> (height: Int, width: Int) {
        ((h + 2 * padding.height - kernel.height) / stride.height + 1,
         (w + 2 * padding.width - kernel.width) / stride.width + 1)
    }

    public static func == (a: WindowGeometry, b: WindowGeometry) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding
    }

    public func hash(into h: inout Hasher) {
        for v in [kernel.height, kernel.width, stride.height, stride.width, padding.height, padding.width] { h.combine(v) }
    }

    /// What a kernel over these windows captures, as a signature key.
    var key: SIMD8<Int32> {
        .key(kernel.height, kernel.width, stride.height, stride.width, padding.height, padding.width)
    }

    func validate(_ shape: Shape, op: String) throws(TensorError) {
        guard shape.rank == 4 else {
            throw .invalidArgument(op: op, message: "expects [batch, channels, height, width], got shape \(shape)")
        }
        guard kernel.height > 0, kernel.width > 0, stride.height > 0, stride.width > 0,
              padding.height >= 0, padding.width >= 0 else {
            throw .invalidArgument(op: op, message: "kernel and stride must be positive and padding non-negative")
        }
        guard kernel.height <= shape[2] + 2 * padding.height, kernel.width <= shape[3] + 2 * padding.width else {
            throw .invalidArgument(op: op, message: "a \(kernel.height)x\(kernel.width) window does not fit input \(shape) with padding \(padding.height)x\(padding.width)")
        }
    }
}

extension Tensor {
    /// `[N, C, H, W]` to `[N, C * kh * kw, L]`: column `l` holds the window at output position `l`
    /// (row-major over the output grid), zero where the window overlaps the padding.
    public func unfolded(_ geometry: WindowGeometry) throws(TensorError) -> Tensor {
        try geometry.validate(shape, op: "unfold")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let out = geometry.outputSize(height: h, width: w)
        let (kh, kw) = geometry.kernel
        let rows = c * kh * kw, length = out.height * out.width
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            let (src, result) = (p[0], p[1])
            Self.windows(geometry, n: n, c: c, h: h, w: w) { image, row, column, source in
                let dst = result + (image * rows + row) * length + column
                dst.pointee = source >= 0 ? src[source] : 0
            }
        }
        let result = TensorStorage.compute1(.passUnretained(storage), outputs: (n * rows * length, 0), run, record: { run },
            describe: { KernelSignature("unfold", shape, key: geometry.key) })
        return .result(result, [n, rows, length], .unfold(geometry, inputShape: shape), self)
    }

    /// The adjoint of `unfolded`: columns `[N, C * kh * kw, L]` summed back into `[N, C, H, W]`
    /// (overlapping windows add up).
    public func folded(_ geometry: WindowGeometry, into imageShape: Shape) throws(TensorError) -> Tensor {
        try geometry.validate(imageShape, op: "fold")
        let (n, c, h, w) = (imageShape[0], imageShape[1], imageShape[2], imageShape[3])
        let out = geometry.outputSize(height: h, width: w)
        let rows = c * geometry.kernel.height * geometry.kernel.width, length = out.height * out.width
        guard shape == [n, rows, length] else {
            throw .shapeMismatch(op: "fold", shapes: [shape, [n, rows, length]],
                                 hint: "columns must be [batch, channels * kernel area, output positions]")
        }
        let total = imageShape.elementCount
        @inline(__always) func run(_ p: KernelOperands, _ s: UnsafePointer<Float>) {
            let (src, result) = (p[0], p[1])
            result.update(repeating: 0, count: total)
            Self.windows(geometry, n: n, c: c, h: h, w: w) { image, row, column, source in
                if source >= 0 { result[source] += src[(image * rows + row) * length + column] }
            }
        }
        let result = TensorStorage.compute1(.passUnretained(storage), outputs: (total, 0), run, record: { run },
            describe: { KernelSignature("fold", shape, output: imageShape, key: geometry.key) })
        return .result(result, imageShape, .fold(geometry, imageShape: imageShape), self)
    }

    /// Visits every (image, column row, output position) with the flat input index it reads, or -1
    /// inside the padding. One walk serves both directions, so they stay exact adjoints.
    @inline(__always)
    private static func windows(_ g: WindowGeometry, n: Int, c: Int, h: Int, w: Int,
                                _ body: (_ image: Int, _ row: Int, _ column: Int, _ source: Int) -> Void) {
        let out = g.outputSize(height: h, width: w)
        let (kh, kw) = g.kernel
        for image in 0..<n {
            for channel in 0..<c {
                for dy in 0..<kh {
                    for dx in 0..<kw {
                        let row = (channel * kh + dy) * kw + dx
                        for oy in 0..<out.height {
                            let y = oy * g.stride.height - g.padding.height + dy
                            for ox in 0..<out.width {
                                let x = ox * g.stride.width - g.padding.width + dx
                                let inside = y >= 0 && y < h && x >= 0 && x < w
                                let source = inside ? ((image * c + channel) * h + y) * w + x : -1
                                body(image, row, oy * out.width + ox, source)
                            }
                        }
                    }
                }
            }
        }
    }
}
