/// Copies `src` into the contiguous `dst` of shape `dims`, reading element `idx` of `dst` from
/// `src[sum(idx[i] * srcStrides[i])]`: the core of permute and transpose.
func stridedCopy(_ src: UnsafePointer<Float>, srcStrides: [Int], dims: [Int], _ dst: UnsafeMutablePointer<Float>) {
    let rank = dims.count
    let total = dims.reduce(1, *)
    guard total > 0 else { return }
    if rank == 0 { dst[0] = src[0]; return }
    if rank == 2 && srcStrides[1] != 1 {
        transpose2D(src, rows: dims[0], cols: dims[1], rowStride: srcStrides[0], colStride: srcStrides[1], dst)
        return
    }
    let inner = dims[rank - 1], innerStride = srcStrides[rank - 1]
    var index = [Int](repeating: 0, count: rank - 1)
    var offset = 0, out = 0
    while true {
        if innerStride == 1 {
            (dst + out).update(from: src + offset, count: inner)
        } else {
            var s = offset
            for j in 0..<inner { dst[out &+ j] = src[s]; s &+= innerStride }
        }
        out += inner
        var d = rank - 2
        while d >= 0 {
            index[d] += 1
            offset += srcStrides[d]
            if index[d] < dims[d] { break }
            offset -= srcStrides[d] * dims[d]
            index[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}

/// Blocked so that both reads and writes stay within cache lines.
private func transpose2D(_ src: UnsafePointer<Float>, rows: Int, cols: Int, rowStride: Int, colStride: Int,
                         _ dst: UnsafeMutablePointer<Float>) {
    let block = 32
    var i0 = 0
    while i0 < rows {
        let i1 = Swift.min(i0 + block, rows)
        var j0 = 0
        while j0 < cols {
            let j1 = Swift.min(j0 + block, cols)
            for i in i0..<i1 {
                let d = dst + i &* cols
                var s = i &* rowStride &+ j0 &* colStride
                for j in j0..<j1 { d[j] = src[s]; s &+= colStride }
            }
            j0 = j1
        }
        i0 = i1
    }
}
