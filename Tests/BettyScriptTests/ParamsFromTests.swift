@testable import BettyScript
import Foundation
import Testing

/// `module params ... from=...`: a level starts from a data set's tensor or an `.npy` file.
@Suite struct ParamsFromTests {
    static let data = """
        seed 1
        data d = logistic samples=4 features=3
        """

    static func problem(_ module: String) -> String {
        """
        problem p
          module    \(module)
          optimizer sgd lr=0.1
          data      d batch=4
          loss      sum(params^2)
        end
        """
    }

    @Test func startsFromADataSetsTensor() {
        let (_, t) = replay(Self.data + "\n" + Self.problem("params 12 from=d.x") + "\nexpect sum(p.params) == sum(d.x)\nexpect sum(p.params * p.params) == sum(d.x * d.x)")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.expectations.count == 2 && t.expectations.allSatisfy(\.1), "\(t.expectations)")
    }

    @Test func startsFromAnNPYFile() throws {
        // The npy file the data command reads: d.y written by hand as float32 (4 values).
        let path = NSTemporaryDirectory() + "betty-params-\(UUID().uuidString).npy"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        for x: Float in [0.5, -1, 2, 3.25] { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes += $0 } }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (_, t) = replay(Self.data + "\n" + Self.problem("params 4 from=\"\(path)\"") + "\nprint sum(p.params)")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.text.hasSuffix("\n4.75"), "\(t.text)")
    }

    @Test func aCountThatDoesNotFitIsOneErrorAtTheSource() {
        let (session, t) = replay(Self.data + "\n" + Self.problem("params 5 from=d.x"))
        #expect(t.errors.first?.message == "from gives 12 values (shape [4, 3]), and params 5 needs 5", "\(t.errors.map(\.rendered))")
        #expect(!session.problemNames.contains("p"))
        let (_, other) = replay(Self.data + "\n" + Self.problem("params 5 from=nothing"))
        #expect(other.errors.first?.message == "from takes a quoted .npy file or a data set's tensor (NAME.x or NAME.y)", "\(other.errors.map(\.rendered))")
    }
}
