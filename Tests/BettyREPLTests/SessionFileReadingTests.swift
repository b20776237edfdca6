#if os(Linux)
import Foundation
import Glibc
import Testing

/// How betty-repl reads the FILE it is given: plain errors for paths that are not session files, a named
/// pipe read to its end, and a bad byte reported where it stands (CommandLineTests has the rest).
@Suite(.serialized)
struct SessionFileReadingTests {
    @Test func pathsThatAreNotFilesGetOneLineThatSaysWhy() throws {
        let home = try TemporaryDirectory()
        let missing = try InteractiveREPLTests.runREPL(arguments: [home.path + "/nosuch.betty"])
        #expect(missing.status == 2)
        #expect(missing.stdout == "error: cannot read \(home.path)/nosuch.betty: no such file\n", "\(missing.stdout)")
        let directory = try InteractiveREPLTests.runREPL(arguments: [home.path])
        #expect(directory.stdout == "error: cannot read \(home.path): it is a directory, not a regular file\n", "\(directory.stdout)")
    }

    @Test func aByteThatIsNotUTF8IsAnErrorAtItsPlace() throws {
        let home = try TemporaryDirectory()
        let file = home.path + "/bad.betty"
        try Data("print 6 * 7\nprint \u{1}".utf8 + [0xFF] + Array(" 2\n".utf8)).write(to: URL(fileURLWithPath: file))
        let result = try InteractiveREPLTests.runREPL(arguments: ["--keep-going", file])
        #expect(result.status == 2)
        #expect(result.stdout.contains("42\n"), "\(result.stdout)")
        #expect(result.stdout.contains("bad.betty:2:8: error: the session file is not UTF-8 text (byte 0xff)"), "\(result.stdout)")
    }

    @Test func aNamedPipeIsReadToItsEnd() throws {
        let home = try TemporaryDirectory()
        let fifo = home.path + "/session.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let writer = Thread {
            // Opening blocks until betty-repl opens the other end.
            if let handle = FileHandle(forWritingAtPath: fifo) {
                handle.write(Data("let a = 6\nprint a * 7\n".utf8))
                try? handle.close()
            }
        }
        writer.start()
        let result = try InteractiveREPLTests.runREPL(arguments: [fifo])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("42\n"), "\(result.stdout)")
    }
}
#endif
