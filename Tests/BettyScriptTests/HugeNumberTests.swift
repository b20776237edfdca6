import BettyScript
import Foundation
import Testing

/// Numbers too large for an integer, typed or read from a file, are refused where they appear; they
/// once trapped converting to Int.
@Suite struct HugeNumberTests {
    @Test func aMilestoneBeyondAnyStepCountIsRefused() {
        let (session, transcript) = replay("""
            data d = logistic samples=20 features=2
            problem p
              module    params 2
              optimizer sgd lr=0.1
              schedule  multistep milestones=(10, 1e30)
              data      d batch=10
              loss      bce_logits(x @ params, y)
            end
            """)
        let error = transcript.errors.first
        #expect(error?.message == "milestones must be an integer 0 to 999999999, got 1e30")
        #expect(error?.location?.line == 5 && error?.location?.column == 39)
        #expect(session.problemNames.isEmpty)
    }

    @Test func aHugeLabelInACSVFileIsDataNotAClass() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-\(UUID().uuidString).csv").path
        try "x,label\n1,0\n2,1e30\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (_, transcript) = replay("data d = csv \"\(path)\"")
        #expect(transcript.errors.isEmpty)
        // No class counts: 1e30 is not a class label.
        #expect(transcript.text.hasSuffix("d: 2 samples, x [2, 1], y [2]"), "\(transcript.text)")
    }
}
