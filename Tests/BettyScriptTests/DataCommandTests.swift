import BettyScript
import Foundation
import Testing

@Suite struct DataCommandTests {
    /// The number a `print` line shows, from the transcript's last line.
    private func printed(_ session: Session, _ transcript: Transcript, _ expression: String) -> Float? {
        session.execute("print \(expression)", file: "t", line: 1)
        return transcript.text.split(separator: "\n").last.flatMap { Float(String($0)) }
    }

    @Test func normalizeUsesTheDataSetsOwnStatisticsOrTheGivenOnes() throws {
        let (session, transcript) = replay("data d = logistic samples=50 features=3\nnormalize d")
        #expect(transcript.errors.isEmpty)
        #expect(abs(try #require(printed(session, transcript, "mean(d.x)"))) < 1e-5)
        #expect(abs(try #require(printed(session, transcript, "sum(d.x * d.x) / 150")) - 1) < 1e-4)
        session.execute("normalize d mean=1 std=2", file: "t", line: 2)
        #expect(abs(try #require(printed(session, transcript, "mean(d.x)")) + 0.5) < 1e-5)
    }

    @Test func splitByCountsIsExact() throws {
        let (session, transcript) = replay("data d = logistic samples=997 features=2\nsplit d -> a 400, b 597")
        #expect(transcript.errors.isEmpty)
        #expect(printed(session, transcript, "a.count") == 400)
        #expect(printed(session, transcript, "b.count") == 597)
    }

    @Test func aPartLargerThanAnyIntegerIsRefusedNotConverted() {
        // 1e30 passed as a count once trapped converting to Int.
        for options in ["", " per_class"] {
            let (session, transcript) = replay("data d = logistic samples=10 features=2\nsplit d -> a 1e30, b 1\(options)")
            let error = transcript.errors.first
            #expect(error?.message == "part 'a' asks for 1e+30 samples; d has 10", "\(error?.message ?? "no error")")
            #expect(error?.location?.column == 14)
            session.execute("show data", file: "t", line: 3)
            #expect(transcript.text.hasSuffix("data d: 10 samples, x [10, 2], y [10], 2 classes (5-5 per class) (logistic samples=10 features=2 seed=0 flatten=false)"))
        }
    }

    // MARK: - CSV header

    /// A CSV file in the temporary directory, removed when `body` returns.
    private func withCSV(_ text: String, _ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-\(UUID().uuidString).csv").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    @Test func csvHeaderAutoSaysItReadATextFirstRowAsAHeader() throws {
        try withCSV("f1,f2,label\n1,2,0\n3,4,1\n") { path in
            let (_, transcript) = replay("data d = csv \"\(path)\"")
            #expect(transcript.errors.isEmpty)
            #expect(transcript.text == """
                \(path): first row read as a header ('f1' in column 1 is not a number)
                d: 2 samples, x [2, 2], y [2], 2 classes (1-1 per class)
                """)
        }
    }

    @Test func csvHeaderAutoSaysItReadANumericFirstRowAsData() throws {
        try withCSV("10,20,1\n1,2,0\n3,4,1\n") { path in
            let (_, transcript) = replay("data d = csv \"\(path)\" header=auto")
            #expect(transcript.errors.isEmpty)
            #expect(transcript.text.hasPrefix("\(path): first row read as data (every field is a number); header=yes reads it as column names\nd: 3 samples"))
        }
    }

    @Test func csvHeaderYesAndNoAreTakenWithoutANote() throws {
        try withCSV("10,20,1\n1,2,0\n3,4,1\n") { path in
            let (_, transcript) = replay("data d = csv \"\(path)\" header=yes\ndata e = csv \"\(path)\" header=no")
            #expect(transcript.errors.isEmpty)
            #expect(transcript.text == "d: 2 samples, x [2, 2], y [2], 2 classes (1-1 per class)\ne: 3 samples, x [3, 2], y [3], 2 classes (1-2 per class)")
        }
    }

    @Test func csvHeaderNoWithATextFirstRowNamesTheRowAndColumn() throws {
        try withCSV("1,2,0\n3,4,1\n") { numeric in
            try withCSV("1,width,label\n1,2,0\n") { path in
                let (session, transcript) = replay("data d = csv \"\(numeric)\" header=no\ndata d = csv \"\(path)\" header=no")
                let error = try #require(transcript.errors.first)
                #expect(error.message == "\(path): line 1, column 2: 'width' is not a number (the first row is read as data, not as a header)")
                // The caret is under the file's path.
                #expect(error.location?.line == 2 && error.location?.column == 14)
                // The earlier d is kept.
                session.execute("print d.count", file: "t", line: 3)
                #expect(transcript.text.hasSuffix("\n2"))
            }
        }
    }

    @Test func csvHeaderTakesOnlyYesNoOrAuto() throws {
        try withCSV("1,2\n") { path in
            let (_, transcript) = replay("data d = csv \"\(path)\" header=maybe")
            #expect(transcript.errors.first?.message == "header must be one of yes, no, auto, not 'maybe'")
        }
    }

    // MARK: - Batches larger than the set, data redefined under a problem

    private let problemOnTrain = """
        data all = logistic samples=120 features=4
        split all -> train 60, valid 60 seed=1
        problem inner
          module    params 4 init=zeros
          optimizer sgd lr=0.1
          data      train BATCH
          loss      bce_logits(x @ params, y)
        end
        """

    @Test func aBatchLargerThanTheSetIsAWarning() {
        let (session, transcript) = replay(problemOnTrain.replacingOccurrences(of: "BATCH", with: "batch=100"))
        #expect(transcript.errors.isEmpty)
        #expect(transcript.text.contains("""
            problem inner: 4 parameters, sgd lr 0.1, batch 100 of 60, darts unroll 1
            warning: problem inner: batch=100 is larger than 'train' (60 samples); every batch is the whole set (test.betty:6:19)
            """), "\(transcript.text)")
        #expect(session.problemNames == ["inner"])
    }

    @Test func aBatchLargerThanTheSetWithDropLastIsAnError() {
        let (session, transcript) = replay(problemOnTrain.replacingOccurrences(of: "BATCH", with: "batch=100 drop_last"))
        let error = transcript.errors.first
        #expect(error?.message == "batch=100 with drop_last is larger than 'train' (60 samples): no batch would ever be produced")
        #expect(error?.location?.line == 6 && error?.location?.column == 19 && error?.location?.length == 9)
        #expect(session.problemNames.isEmpty)
    }

    /// A problem that has drawn nothing takes up redefined data at once (DataBindingTests has the rest).
    @Test func redefiningDataAProblemDrawsFromSaysWhenItTakesItUp() {
        let (session, transcript) = replay(problemOnTrain.replacingOccurrences(of: "BATCH", with: "batch=10") + """

            data train = logistic samples=30 features=4
            show problems
            """)
        #expect(transcript.errors.isEmpty)
        #expect(transcript.text.contains("""
            note: problem inner takes up the new 'train' from its first batch (it has drawn none yet)
            problem inner: 4 parameters, sgd lr 0.1, batch 10 of 30, darts unroll 1
            """), "\(transcript.text)")
        session.execute("run 2", file: "t", line: 20)
        session.execute("normalize train", file: "t", line: 21)
        #expect(transcript.text.hasSuffix("""
            note: problem inner takes up the new 'train' at its next epoch, from local step 4; the 1 batch left of the epoch in progress comes from the old data
            """), "\(transcript.text)")
    }

    @Test func redefiningDataNoProblemHoldsIsSilent() {
        let (_, transcript) = replay(problemOnTrain.replacingOccurrences(of: "BATCH", with: "batch=10") + "\ndata all = logistic samples=50 features=4")
        #expect(transcript.errors.isEmpty)
        #expect(!transcript.text.contains("warning") && !transcript.text.contains("note"))
    }
}
