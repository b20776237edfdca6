#if os(Linux)
import Foundation
import Testing

/// A command that cannot stop part-way (here: generating a large data set) no longer holds the terminal:
/// a second Ctrl-C, two seconds after an unhonoured first, leaves betty-repl with status 130.
@Suite(.serialized)
struct EmergencyExitTests {
    @Test func aSecondCtrlCLeavesWhenTheFirstIsNotHonoured() throws {
        let home = try TemporaryDirectory()
        try InteractiveREPLTests().withREPL(home: home, history: home.path + "/history") { repl in
            try repl.expect("betty> ")
            // About 400 MB and many seconds in a debug build: long enough for three presses.
            try repl.enter("data big = logistic samples=200000 features=500")
            Thread.sleep(forTimeInterval: 0.3)
            try repl.send("\u{03}")  // asks; data generation cannot stop part-way
            Thread.sleep(forTimeInterval: 0.5)
            try repl.send("\u{03}")  // a quick second press only asks again
            Thread.sleep(forTimeInterval: 2.0)
            try repl.send("\u{03}")
            try repl.expect("interrupted again: the running command cannot stop part-way, so betty-repl is leaving (status 130)")
            #expect(try repl.waitForExit() == 130, "\(repl.transcript)")
        }
    }
}
#endif
