import CBLAS

/// The only door to OpenBLAS: every matrix product goes through here.
public enum BLAS {
    /// `c = alpha * op(a) * op(b) + beta * c` for row-major matrices, where op(x) is x or its
    /// transpose; `a` is stored m×k (k×m when transposed), `b` k×n (n×k when transposed).
    @inlinable
    static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        beta: Float = 0, c: UnsafeMutablePointer<Float>
    ) {
        guard m > 0 && n > 0 else { return }
        guard k > 0 else {
            if beta == 0 { c.update(repeating: 0, count: m * n) } else if beta != 1 {
                for i in 0..<(m * n) { c[i] *= beta }
            }
            return
        }
        // Matrix-vector shapes go to gemv: sgemm would pack both operands for a single column.
        if n == 1 && beta == 0 {
            // c (m) = op(A) b, with b contiguous whether or not it is "transposed" (1 x k or k x 1).
            cblas_sgemv(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                        Int32(transposeA ? k : m), Int32(transposeA ? m : k), alpha,
                        a, Int32(transposeA ? m : k), b, 1, 0, c, 1)
            return
        }
        if m == 1 && beta == 0 {
            // c (n) = op(B)ᵀ a, with a contiguous either way.
            cblas_sgemv(CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans,
                        Int32(transposeB ? n : k), Int32(transposeB ? k : n), alpha,
                        b, Int32(transposeB ? k : n), a, 1, 0, c, 1)
            return
        }
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        // OpenBLAS clears C for beta = 0 with its own loop, at a third of memset's speed here (5% of
        // a Meta-Weight-Net iteration); C cleared first and accumulated into (beta = 1) is the same.
        var beta = beta
        if beta == 0 {
            c.update(repeating: 0, count: m * n)
            beta = 1
        }
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(n))
    }

    /// Number of threads OpenBLAS uses for one product (default: all cores).
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }
}
