import Betty
import BettyScript
import Foundation
import Testing
import _TestSupport

@Suite struct TensorBoardSessionTests {
    /// tinyProgram with a metric on the inner level and a validation every 4 global steps.
    static let program = tinyProgram.replacingOccurrences(of: "  config    type=darts unroll=5", with: "  metric    w0 = sum(params)\n  config    type=darts unroll=5")
        + "\nvalidate every 4: acc = mean(square(inner.params))"

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("betty-\(name)-\(UUID().uuidString)").path
    }

    static func eventFiles(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("events.out.tfevents.") }.sorted()
            .map { directory + "/" + $0 }
    }

    @Test func aRunWritesOneTagPerProblemAndMetricAtTheGlobalStep() throws {
        let directory = Self.temporary("tb")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (session, transcript) = replay(Self.program + "\nengine valid_step=4 tensorboard=\"\(directory)\"\nrun 10")
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        #expect(transcript.text.contains("tensorboard: writing events to \(directory) (tensorboard --logdir \(directory) shows them)"), "\(transcript.text)")
        let files = try Self.eventFiles(in: directory)
        try #require(files.count == 1, "\(files)")
        let events = try EventFileReader.events(Array(try Data(contentsOf: URL(fileURLWithPath: files[0]))))
        #expect(events.first?.fileVersion == "brain.Event:2")
        let scalars = EventFileReader.scalars(events)
        #expect(Set(scalars.keys) == ["inner/loss", "inner/w0", "outer/loss", "hypergradient_norm/outer", "validation/acc",
                                      "memory/live_bytes", "memory/peak_bytes"])

        // Every value is the one the session's events carried, at the global step.
        let steps = transcript.events.compactMap { if case let .step(e) = $0 { e } else { nil } }
        func expected(_ problem: String, _ value: (StepEvent) -> Float?) -> [String] {
            steps.filter { $0.problem == problem }.compactMap { e in value(e).map { "\(e.globalStep):\($0)" } }
        }
        func series(_ tag: String) -> [String] { (scalars[tag] ?? []).map { "\($0.step):\($0.value)" } }
        #expect(series("inner/loss") == expected("inner") { $0.loss } && series("inner/loss").count == 10)
        #expect(series("inner/w0") == expected("inner") { $0.metrics["w0"] })
        #expect(series("outer/loss") == expected("outer") { $0.loss } && scalars["outer/loss"]?.map(\.step) == [5, 10])
        #expect(series("hypergradient_norm/outer") == expected("outer") { $0.hypergradientNorm })
        let validations = transcript.events.compactMap { if case let .validation(step, m) = $0 { "\(step):\(m["acc"]!)" } else { nil } }
        #expect(series("validation/acc") == validations && validations.count == 2)
        #expect(scalars["memory/live_bytes"]?.map(\.step) == Array(1...10))

        // Shown, kept when given again, and still written after the engine is rebuilt.
        session.execute("show engine", file: "t", line: 1)
        #expect(transcript.text.contains("tensorboard=\"\(directory)\""), "\(transcript.text)")
        session.execute("engine tensorboard=\"\(directory)/\"", file: "t", line: 2)
        #expect(transcript.text.contains("note: already writing TensorBoard events to \(directory)/; they go on in the same file"), "\(transcript.text)")
        session.execute("reset", file: "t", line: 3)
        session.execute("run 2", file: "t", line: 4)
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")
        #expect(try Self.eventFiles(in: directory).count == 1)
        let after = EventFileReader.scalars(try EventFileReader.events(Array(try Data(contentsOf: URL(fileURLWithPath: files[0])))))
        #expect(after["inner/loss"]?.count == 12)
    }

    @Test func aDirectoryThatCannotBeMadeIsRefusedAndChangesNothing() throws {
        let csv = Self.temporary("log") + ".csv"
        defer { try? FileManager.default.removeItem(atPath: csv) }
        let (session, transcript) = replay(tinyProgram + "\nengine csv=\"\(csv)\" tensorboard=\"/dev/null/runs\"")
        #expect(transcript.errors.map(\.message) == ["cannot write /dev/null/runs: a part of the path is not a directory"])
        // The CSV option beside it did not take effect either.
        #expect(!FileManager.default.fileExists(atPath: csv))
        let before = transcript.text.count
        session.execute("show engine", file: "t", line: 1)
        let shown = String(transcript.text.dropFirst(before))
        #expect(shown.contains("engine:") && !shown.contains("tensorboard=") && !shown.contains("csv="), "\(shown)")
        let (_, unquoted) = replay(tinyProgram + "\nengine tensorboard=runs")
        #expect(unquoted.errors.first?.message == "tensorboard needs a quoted value: tensorboard=\"...\"", "\(unquoted.errors.map(\.rendered))")
    }

    /// `BETTY_PYTHON`: a Python with the `tensorboard` package (.ci/run makes one in .build/ci-venv).
    static let python = ProcessInfo.processInfo.environment["BETTY_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }

    /// TensorBoard's own reader (`EventAccumulator`) finds in our event file every tag, step and value
    /// of the CSV log of the same run, mapped as Betty names them (Tests/python/check_tensorboard.py).
    @Test(.enabled(if: python != nil, "BETTY_PYTHON is not set, so TensorBoard's own reader was not run (.ci/run sets it to a virtual environment with tensorboard)"))
    func tensorBoardsOwnReaderAgreesWithTheCSVLog() throws {
        let directory = Self.temporary("tb")
        let csv = directory + "/run.csv"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, transcript) = replay(Self.program + "\nengine valid_step=4 tensorboard=\"\(directory)/events\" csv=\"\(csv)\"\nrun 25")
        #expect(transcript.errors.isEmpty, "\(transcript.errors.map(\.rendered))")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python!)
        process.arguments = [repositoryRoot.appendingPathComponent("Tests/python/check_tensorboard.py").path, directory + "/events", csv]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print("check_tensorboard.py (\(Self.python!)):\n" + output)
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("ok: 7 tags"), "\(output)")
    }
}
