// Constant tensors.

extension Tensor {
    public static func zeros(_ shape: Shape) -> Tensor {
        Tensor(storage: .zeros(count: shape.elementCount), shape: shape)
    }

    public static func ones(_ shape: Shape) -> Tensor { full(shape, 1) }

    public static func full(_ shape: Shape, _ value: Float) -> Tensor {
        let s = TensorStorage.allocate(count: shape.elementCount, constant: true)
        s.pointer.initialize(repeating: value, count: shape.elementCount)
        return Tensor(storage: s, shape: shape)
    }

    /// Zeros with this tensor's shape.
    public func zerosLike() -> Tensor { .zeros(shape) }
    /// Ones with this tensor's shape.
    public func onesLike() -> Tensor { .ones(shape) }

    /// `0, 1, ...` up to but excluding `end`.
    public static func arange(_ end: Float) throws(TensorError) -> Tensor { try arange(0, end) }

    /// `start, start + step, ...` up to but excluding `end`.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) throws(TensorError) -> Tensor {
        guard step != 0, step.isFinite, start.isFinite, end.isFinite else {
            throw .invalidArgument(op: "arange", message: "step must be finite and non-zero, bounds finite")
        }
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor((0..<n).map { start + Float($0) * step })
    }

    /// The n×n identity.
    public static func eye(_ n: Int) -> Tensor {
        let t = zeros([n, n])
        for i in 0..<n { t.storage.pointer[i * n + i] = 1 }
        return t
    }

    /// A square matrix with `vector` on its diagonal (differentiable: `eye(n) * vector`).
    public static func diag(_ vector: Tensor) throws(TensorError) -> Tensor {
        guard vector.rank == 1 else {
            throw .invalidArgument(op: "diag", message: "expects a vector, got shape \(vector.shape); use diagonal() for a matrix")
        }
        return try eye(vector.count) * vector.reshaped(to: [1, vector.count])
    }

    /// The main diagonal of a square matrix (differentiable).
    public func diagonal() throws(TensorError) -> Tensor {
        guard rank == 2, shape[0] == shape[1] else {
            throw .invalidArgument(op: "diagonal", message: "expects a square matrix, got shape \(shape)")
        }
        return try (self * Tensor.eye(shape[0])).sum(axis: 1)
    }
}
