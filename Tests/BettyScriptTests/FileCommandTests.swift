import Betty
import BettyScript
import Foundation
import Testing

/// `save`, `load`, `record` and `engine csv=` against paths that are not plain files: each is a
/// one-line error in the user's words, nothing in the way is changed, and the session goes on.
@Suite struct FileCommandTests {
    private static func scratchDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("betty-files-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    private static func isCharacterDevice(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR
    }

    /// Foundation's phrasing of a failed write or read, none of which may reach a user.
    private static let foundationText = ["NSCocoaErrorDomain", "Error Domain", "couldn’t", "couldn't", "NSFilePath", "CocoaError"]

    @Test(arguments: [
        "save \"/dev/full\"",
        "record \"/dev/full\"",
        "engine csv=\"/dev/full\"",
    ])
    func devFullIsRefusedAndStaysADevice(command: String) throws {
        let (session, transcript) = replay(tinyProgram)
        #expect(transcript.errors.isEmpty)
        let error = session.execute(command)
        #expect(error?.message == "cannot write /dev/full: it is a character device, not a regular file; nothing was written")
        #expect(Self.isCharacterDevice("/dev/full"))
        #expect(session.execute("print 6 * 7") == nil, "the session goes on")
        #expect(transcript.text.hasSuffix("42"))
    }

    @Test func directoriesAndMissingDirectoriesAreNamed() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (session, _) = replay(tinyProgram)
        var messages: [String] = []
        for command in ["save \"\(directory)\"", "record \"\(directory)\"", "engine csv=\"\(directory)\"", "load \"\(directory)\""] {
            messages.append(session.execute(command)?.message ?? "no error for \(command)")
        }
        #expect(messages == [
            "cannot write \(directory): it is a directory, not a regular file; nothing was written",
            "cannot write \(directory): it is a directory, not a regular file; nothing was written",
            "cannot write \(directory): it is a directory, not a regular file; nothing was written",
            "cannot read \(directory): it is a directory, not a regular file",
        ])
        let missing = directory + "/no/such"
        for command in ["save \"\(missing)/a.safetensors\"", "record \"\(missing)/a.betty\"", "engine csv=\"\(missing)/a.csv\""] {
            #expect(session.execute(command)?.message.hasSuffix(": the directory \(missing) does not exist") == true, "\(command)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [], "nothing was created")
    }

    @Test func noFoundationTextReachesTheUser() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (session, transcript) = replay(tinyProgram)
        for command in ["save \"\(directory)\"", "record \"/dev/null\"", "engine csv=\"\(directory)/x/y.csv\"", "load \"/dev/zero\"",
                        "load \"\(directory)/none.safetensors\"", "save \"\"", "record \"\(directory)/\""] {
            #expect(session.execute(command) != nil, "\(command)")
        }
        for phrase in Self.foundationText { #expect(!transcript.text.contains(phrase), "\(phrase) in:\n\(transcript.text)") }
        #expect(transcript.errors.count == 7)
    }

    /// The same checkpoint with its checksums removed stands for one written before they existed.
    @Test func loadingAnOldCheckpointSaysItsDataWasNotChecked() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/run.safetensors"
        let (session, transcript) = replay(tinyProgram + "\nrun 5\nsave \"\(path)\"")
        #expect(transcript.errors.isEmpty)
        // The checksums taken out by hand (the writer always adds them), spaces keeping the length.
        var bytes = try #require(FileManager.default.contents(atPath: path))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        header = header.replacingOccurrences(of: #""crc32c\.[^"]*":"[0-9a-f]{8}",?"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: ",}", with: "}")
        header += String(repeating: " ", count: headerLength - header.utf8.count)
        bytes.replaceSubrange(8..<(8 + headerLength), with: Data(header.utf8))
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(!header.contains("crc32c"))

        #expect(session.execute("load \"\(path)\"") == nil)
        #expect(transcript.text.hasSuffix("""
            loaded \(path): global step 5
            note: \(path) has no checksums (it was saved before checkpoints had them), so its data could not be checked for damage; save again to add them
            """))
        #expect(session.execute("save \"\(path)\"") == nil)
        #expect(session.execute("load \"\(path)\"") == nil)
        #expect(transcript.text.hasSuffix("loaded \(path): global step 5"), "saved again, it has checksums")
    }

    @Test func recordWritesTheTranscriptThroughAReplacement() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/session.betty"
        try "old contents\n".write(toFile: path, atomically: false, encoding: .utf8)
        let (session, transcript) = replay("seed 4\nlet a = 2")
        #expect(session.execute("record \"\(path)\"") == nil)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "# recorded by betty-repl\nseed 4\nlet a = 2\n")
        #expect(transcript.text.hasSuffix("recorded 2 lines to \(path)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["session.betty"])
    }
}
