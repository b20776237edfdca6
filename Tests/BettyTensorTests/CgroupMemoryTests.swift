@testable import BettyTensor
import Foundation
import Testing

// In a container the cgroup's limit, not the host's free memory, is what the OOM killer enforces: the
// budget takes the least that the process's cgroup and every cgroup above it still allow.
@Suite struct CgroupMemoryTests {
    private func hierarchy(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cgroup-\(UUID().uuidString)").path
        for (path, text) in files {
            let url = URL(fileURLWithPath: root + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test func theTightestLimitAlongThePathWins() throws {
        let root = try hierarchy([
            "/proc/cgroup": "0::/outer/inner\n",
            "/sys/outer/memory.max": "3000000\n", "/sys/outer/memory.current": "2500000\n",
            "/sys/outer/inner/memory.max": "max\n", "/sys/outer/inner/memory.current": "100\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(MemoryBudget.cgroupRemaining(root: root + "/sys", membership: root + "/proc/cgroup") == 500_000)
    }

    @Test func noLimitOrNoCgroupMeansNoBound() throws {
        let root = try hierarchy(["/proc/cgroup": "0::/\n", "/sys/memory.max": "max\n", "/sys/memory.current": "5\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(MemoryBudget.cgroupRemaining(root: root + "/sys", membership: root + "/proc/cgroup") == nil)
        #expect(MemoryBudget.cgroupRemaining(root: root + "/sys", membership: root + "/nosuch") == nil)
    }
}
