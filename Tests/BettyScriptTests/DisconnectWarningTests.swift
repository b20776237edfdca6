import Testing

// A disconnect that leaves an upper level stepping without its hypergradient says so; one that changes
// nothing the losses depend on does not.
@Suite struct DisconnectWarningTests {
    @Test func anUpperThatStillReadsItsLowerIsWarnedAbout() {
        let (_, transcript) = replay(tinyProgram + "\ndisconnect outer -> inner")
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        #expect(transcript.text.split(separator: "\n").last
                == "warning: outer's loss reads inner, but outer -> inner is disconnected: outer now steps on its direct gradient alone, with no hypergradient through inner's steps; 'connect outer -> inner' restores it")
    }

    @Test func pairsThatDoNotReadEachOtherAreNot() {
        let program = """
            data all = logistic samples=40 features=2
            problem a
              module params 2
              optimizer sgd lr=0.1
              data all batch=40
              loss bce_logits(x @ params, y)
            end
            problem b
              module params 2
              optimizer sgd lr=0.1
              data all batch=40
              loss bce_logits(x @ params, y)
            end
            connect b -> a
            disconnect b -> a
            """
        let (_, transcript) = replay(program)
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        #expect(!transcript.text.contains("warning"), "\(transcript.text)")
    }
}
