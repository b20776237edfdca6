import BettyTensor

/// Examples `x` (first axis indexes samples) with targets `y` (class labels or values), in memory.
public struct Dataset: Sendable {
    public var x: Tensor
    public var y: Tensor

    public init(x: Tensor, y: Tensor) throws(DataError) {
        guard x.rank >= 1, y.rank >= 1, x.shape[0] == y.shape[0] else {
            throw .invalidArgument("Dataset: x of shape \(x.shape) and y of shape \(y.shape) must have the same number of samples along axis 0")
        }
        self.x = x
        self.y = y
    }

    public var count: Int { x.shape[0] }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int]) throws(DataError) -> Dataset {
        let parts: (Tensor, Tensor)
        do throws(TensorError) {
            parts = (try x.detached().indexSelect(axis: 0, indices: indices),
                     try y.detached().indexSelect(axis: 0, indices: indices))
        } catch {
            throw .invalidArgument("Dataset.subset: \(error)")
        }
        return try Dataset(x: parts.0, y: parts.1)
    }

    /// The largest class label: Float32 holds every integer up to 2^24 exactly, and no further.
    public static let maxLabel = 1 << 24

    /// Class labels as integers, checked to lie in `0..<classes` when given (and in `0...maxLabel`).
    public func labels(classes: Int? = nil) throws(DataError) -> [Int] {
        guard y.rank == 1 else { throw .invalidArgument("labels: y must be a vector of class labels, got shape \(y.shape)") }
        var out: [Int] = []
        out.reserveCapacity(count)
        for (i, v) in y.scalars.enumerated() {
            // Checked as a Float first: 1e30 or infinity would trap converting to Int.
            if let why = Self.labelFault(v, at: "sample \(i)", classes: classes) { throw .invalidArgument(why) }
            out.append(Int(v))
        }
        return out
    }

    /// What is wrong with `v` as a class label in `0..<classes` (with no count, `0...maxLabel`), or nil
    /// when it is one: "label -1 at sample 3 is negative; the 10 classes are 0 to 9".
    static func labelFault(_ v: Float, at place: String, classes: Int?) -> String? {
        let fault: String
        if v.isNaN {
            fault = "is NaN"
        } else if v.isInfinite {
            fault = "is infinite"
        } else if v < 0 {
            fault = "is negative"
        } else if v.rounded(.towardZero) != v {
            fault = "is not a whole number"
        } else if classes.map({ v >= Float($0) }) ?? (v > Float(Self.maxLabel)) {
            fault = "is too large"
        } else {
            return nil
        }
        let shown = v.isNaN ? "" : Swift.abs(v) < 1e15 && v.rounded(.towardZero) == v ? " \(Int(v))" : " \(v)"
        let range = switch classes {
        case nil: "class labels are whole numbers from 0 to \(Self.maxLabel)"
        case 0?: "there are no classes"
        case 1?: "the only class is 0"
        case let n?: "the \(n) classes are 0 to \(n - 1)"
        }
        return "label\(shown) at \(place) \(fault); \(range)"
    }

    /// Number of classes: one more than the largest label.
    public func classCount() throws(DataError) -> Int { (try labels().max() ?? -1) + 1 }

    /// `x` with every element multiplied by `factor` (e.g. 1/255 for raw pixels).
    public func scaled(by factor: Float) -> Dataset {
        var copy = self
        copy.x = x.detached() * factor
        return copy
    }

    /// Random disjoint parts with the given fractions of the samples (summing to at most 1), after a
    /// seeded shuffle.
    public func split(fractions: [Float], seed: UInt64) throws(DataError) -> [Dataset] {
        guard fractions.allSatisfy({ $0 >= 0 }), fractions.reduce(0, +) <= 1 + 1e-6 else {
            throw .invalidArgument("split: fractions \(fractions) must be non-negative and sum to at most 1")
        }
        var remaining = count
        let counts = fractions.map { f in
            let n = Swift.min(Int((f * Float(count)).rounded()), remaining)
            remaining -= n
            return n
        }
        return try split(counts: counts, seed: seed)
    }

    /// Random disjoint parts of exactly `counts[k]` samples (summing to at most the sample count),
    /// after a seeded shuffle: the same parts `split(fractions:)` gives for the matching fractions.
    public func split(counts: [Int], seed: UInt64) throws(DataError) -> [Dataset] {
        guard counts.allSatisfy({ $0 >= 0 }), counts.reduce(0, +) <= count else {
            throw .invalidArgument("split: counts \(counts) must be non-negative and sum to at most the \(count) samples")
        }
        var generator = RandomGenerator(seed: seed)
        let order = shuffled(Array(0..<count), using: &generator)
        var parts: [Dataset] = []
        var start = 0
        for n in counts {
            parts.append(try subset(Array(order[start..<(start + n)])))
            start += n
        }
        return parts
    }

    /// Disjoint parts taking `counts[k]` samples of every class for part k (e.g. 400 train, 10 meta,
    /// 90 test per class), each class's samples shuffled with the seed first.
    public func splitPerClass(counts: [Int], seed: UInt64) throws(DataError) -> [Dataset] {
        guard counts.allSatisfy({ $0 >= 0 }) else {
            throw .invalidArgument("splitPerClass: counts \(counts) must be non-negative")
        }
        let wanted = counts.reduce(0, +)
        let labels = try labels()
        let classes = (labels.max() ?? -1) + 1
        // Grouped by the classes present, so a stray large label costs nothing; the first absent
        // class ends the loop with the error below (asking for nothing takes nothing from any class).
        let byClass = Dictionary(grouping: labels.indices, by: { labels[$0] })
        var generator = RandomGenerator(seed: seed)
        var parts = [[Int]](repeating: [], count: counts.count)
        for c in 0..<(wanted > 0 ? classes : 0) {
            let members = shuffled(byClass[c] ?? [], using: &generator)
            guard wanted <= members.count else {
                throw .invalidArgument("splitPerClass: class \(c) has \(members.count) samples but \(wanted) are asked for")
            }
            var start = 0
            for (k, n) in counts.enumerated() {
                parts[k] += members[start..<(start + n)]
                start += n
            }
        }
        return try parts.map { (p) throws(DataError) -> Dataset in try subset(p.sorted()) }
    }
}

/// Fisher–Yates with our generator, so a seed fixes the order on every platform.
func shuffled(_ values: [Int], using generator: inout RandomGenerator) -> [Int] {
    var a = values
    guard a.count > 1 else { return a }
    for i in stride(from: a.count - 1, to: 0, by: -1) {
        let j = Int(generator.next() % UInt64(i + 1))
        a.swapAt(i, j)
    }
    return a
}
