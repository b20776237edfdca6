#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The check made before a large allocation whose size comes from user input (a data generator's
/// sample count, a file's header, a module's sizes): a request that cannot fit is refused with an
/// error that says how much was asked for, instead of the process aborting in `malloc`.
///
/// A request fits when it is at most the memory the system has available (`MemAvailable` in
/// `/proc/meminfo`, or less where a cgroup v2 memory limit leaves less; where neither can be read,
/// the physical memory) and, when `limit` is set, when
/// it fits in what the limit leaves beside the tensor storage alive now (`MemoryStats.liveBytes`).
///
///     try MemoryBudget.check(floats: MemoryBudget.product([samples, features]), for: "logistic data")
public enum MemoryBudget {
    /// 0 stands for "no limit"; a limit is always positive.
    private static let storedLimit = Atomic<Int>(0)

    /// A cap on the bytes of tensor storage alive at once, for the whole process (like PyTorch's
    /// per-process memory fraction); nil, the default, leaves only the system's available memory.
    public static var limit: Int? {
        get {
            let bytes = storedLimit.load(ordering: .relaxed)
            return bytes > 0 ? bytes : nil
        }
        set {
            precondition(newValue.map { $0 > 0 } ?? true, "MemoryBudget.limit must be positive; set nil for no limit")
            storedLimit.store(newValue ?? 0, ordering: .relaxed)
        }
    }

    /// Why a request was refused.
    public enum Bound: Sendable, Equatable {
        /// The system's available memory.
        case available(bytes: Int)
        /// The physical memory, where the available memory cannot be read.
        case physical(bytes: Int)
        /// `limit`, with the bytes of tensor storage already alive under it.
        case limit(bytes: Int, inUse: Int)
    }

    /// A request that does not fit. `purpose` names what asked, in the caller's terms; a caller
    /// closer to the user (the session language) may replace it with the user's own words.
    public struct Exceeded: Error, Sendable, Equatable, CustomStringConvertible {
        public var purpose: String
        /// The bytes asked for; nil when their count overflows a 64-bit integer.
        public var bytes: Int?
        /// The Float32 elements asked for, when the request is for elements.
        public var floats: Int?
        public var bound: Bound

        public init(purpose: String, bytes: Int?, floats: Int? = nil, bound: Bound) {
            self.purpose = purpose
            self.bytes = bytes
            self.floats = floats
            self.bound = bound
        }

        public var description: String { description(limitName: "memory limit") }

        /// One line: what asked, how much, and the bound it passes. `limitName` is what the user
        /// knows the limit by (the session language says `engine memory_limit`).
        public func description(limitName: String) -> String {
            let asked: String = if let bytes {
                "needs \(ByteCount.format(bytes))" + (floats.map { " (\(ByteCount.formatCount($0)) floats)" } ?? "")
            } else {
                "needs more than \(ByteCount.format(Int.max)) (its size overflows a 64-bit count)"
            }
            let over: String = switch bound {
            case let .available(bytes): "more than the \(ByteCount.format(bytes)) available"
            case let .physical(bytes): "more than the \(ByteCount.format(bytes)) of physical memory"
            case let .limit(bytes, inUse) where inUse > 0:
                "more than the \(ByteCount.format(bytes)) \(limitName) leaves beside the \(ByteCount.format(inUse)) of tensors alive"
            case let .limit(bytes, _): "more than the \(ByteCount.format(bytes)) \(limitName)"
            }
            return "\(purpose) \(asked), \(over)"
        }
    }

    /// Throws when `floats` Float32 elements (nil: a count that overflowed) cannot be allocated now.
    /// `purpose` is built only when the request is refused.
    public static func check(floats: Int?, for purpose: @autoclosure () -> String) throws(Exceeded) {
        let bytes = floats.flatMap { product([$0, MemoryLayout<Float>.size]) }
        try ensureRoom(bytes: bytes, floats: bytes == nil ? nil : floats, purpose: purpose)
    }

    /// Throws when `bytes` (nil: a count that overflowed) cannot be allocated now.
    public static func check(bytes: Int?, for purpose: @autoclosure () -> String) throws(Exceeded) {
        try ensureRoom(bytes: bytes, floats: nil, purpose: purpose)
    }

    private static func ensureRoom(bytes: Int?, floats: Int?, purpose: () -> String) throws(Exceeded) {
        let inUse = MemoryStats.liveBytes
        if let bound = refusal(bytes: bytes, limit: limit, inUse: inUse, system: systemBound) {
            throw Exceeded(purpose: purpose(), bytes: bytes, floats: floats, bound: bound)
        }
    }

    /// The bound a request of `bytes` (nil: overflowed) passes, or nil when it fits. The limit is
    /// judged first, and the system asked only when the limit lets the request through.
    static func refusal(bytes: Int?, limit: Int?, inUse: Int, system: () -> (bound: Bound, bytes: Int)) -> Bound? {
        guard let bytes else { return limit.map { .limit(bytes: $0, inUse: inUse) } ?? system().bound }
        if let limit, bytes > limit - inUse { return .limit(bytes: limit, inUse: inUse) }
        let (bound, room) = system()
        return bytes > room ? bound : nil
    }

    /// The product of `factors` (element counts, dimensions, widths), or nil when it overflows an
    /// `Int`: sizes read from a header or typed by a user are multiplied through this, never with `*`.
    public static func product(_ factors: some Sequence<Int>) -> Int? {
        var result = 1
        for factor in factors {
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// The sum of `terms`, or nil when a term is nil or the sum overflows an `Int`.
    public static func sum(_ terms: some Sequence<Int?>) -> Int? {
        var result = 0
        for term in terms {
            guard let term else { return nil }
            let (next, overflow) = result.addingReportingOverflow(term)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// The memory the system can give this process now.
    public static var available: Bound { systemBound().bound }

    private static func systemBound() -> (bound: Bound, bytes: Int) {
        // In a container the cgroup's limit is what the OOM killer enforces, whatever the host has free.
        let container = cgroupRemaining()
        if let bytes = memAvailable() {
            let least = min(bytes, container ?? .max)
            return (.available(bytes: least), least)
        }
        if let container { return (.available(bytes: container), container) }
        let bytes = physicalMemory
        return (.physical(bytes: bytes), bytes)
    }

    /// What the process's cgroup (v2) and every cgroup above it still allow: the least of
    /// `memory.max - memory.current` along the path; nil where no limit is set or none can be read.
    static func cgroupRemaining(root: String = "/sys/fs/cgroup", membership: String = "/proc/self/cgroup") -> Int? {
        guard let entry = readSmallFile(membership)?.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        var directory = root + String(entry.dropFirst(3)).trimmingSuffixSlash()
        var least: Int?
        while directory.count >= root.count {
            if let max = readSmallFile(directory + "/memory.max").flatMap({ Int($0.filter { !$0.isWhitespace }) }),
               let current = readSmallFile(directory + "/memory.current").flatMap({ Int($0.filter { !$0.isWhitespace }) }) {
                least = Swift.min(least ?? .max, Swift.max(0, max - current))
            }
            guard let slash = directory.lastIndex(of: "/"), directory != root else { break }
            directory = String(directory[..<slash])
        }
        return least
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    /// `MemAvailable` from `/proc/meminfo` (Linux 3.14 and later): free memory plus what the kernel
    /// can reclaim without swapping, the figure `free` shows as "available".
    private static func memAvailable() -> Int? {
        #if os(Linux)
        guard let text = readSmallFile("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let kibibytes = Int(fields[1]) else { return nil }
            return product([kibibytes, 1024])
        }
        return nil
        #else
        return nil
        #endif
    }

    /// The machine's physical memory in bytes (Int.max where it cannot be read): a file loaded
    /// whole cannot be larger, so it is also the limit for readers that have no tighter one.
    public static var physicalMemory: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return Int.max }
        return product([pages, pageSize]) ?? Int.max
    }
}

private extension String {
    func trimmingSuffixSlash() -> String { hasSuffix("/") ? String(dropLast()) : self }
}
