import BettyScript
import BettyTensor
import Testing

/// Commands that would allocate more than the memory budget allows are refused with one line that
/// says what asked, how much, and the bound; the session goes on with its state as before.
/// The limits are tiny (`engine memory_limit`), so no test depends on the machine's memory.
@Suite(.serialized) struct MemoryLimitTests {
    /// A session replaying `text` with the process-wide limit lifted afterwards.
    private func withSession(_ text: String, _ body: (Session, Transcript) throws -> Void) rethrows {
        defer { MemoryBudget.limit = nil }
        let (session, transcript) = replay(text)
        try body(session, transcript)
    }

    @Test func aHugeGeneratedDataSetIsRefusedInTheUsersWords() throws {
        try withSession("""
            data small = logistic samples=10 features=2
            engine memory_limit="1KB"
            data d = logistic samples=1000 features=1000
            """) { session, transcript in
            let error = try #require(transcript.errors.first)
            #expect(transcript.errors.count == 1)
            #expect(error.message.hasPrefix("data d = logistic samples=1000 features=1000 needs 4.0 MB (1e6 floats), more than the 1.0 KB engine memory_limit"),
                    "\(error.message)")
            // The caret spans the command from its name to its last option.
            #expect(error.location?.line == 3 && error.location?.column == 6 && error.location?.length == 39)
            // Nothing half-defined: the session answers, knows the old set and not the new one.
            session.execute("show data", file: "t", line: 4)
            #expect(transcript.text.hasSuffix("data small: 10 samples, x [10, 2], y [10], 2 classes (5-5 per class) (logistic samples=10 features=2 seed=0 flatten=false)"), "\(transcript.text)")
            #expect(!transcript.text.contains("data d:"))
        }
    }

    @Test func aSetTooLargeForTheMachineSaysWhatIsAvailable() throws {
        // 4 PB: more than any machine has, so the bound is the system's, whatever it is.
        try withSession("data d = logistic samples=1e9 features=1e6") { session, transcript in
            let error = try #require(transcript.errors.first)
            #expect(error.message.hasPrefix("data d = logistic samples=1e9 features=1e6 needs 4.0 PB (1e15 floats), more than the "))
            #expect(error.message.hasSuffix(" available") || error.message.hasSuffix(" of physical memory"))
            session.execute("data e = logistic samples=10 features=2", file: "t", line: 2)
            #expect(transcript.errors.count == 1)
            #expect(transcript.text.contains("e: 10 samples"))
        }
    }

    @Test func aHugeSinusoidPoolIsRefused() throws {
        try withSession("""
            engine memory_limit="1MB"
            data tasks = sinusoid tasks=100000 shots=5 query=15
            show data
            """) { _, transcript in
            let error = try #require(transcript.errors.first)
            // 100000 tasks of 20 points: x and y twice over, and 64 floats of bookkeeping per task.
            #expect(error.message.hasPrefix("data tasks = sinusoid tasks=100000 shots=5 query=15 needs 57.6 MB (1.44e7 floats), more than the 1.0 MB engine memory_limit"),
                    "\(error.message)")
        }
    }

    @Test func aHugeModuleIsRefusedBeforeItsParametersAreAllocated() throws {
        try withSession("""
            data d = logistic samples=20 features=4
            engine memory_limit="100MB"
            problem big
              module    mlp 4 -> 1e7 -> 2
              optimizer sgd lr=0.1
              data      d batch=10
              loss      cross_entropy(big(x), y)
            end
            show problems
            """) { _, transcript in
            let error = try #require(transcript.errors.first)
            // 4·1e7 + 1e7 + 1e7·2 + 2 weights and biases.
            #expect(error.message.hasPrefix("module mlp 4 -> 1e7 -> 2 needs 280.0 MB (7e7 floats), more than the 100.0 MB engine memory_limit"),
                    "\(error.message)")
            #expect(error.location?.line == 4 && error.location?.column == 13)
            #expect(!transcript.text.contains("problem big"))
        }
    }

    @Test func aHugeLayerIsNamedAsTyped() throws {
        try withSession("""
            data d = logistic samples=20 features=4
            engine memory_limit="100MB"
            problem big
              module    sequential linear(4, 8), relu, linear(8, 1e7), relu, linear(1e7, 2)
              optimizer sgd lr=0.1
              data      d batch=10
              loss      cross_entropy(big(x), y)
            end
            """) { _, transcript in
            let error = try #require(transcript.errors.first)
            #expect(error.message.hasPrefix("layer linear(8, 1e7) needs 360.0 MB (9e7 floats), more than the 100.0 MB engine memory_limit"),
                    "\(error.message)")
        }
    }

    @Test func parameterCountsThatOverflowAreRefused() throws {
        try withSession("""
            data d = logistic samples=20 features=4
            problem p
              module    params 1e7, 1e7, 1e7
              optimizer sgd lr=0.1
              data      d batch=10
              loss      sum(params)
            end
            """) { _, transcript in
            let error = try #require(transcript.errors.first)
            #expect(error.message.hasPrefix("module params 1e7, 1e7, 1e7 needs more than 9.2 EB (its size overflows a 64-bit count), more than the "),
                    "\(error.message)")
        }
    }

    @Test func copiesMadeByTransformsAndSplitsAreChecked() throws {
        withSession("data d = logistic samples=1000 features=20") { session, transcript in
            // Room for what is alive now and a little more, not for a copy of d.
            MemoryBudget.limit = MemoryStats.liveBytes + 10_000
            session.execute("normalize d", file: "t", line: 2)
            #expect(transcript.errors.last?.message.hasPrefix("normalize d needs 160.0 KB (40000 floats), more than the ") == true,
                    "\(transcript.errors.last?.message ?? "no error")")
            session.execute("split d -> a 0.5, b 0.5", file: "t", line: 3)
            #expect(transcript.errors.last?.message.hasPrefix("split d -> a 0.5, b 0.5 needs 84.0 KB (21000 floats)") == true,
                    "\(transcript.errors.last?.message ?? "no error")")
            MemoryBudget.limit = nil
            session.execute("show data", file: "t", line: 4)
            #expect(transcript.text.hasSuffix("data d: 1000 samples, x [1000, 20], y [1000], 2 classes (496-504 per class) (logistic samples=1000 features=20 seed=0 flatten=false)"), "\(transcript.text)")
            #expect(!transcript.text.contains("data a:"))
        }
    }

    @Test func theLimitAcceptsByteCountsAndUnitsAndOff() throws {
        withSession("""
            engine memory_limit="512MB"
            engine memory_limit=2e9
            engine memory_limit="1.5GiB"
            show engine
            show memory
            engine memory_limit=off
            """) { _, transcript in
            #expect(transcript.errors.isEmpty)
            let lines = transcript.text.split(separator: "\n").map(String.init)
            #expect(lines[0].hasSuffix(", memory_limit 512.0 MB"))
            #expect(lines[1].hasSuffix(", memory_limit 2.0 GB"))
            #expect(lines[2].hasSuffix(", memory_limit 1.6 GB"))
            #expect(lines.contains { $0.hasPrefix("engine: global step 0") && $0.hasSuffix(" memory_limit=1610612736 (1.6 GB)") })
            #expect(lines.contains { $0.hasPrefix("memory budget: ") && $0.hasSuffix(", engine memory_limit 1.6 GB") })
            #expect(lines.last?.hasSuffix(", memory_limit off") == true)
            #expect(MemoryBudget.limit == nil)
        }
    }

    @Test func aBareSizeSaysToQuoteIt() {
        let (_, transcript) = replay("engine memory_limit=512MB")
        #expect(transcript.errors.map(\.message) == [#"malformed number '512MB'; a size with a unit goes in quotes: "512MB""#])
        #expect(MemoryBudget.limit == nil)
    }

    @Test func aLimitThatIsNotASizeIsRefusedAndChangesNothing() throws {
        withSession("""
            engine memory_limit="1GB"
            engine memory_limit="lots"
            engine memory_limit=0
            engine memory_limit=none
            """) { _, transcript in
            #expect(transcript.errors.count == 3)
            #expect(transcript.errors[0].message.hasPrefix("'lots' is not a size; memory_limit takes a byte count (2e9), a quoted size (\"512MB\", \"1.5GiB\""))
            #expect(transcript.errors[1].message.hasPrefix("memory_limit takes a byte count"))
            #expect(transcript.errors[2].message.hasPrefix("'none' is not a size; memory_limit takes a byte count"))
            #expect(MemoryBudget.limit == 1_000_000_000)
        }
    }
}
