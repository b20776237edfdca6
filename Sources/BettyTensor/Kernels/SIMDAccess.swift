/// Unaligned eight-lane loads and stores: storage is 8-byte aligned, and x86 pays nothing for
/// unaligned vector access within a cache line.
extension UnsafePointer where Pointee == Float {
    @inlinable @inline(__always)
    func load8(_ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(self + i).loadUnaligned(as: SIMD8<Float>.self)
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inlinable @inline(__always)
    func load8(_ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(self + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    func store8(_ v: SIMD8<Float>, _ i: Int) {
        UnsafeMutableRawPointer(self + i).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}

/// Eight consecutive elements starting at `index`, of which the first `count` exist: the unit of
/// `forEachBlock`. A short block (the tail) loads zeros into its missing lanes and stores only the
/// lanes that exist, so a kernel writes its formula once, on `SIMD8<Float>`, for body and tail.
public struct Block8 {
    public let index: Int
    public let count: Int

    @inlinable init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    @inlinable @inline(__always)
    public func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        if count == 8 { return p.load8(index) }
        var v = SIMD8<Float>(repeating: 0)
        for lane in 0..<count { v[lane] = p[index &+ lane] }
        return v
    }

    @inlinable @inline(__always)
    public func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { load(UnsafePointer(p)) }

    @inlinable @inline(__always)
    public func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        if count == 8 { return p.store8(v, index) }
        for lane in 0..<count { p[index &+ lane] = v[lane] }
    }
}

/// Calls `body` for the blocks of eight that cover `0..<count`, the last one possibly short.
/// Elementwise formulas on `SIMD8<Float>` give the same bits in every lane as on `Float`.
@inlinable @inline(__always)
public func forEachBlock(of count: Int, _ body: (Block8) -> Void) {
    var i = 0
    while i &+ 8 <= count {
        body(Block8(index: i, count: 8))
        i &+= 8
    }
    if i < count { body(Block8(index: i, count: count &- i)) }
}
