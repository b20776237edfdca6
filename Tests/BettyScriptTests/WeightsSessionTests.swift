import BettyNN
import BettyTensor
import Foundation
import Testing
@testable import BettyScript

/// `save weights NAME "f"` and `load weights "f" into NAME`: a problem's module as a PyTorch state
/// dict; every refusal is one error and leaves the session as it was.
@Suite(.serialized) struct WeightsSessionTests {
    static func program(hidden: Int = 8, seed: Int = 3) -> String {
        """
        seed \(seed)
        data all = logistic samples=120 features=4
        problem net
          module    sequential linear(4, \(hidden)), batchnorm(\(hidden)), relu, linear(\(hidden), 1)
          optimizer sgd lr=0.1
          data      all batch=40
          loss      bce_logits(reshape(net(x), -1), y)
        end
        """
    }

    static func scratch() throws -> String {
        let directory = NSTemporaryDirectory() + "betty-weights-session-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Every parameter and buffer of problem `name`, as bits, by state-dict name.
    static func state(_ session: Session, _ name: String = "net") -> [String: [UInt32]] {
        let module = session.program.bindings.refs[name]!.problem!.module
        return Dictionary(uniqueKeysWithValues: module.stateDict.map { ($0.name, $0.tensor.scalars.map(\.bitPattern)) })
    }

    @Test func savedWeightsLoadIntoAnotherSessionBitForBit() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/net.safetensors"
        let (trained, t1) = replay(Self.program() + "\nrun 5\nsave weights net \"\(path)\"")
        #expect(t1.errors.isEmpty, "\(t1.errors.map(\.rendered))")
        #expect(t1.text.hasSuffix("saved the weights of net (9 tensors, 65 parameters) to \(path)"), "\(t1.text)")
        let file = try SafeTensorsFile(path: path)
        #expect(file.entries.map(\.name) == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias",
                                             "1.running_mean", "1.running_var", "1.num_batches_tracked"])

        let (fresh, t2) = replay(Self.program(seed: 11))
        #expect(Self.state(fresh) != Self.state(trained))
        let counter = Self.state(fresh)["1.num_batches_tracked"]
        #expect(fresh.execute("load weights \"\(path)\" into net") == nil)
        #expect(t2.text.hasSuffix("loaded \(path) into net (9 tensors, 65 parameters)"), "\(t2.text)")
        var expected = Self.state(trained), loaded = Self.state(fresh)
        // The batch counter is written but not loaded (it only counts batches).
        #expect(expected.removeValue(forKey: "1.num_batches_tracked") != counter)
        #expect(loaded.removeValue(forKey: "1.num_batches_tracked") == counter)
        #expect(loaded == expected)
        // The loaded module runs: a step after loading trains from the loaded weights.
        #expect(fresh.execute("step") == nil)
    }

    @Test func aMismatchListsEveryNameAndChangesNothing() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/net.safetensors"
        let (_, t1) = replay(Self.program(hidden: 6) + "\nsave weights net \"\(path)\"")
        #expect(t1.errors.isEmpty)
        let (session, t2) = replay(Self.program())
        let before = Self.state(session)
        let error = try #require(session.execute("load weights \"\(path)\" into net"))
        #expect(error.message == """
            the weights in \(path) do not fit the module (7 problems; nothing was loaded):
              size mismatch for '0.weight': copying a tensor of shape [6, 4] from the file, the shape in the module is [8, 4]
              size mismatch for '0.bias': copying a tensor of shape [6] from the file, the shape in the module is [8]
              size mismatch for '1.weight': copying a tensor of shape [6] from the file, the shape in the module is [8]
              size mismatch for '1.bias': copying a tensor of shape [6] from the file, the shape in the module is [8]
              size mismatch for '3.weight': copying a tensor of shape [1, 6] from the file, the shape in the module is [1, 8]
              size mismatch for '1.running_mean': copying a tensor of shape [6] from the file, the shape in the module is [8]
              size mismatch for '1.running_var': copying a tensor of shape [6] from the file, the shape in the module is [8]
            """, "\(error.message)")
        #expect(Self.state(session) == before)
        #expect(t2.errors.count == 1)
    }

    @Test func badStatementsAreOneErrorEach() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (session, transcript) = replay(Self.program())
        let before = Self.state(session)
        let cases: [(String, String)] = [
            ("load weights \"\(directory)/none.safetensors\" into net", "cannot load weights: cannot read \(directory)/none.safetensors"),
            ("load weights \"\(directory)/x.safetensors\" into nothing", "unknown problem 'nothing'"),
            ("load weights \"\(directory)/x.safetensors\"", "expected 'into' and a problem after the file"),
            ("load weights \"\(directory)/x.safetensors\" to net", "expected 'into' and a problem after the file"),
            ("save weights nothing \"\(directory)/x.safetensors\"", "unknown problem 'nothing'"),
            ("save weights net", "expected the file to write: save weights net \"FILE.safetensors\""),
            ("save weights net \"\(directory)\"", "cannot save the weights of net: cannot write \(directory)"),
        ]
        for (line, message) in cases {
            let error = session.execute(line)
            #expect(error?.message.hasPrefix(message) == true, "\(line): \(error?.message ?? "no error")")
            #expect(error?.message.contains("\n") == false, "\(line): one line")
        }
        #expect(Self.state(session) == before)
        #expect(!FileManager.default.fileExists(atPath: directory + "/x.safetensors"))
        // A path that starts with the word stays a checkpoint path: save weights.safetensors, save weights.
        #expect(session.execute("save \"\(directory)/c.safetensors\"") == nil)
        #expect(session.execute("load \"\(directory)/c.safetensors\"") == nil)
        #expect(transcript.errors.count == cases.count)
    }

    @Test func thePlainCheckpointFormsStillParse() throws {
        func parsed(_ line: String) throws -> Statement? {
            let tokens = try Lexer.tokens(of: line, file: "t", lineNumber: 1)
            return try Parser.statement(tokens, inBlock: false, endOfLine: SourceLocation(file: "t", line: 1, column: line.count + 1))
        }
        let paths: [(String, String)] = [("save weights", "weights"), ("save weights.safetensors", "weights.safetensors"),
                                         ("load weights", "weights"), ("load weights.safetensors", "weights.safetensors"),
                                         ("load \"weights\"", "weights"), ("save \"a.safetensors\"", "a.safetensors")]
        for (line, path) in paths {
            switch try parsed(line) {
            case let .save(p, _)?, let .load(p, _)?: #expect(p == path, "\(line)")
            default: Issue.record("\(line) is not a checkpoint statement")
            }
        }
        guard case let .saveWeights(problem, path, _)? = try parsed("save weights net \"n.safetensors\""),
              case let .loadWeights(path2, problem2, _)? = try parsed("load weights \"m.safetensors\" into inner") else {
            Issue.record("the weights statements did not parse")
            return
        }
        #expect(problem.text == "net" && path == "n.safetensors" && path2 == "m.safetensors" && problem2.text == "inner")
    }

    @Test func refusedWhileRunningAllowedWhenPausedAndLoadEndsThePausedRun() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/w.safetensors"
        let output = BackgroundRunTests.LockedOutput()
        let session = Session(output: output)
        session.runsInBackground = true
        for (i, line) in (Self.program() + "\nengine log_every=1000000").split(separator: "\n").enumerated() {
            session.execute(String(line), file: "p", line: i + 1)
        }
        session.execute("run 1000000", file: "t", line: 1)
        for line in ["save weights net \"\(path)\"", "load weights \"\(path)\" into net"] {
            let error = session.execute(line, file: "t", line: 2)
            #expect(error?.message.contains("type 'pause' first") == true, "\(error?.message ?? "no error")")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        session.execute("pause", file: "t", line: 3)
        #expect(session.execute("save weights net \"\(path)\"", file: "t", line: 4) == nil)
        #expect(session.runStatus.state == .paused, "saving weights keeps the run paused")
        #expect(session.execute("load weights \"\(path)\" into net", file: "t", line: 5) == nil)
        #expect(!session.hasActiveRun)
        #expect(output.lines.contains { $0.hasPrefix("the paused run ended at global step") && $0.contains("so that 'load weights' can change the program") })
        #expect(output.errors.count == 2)
    }
}
