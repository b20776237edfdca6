/// A time series over global steps whose memory stays bounded however long the run: the most recent
/// points at full resolution in a ring, older ones folded into buckets that keep min and max (so a
/// spike is never lost). When there are too many buckets, adjacent pairs merge and every bucket
/// covers twice as many points. Non-finite values never enter min/max; they are counted and located.
public struct Series: Sendable {
    public struct Point: Sendable, Equatable {
        public var x: Int
        public var y: Float
        public init(x: Int, y: Float) {
            self.x = x
            self.y = y
        }
    }

    public let tailCapacity: Int
    public let bucketCapacity: Int
    /// Ring of the most recent points; `tailStart` is the oldest once the ring is full.
    private var tail: [Point] = []
    private var tailStart = 0
    private(set) var buckets: [Bucket] = []
    /// Points per bucket; doubles at every merge.
    public private(set) var bucketWidth = 1

    /// Points appended, finite or not.
    public private(set) var count = 0
    public private(set) var last: Point?
    /// The last finite point.
    public private(set) var lastFinite: Point?
    /// Over every finite value ever appended (nil before the first).
    public private(set) var minimum: Float?
    public private(set) var maximum: Float?
    public private(set) var nonFiniteCount = 0
    /// The first NaN or infinity, for "loss NaN at step 123".
    public private(set) var firstNonFinite: Point?

    public init(tailCapacity: Int = 2048, bucketCapacity: Int = 1024) {
        precondition(tailCapacity > 0 && bucketCapacity > 1, "a series needs a tail and room to merge buckets")
        self.tailCapacity = tailCapacity
        self.bucketCapacity = bucketCapacity
    }

    public var isEmpty: Bool { count == 0 }
    public var firstX: Int? { buckets.first?.lo ?? (tail.isEmpty ? nil : tail[tailStart].x) }
    public var lastX: Int? { last?.x }

    /// Appends a value at global step `x`. Steps are expected not to decrease; an earlier step is
    /// recorded at the last one so buckets stay ordered.
    public mutating func append(x: Int, y: Float) {
        let point = Point(x: max(x, last?.x ?? x), y: y)
        count += 1
        last = point
        if y.isFinite {
            lastFinite = point
            minimum = Swift.min(minimum ?? y, y)
            maximum = Swift.max(maximum ?? y, y)
        } else {
            nonFiniteCount += 1
            if firstNonFinite == nil { firstNonFinite = point }
        }
        if tail.count < tailCapacity {
            tail.append(point)
            return
        }
        fold(tail[tailStart])
        tail[tailStart] = point
        tailStart = (tailStart + 1) % tailCapacity
    }

    /// Bytes held by the stored elements (ring and buckets, at their allocated capacity) plus the
    /// struct itself: what a long run actually costs.
    public var memoryBytes: Int {
        MemoryLayout<Series>.stride
            + tail.capacity * MemoryLayout<Point>.stride
            + buckets.capacity * MemoryLayout<Bucket>.stride
    }

    /// Every stored item oldest first: buckets, then the tail's points as one-point buckets.
    func forEachItem(_ body: (Bucket) -> Void) {
        for bucket in buckets { body(bucket) }
        for i in 0..<tail.count { body(Bucket(tail[(tailStart + i) % tail.count])) }
    }

    private mutating func fold(_ point: Point) {
        if let lastIndex = buckets.indices.last, buckets[lastIndex].count < bucketWidth {
            buckets[lastIndex].merge(Bucket(point))
            return
        }
        if buckets.isEmpty { buckets.reserveCapacity(bucketCapacity + 1) }
        buckets.append(Bucket(point))
        if buckets.count > bucketCapacity { mergePairs() }
    }

    /// Halves the bucket count in place: the allocation is reused, so memory never grows past the cap.
    private mutating func mergePairs() {
        var merged = 0
        var i = 0
        while i < buckets.count {
            var b = buckets[i]
            if i + 1 < buckets.count { b.merge(buckets[i + 1]) }
            buckets[merged] = b
            merged += 1
            i += 2
        }
        buckets.removeLast(buckets.count - merged)
        bucketWidth *= 2
    }
}

/// A run of consecutive points reduced to what drawing needs: the x range, finite extremes (and the
/// smallest positive value, for a log axis), first/last finite values, a sum for smoothing, and the
/// non-finite and non-positive counts.
struct Bucket: Sendable {
    var lo: Int
    var hi: Int
    var minimum: Float = .infinity
    var maximum: Float = -.infinity
    var minimumPositive: Float = .infinity
    var first: Float = .nan
    var last: Float = .nan
    var sum: Double = 0
    var finite: Int32 = 0
    var nonFinite: Int32 = 0
    var nonPositive: Int32 = 0

    var count: Int { Int(finite) + Int(nonFinite) }

    init(_ p: Series.Point) {
        lo = p.x
        hi = p.x
        if p.y.isFinite {
            minimum = p.y
            maximum = p.y
            if p.y > 0 { minimumPositive = p.y } else { nonPositive = 1 }
            first = p.y
            last = p.y
            sum = Double(p.y)
            finite = 1
        } else {
            nonFinite = 1
        }
    }

    mutating func merge(_ b: Bucket) {
        hi = b.hi
        minimum = min(minimum, b.minimum)
        maximum = max(maximum, b.maximum)
        minimumPositive = min(minimumPositive, b.minimumPositive)
        if finite == 0 { first = b.first }
        if b.finite > 0 { last = b.last }
        sum += b.sum
        finite += b.finite
        nonFinite += b.nonFinite
        nonPositive += b.nonPositive
    }
}
