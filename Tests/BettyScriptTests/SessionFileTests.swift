import BettyScript
import Foundation
import Testing

// Every file in sessions/ replays headless, without an error, and meets its expectations.
@Suite(.serialized) struct SessionFileTests {
    static let files: [String] = {
        let dir = repositoryRoot.appendingPathComponent("sessions")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".betty") }.sorted()
    }()

    @Test func thereAreSessions() {
        #expect(Self.files.contains("quickstart.betty"))
        #expect(Self.files.count >= 4, "\(Self.files)")
    }

    @Test(arguments: files)
    func replays(file: String) throws {
        let path = repositoryRoot.appendingPathComponent("sessions").appendingPathComponent(file).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let (session, transcript) = replay(text, file: "sessions/\(file)", stopAtError: true)
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        #expect(session.failedExpectations == 0, "\(transcript.expectations.filter { !$0.1 })")
        #expect(!transcript.expectations.isEmpty, "a session file should state what it expects")
        #expect(!session.isContinuing)
    }
}
