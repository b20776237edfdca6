#if canImport(Glibc)
import Glibc
#endif

/// The process's own memory, as the kernel counts it, for the dashboard's memory panel.
public enum ProcessMemory {
    /// Resident set size from /proc/self/statm (its second field, in pages); nil where there is no /proc.
    /// Read with open/read into a stack-sized buffer: called ten times a second, it should not allocate much.
    public static func residentBytes() -> Int? {
        #if os(Linux)
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count >= 2, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return pages * sysconf(Int32(_SC_PAGESIZE))
        #else
        return nil
        #endif
    }
}
