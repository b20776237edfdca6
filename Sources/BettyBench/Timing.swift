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

/// Peak resident set size of this process, in MiB: VmHWM from /proc, which starts afresh at exec
/// (getrusage's maxrss would include `swift run`'s own memory, inherited across exec).
func peakRSSMiB() -> Double {
    guard let file = fopen("/proc/self/status", "r") else { return .nan }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("VmHWM:") {
            let kb = text.split(separator: " ").compactMap { Double($0) }.first ?? .nan
            return kb / 1024
        }
    }
    return .nan
}

/// Keeps a value alive and opaque to the optimiser.
@inline(never)
func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }
