import BettyScript
import Testing

// How a replay ends: a file that stops inside a problem block is an error naming the block, the block
// is dropped (nothing of it defined), and with keepGoing every line still runs.
@Suite struct ReplayEndTests {
    @Test func aFileEndingInsideABlockNamesItAndDropsIt() {
        let transcript = Transcript()
        let session = Session(output: transcript)
        let error = session.replay(["let a = 1", "problem p", "  module params 2"], file: "f.betty")
        #expect(error?.rendered.hasPrefix("f.betty:3:1: error: the input ends inside the block of problem 'p'; add 'end'") == true,
                "\(error?.rendered ?? "none")")
        #expect(!session.isContinuing && session.problemNames.isEmpty)
    }

    @Test func keepGoingRunsEveryLineAndReturnsTheFirstError() {
        let transcript = Transcript()
        let session = Session(output: transcript)
        let error = session.replay(["print bogus", "print 6 * 7", "print nope"], file: "f.betty", keepGoing: true)
        #expect(error?.message == "unknown name 'bogus'", "\(error?.message ?? "none")")
        #expect(transcript.text.split(separator: "\n").contains("42"))
        #expect(transcript.errors.count == 2)
    }
}
