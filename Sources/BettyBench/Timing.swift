#if canImport(Glibc)
import Glibc
#endif

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Median over `runs` of the mean time per call of `body` repeated `repeats` times, after one
/// warm-up run: medians resist the noise of a shared machine.
func medianSeconds(runs: Int = 7, repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<repeats { try body() }
    var samples: [Double] = []
    for _ in 0..<runs {
        let t0 = now()
        for _ in 0..<repeats { try body() }
        samples.append((now() - t0) / Double(repeats))
    }
    samples.sort()
    return samples[samples.count / 2]
}

/// Peak resident set size of this process, in MiB.
func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Keeps a value alive and opaque to the optimiser.
@inline(never)
func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }
