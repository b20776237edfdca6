#if os(Linux)
import Foundation
import Testing

/// End-to-end: inputs that used to abort the process (a data set larger than any machine's memory,
/// an IDX header whose dimensions overflow) are one-line errors at the live prompt, and the session
/// answers the next command.
@Suite(.serialized)
struct HugeInputREPLTests {
    @Test func hugeDataAndAnOverflowingHeaderLeaveThePromptAnswering() throws {
        let home = try TemporaryDirectory()
        // Four dimensions of 2^31 - 1 over four bytes of data: the element count overflows 64 bits.
        let huge = home.path + "/huge.idx"
        var header: [UInt8] = [0, 0, 0x08, 4]
        for _ in 0..<4 { header += [0x7F, 0xFF, 0xFF, 0xFF] }
        try Data(header + [1, 2, 3, 4]).write(to: URL(fileURLWithPath: huge))

        try InteractiveREPLTests().withREPL(home: home, history: home.path + "/history") { repl in
            try repl.expect("betty> ")
            try repl.enter("data d = logistic samples=1e9 features=1e6")
            try repl.expect("error: data d = logistic samples=1e9 features=1e6 needs 4.0 PB (1e15 floats), more than the ")
            try repl.expect("betty> ")

            try repl.enter("data e = idx \"\(huge)\" \"\(huge)\"")
            try repl.expect("error: \(huge): header declares shape [2147483647, 2147483647, 2147483647, 2147483647] of unsigned byte (more than 2^63 bytes of data) but the file holds 4 bytes after the header")
            try repl.expect("betty> ")

            try repl.enter("data s = logistic samples=10 features=2")
            try repl.expect("s: 10 samples")
            try repl.expect("betty> ")
            try repl.enter("show data")
            let shown = try repl.expect("betty> ")
            #expect(shown.contains("data s: 10 samples") && !shown.contains("data d:") && !shown.contains("data e:"), "\(shown.debugDescription)")

            try repl.send("\u{04}")
            #expect(try repl.waitForExit() == 0, "\(repl.transcript)")
        }
    }
}
#endif
