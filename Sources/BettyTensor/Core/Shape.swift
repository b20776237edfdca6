/// The dimensions of a tensor, stored inline (no heap allocation) for ranks up to `Shape.maxRank`.
///
/// Tensors are created on every operation, so a shape that allocates would cost as much as the
/// arithmetic on a small tensor. Eight `Int32` lanes hold the dimensions; a rank above eight is a
/// programmer error caught by a precondition.
public struct Shape: Sendable, Hashable, RandomAccessCollection, ExpressibleByArrayLiteral, CustomStringConvertible {
    public static let maxRank = 8

    @usableFromInline var dims: SIMD8<Int32>
    public let rank: Int

    @inlinable
    public init<S: Sequence>(_ dimensions: S) where S.Element == Int {
        var dims = SIMD8<Int32>(repeating: 1)
        var rank = 0
        for d in dimensions {
            precondition(rank < Shape.maxRank, "Shape: rank above \(Shape.maxRank) is not supported")
            precondition(d >= 0 && d <= Int(Int32.max), "Shape: dimension \(d) must be in 0...\(Int32.max)")
            dims[rank] = Int32(truncatingIfNeeded: d)
            rank += 1
        }
        self.dims = dims
        self.rank = rank
    }

    @inlinable
    public init(arrayLiteral elements: Int...) { self.init(elements) }

    /// The shape of a scalar (rank 0, one element).
    public static let scalar = Shape([])

    public var startIndex: Int { 0 }
    public var endIndex: Int { rank }

    @inlinable
    public subscript(position: Int) -> Int {
        get {
            precondition(position >= 0 && position < rank, "Shape: index \(position) out of range for rank \(rank)")
            return Int(dims[position])
        }
        set {
            precondition(position >= 0 && position < rank, "Shape: index \(position) out of range for rank \(rank)")
            precondition(newValue >= 0 && newValue <= Int(Int32.max), "Shape: dimension \(newValue) out of range")
            dims[position] = Int32(truncatingIfNeeded: newValue)
        }
    }

    /// Number of elements (1 for a scalar).
    @inlinable
    public var elementCount: Int {
        var n = 1
        for i in 0..<rank { n &*= Int(dims[i]) }
        return n
    }

    public static func == (lhs: Shape, rhs: Shape) -> Bool {
        guard lhs.rank == rhs.rank else { return false }
        for i in 0..<lhs.rank where lhs.dims[i] != rhs.dims[i] { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rank)
        for i in 0..<rank { hasher.combine(dims[i]) }
    }

    public var description: String { "[" + map(String.init).joined(separator: ", ") + "]" }

    /// Row-major strides, in elements.
    @inlinable
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: rank)
        var acc = 1
        for i in stride(from: rank - 1, through: 0, by: -1) {
            s[i] = acc
            acc &*= Int(dims[i])
        }
        return s
    }

    /// Product of the dimensions in `range` (1 for an empty range).
    @inlinable
    func product(_ range: Range<Int>) -> Int {
        var n = 1
        for i in range { n &*= Int(dims[i]) }
        return n
    }

    /// The shape with `axis` removed, or set to 1 when `keepingDimension`.
    func removing(axes: [Int], keepingDimensions: Bool) -> Shape {
        var out = Shape.scalar
        for i in 0..<rank {
            if axes.contains(i) {
                if keepingDimensions { out.append(1) }
            } else {
                out.append(Int(dims[i]))
            }
        }
        return out
    }

    /// Adds a last dimension (within `maxRank`), without the array a `Shape(_:)` is built from.
    mutating func append(_ dimension: Int) {
        precondition(rank < Shape.maxRank, "Shape: rank above \(Shape.maxRank) is not supported")
        var grown = dims
        grown[rank] = Int32(truncatingIfNeeded: dimension)
        self = Shape(dims: grown, rank: rank + 1)
    }

    private init(dims: SIMD8<Int32>, rank: Int) {
        self.dims = dims
        self.rank = rank
    }

    /// `[n]` and `[m, n]` without the array a literal is built from (matrix products make several).
    static func vector(_ n: Int) -> Shape {
        var s = Shape.scalar
        s.append(n)
        return s
    }

    static func matrix(_ m: Int, _ n: Int) -> Shape {
        var s = vector(m)
        s.append(n)
        return s
    }

    /// `0..<rank` for every rank, built once: the axes of a full reduction.
    static let allAxes: [[Int]] = (0...maxRank).map { Array(0..<$0) }
}
