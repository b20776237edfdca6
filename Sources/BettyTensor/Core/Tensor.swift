/// A dense, row-major Float32 tensor with value semantics.
///
/// Copies share storage until one of them is mutated (copy-on-write). A tensor that requires a
/// gradient, or was computed from one while gradient recording is on, carries the node that made it,
/// so `grad(of:wrt:)` can walk the graph back. Every operation returns a new tensor; mutation in place
/// is reserved for updates outside the graph (`withoutGrad`), as in PyTorch's `torch.no_grad()`.
///
/// `@unchecked Sendable`: storage is only written when uniquely referenced, and graph nodes are
/// written only by the thread that runs a backward pass over them. Share a graph between threads only
/// while nobody differentiates through it.
public struct Tensor: @unchecked Sendable {
    @usableFromInline var storage: TensorStorage
    public let shape: Shape
    @usableFromInline var node: GradNode?
    /// The leaf version this value was taken at; a graph that saved it can tell if the leaf changed.
    @usableFromInline var version: Int32

    @inlinable
    init(storage: TensorStorage, shape: Shape, node: GradNode? = nil, version: Int32 = 0) {
        self.storage = storage
        self.shape = shape
        self.node = node
        self.version = version
    }

    /// A tensor of the given shape holding `scalars` in row-major order.
    public init(shape: Shape, scalars: [Float]) throws(TensorError) {
        guard shape.elementCount == scalars.count else {
            throw .invalidArgument(op: "Tensor(shape:scalars:)",
                message: "shape \(shape) needs \(shape.elementCount) scalars but \(scalars.count) were given")
        }
        let s = TensorStorage.allocate(count: scalars.count)
        scalars.withUnsafeBufferPointer { s.pointer.initialize(from: $0.baseAddress!, count: $0.count) }
        self.init(storage: s, shape: shape)
    }

    /// A rank-0 tensor.
    public init(_ scalar: Float) {
        let s = TensorStorage.allocate(count: 1, constant: true)
        s.pointer.initialize(to: scalar)
        self.init(storage: s, shape: .scalar)
    }

    /// A rank-1 tensor.
    public init(_ scalars: [Float]) {
        // Cannot fail: the shape is built from the count.
        try! self.init(shape: [scalars.count], scalars: scalars)
    }

    /// A rank-2 tensor from rows of equal length.
    public init(_ rows: [[Float]]) throws(TensorError) {
        let width = rows.first?.count ?? 0
        if let bad = rows.firstIndex(where: { $0.count != width }) {
            throw .invalidArgument(op: "Tensor(rows)",
                message: "row \(bad) has \(rows[bad].count) values but row 0 has \(width)")
        }
        try self.init(shape: [rows.count, width], scalars: rows.flatMap { $0 })
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    @inlinable public var rank: Int { shape.rank }

    /// The elements in row-major order.
    public var scalars: [Float] {
        withUnsafeBufferPointer { Array($0) }
    }

    /// The only element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar: tensor of shape \(shape) has \(count) elements; reduce it first (sum/mean)")
        return withUnsafeBufferPointer { $0[0] }
    }

    /// Read access to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R, E: Error>(
        _ body: (UnsafeBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        try withExtendedLifetime(storage) { () throws(E) -> R in
            try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
        }
    }

    /// Write access to the elements, outside gradient recording (parameter updates, data loading).
    ///
    /// Copies the storage first if another tensor shares it. Mutating a tensor that requires a
    /// gradient bumps its version, so a graph built from the old value refuses to differentiate
    /// with respect to it rather than return a gradient for the wrong point.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        if let node {
            precondition(!GradMode.isEnabled,
                "in-place update of a tensor that is part of a graph: do it inside withoutGrad { }, as an optimizer step does")
            if node.isLeaf {
                node.version &+= 1
                version = node.version
            } else {
                // Its value no longer matches the operation that made it: it becomes a constant.
                self.node = nil
            }
        }
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try withExtendedLifetime(storage) { () throws(E) -> R in
            try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
        }
    }

    // MARK: Autodiff surface

    /// Whether gradients flow to or through this tensor.
    @inlinable public var requiresGrad: Bool { node != nil }

    /// Whether this tensor is a leaf of the graph (created by `requiringGrad()`, not by an operation).
    public var isLeaf: Bool { node?.isLeaf ?? true }

    /// This value as a new leaf that requires a gradient (shares storage; a fresh identity).
    public func requiringGrad() -> Tensor {
        Tensor(storage: storage, shape: shape, node: GradNode(leafOf: shape), version: 0)
    }

    /// This value cut off from the graph: no gradient flows through the result.
    @inlinable
    public func detached() -> Tensor { Tensor(storage: storage, shape: shape) }

    /// The gradient accumulated by `backward()` into this leaf, if any.
    public var grad: Tensor? {
        get { node?.grad }
        nonmutating set {
            precondition(node?.isLeaf == true, "grad can only be set on a leaf that requires a gradient")
            node?.grad = newValue
        }
    }

    /// Forgets the accumulated gradient of this leaf.
    public func zeroGrad() { node?.grad = nil }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = scalars
        let shown = values.prefix(8).map { String($0) }.joined(separator: ", ")
        let more = values.count > 8 ? ", ... (\(values.count) values)" : ""
        return "Tensor(shape: \(shape), [\(shown)\(more)]\(requiresGrad ? ", requiresGrad" : ""))"
    }
}
