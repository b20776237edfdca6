import BettyScript
import Foundation
import Testing

/// Few-shot task data (`sinusoid`, `TASKS.support` / `TASKS.query`) and `reset_on_start from=`.
@Suite struct TaskDataTests {
    static func program(unroll: Int = 1, type: String = "reverse", adaptModule: String = "mlp 1 -> 8 -> 1", adaptData: String = "tasks.support",
                        from: String = "meta") -> String {
        """
        seed 2
        data tasks = sinusoid tasks=40 shots=5 query=5
        problem adapt
          module    \(adaptModule)
          optimizer sgd lr=0.01
          data      \(adaptData)
          loss      mse(adapt(x), y)
          config    type=\(type) unroll=\(unroll)
          reset_on_start from=\(from)
        end
        problem meta
          module    mlp 1 -> 8 -> 1
          optimizer adam lr=0.01
          data      tasks.query
          loss      mse(adapt(x), y)
        end
        connect meta -> adapt
        """
    }

    @Test func sinusoidDefinesTasksThatSplitIntoTasks() {
        let (_, t) = replay("data tasks = sinusoid tasks=50 shots=4 query=6 seed=1\nsplit tasks -> train 40, test 10")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("tasks: 50 tasks of 4 support + 6 query points, x [50, 10, 1]"), "\(t.text)")
        #expect(t.text.contains("test: 10 tasks of 4 support + 6 query points"), "\(t.text)")
    }

    @Test func theLevelsTrainAndTheMeanLossIsReadable() {
        let (_, t) = replay(Self.program() + "\nrun 60\nlet late = meta.mean_loss\nexpect late > 0\nexpect late < 100")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.expectations.count == 2 && t.expectations.allSatisfy(\.1), "\(t.expectations)")
    }

    @Test func partsOfNonTaskDataAreRefused() {
        let (_, t) = replay("data all = logistic samples=20 features=1\n" + Self.program(adaptData: "all.support"))
        let e = t.errors.first
        #expect(e?.message.contains("'all' is not a set of few-shot tasks") == true, "\(t.errors.map(\.rendered))")
        #expect(e?.location?.line == 7 && e?.location?.column == 13 && e?.location?.length == 11)
    }

    @Test func aMisspelledPartSuggestsTheRightOne() {
        let (_, t) = replay(Self.program(adaptData: "tasks.suport"))
        #expect(t.errors.first?.message.contains("did you mean 'support'") == true, "\(t.errors.map(\.rendered))")
        #expect(t.errors.first?.location?.column == 19)
    }

    @Test func onePerBatchAndOneSharedOrder() {
        let (_, t) = replay(Self.program(adaptData: "tasks.support batch=4"))
        #expect(t.errors.first?.message.contains("one task per batch") == true, "\(t.errors.map(\.rendered))")
        let (_, u) = replay(Self.program().replacingOccurrences(of: "tasks.query", with: "tasks.query shuffle=false"))
        #expect(u.errors.first?.message.contains("share one task order") == true, "\(u.errors.map(\.rendered))")
    }

    @Test func startingPointsMustMatchAndNotBeItself() {
        let (_, t) = replay(Self.program(from: "adapt"))
        #expect(t.errors.first?.message.contains("cannot start from its own parameters") == true, "\(t.errors.map(\.rendered))")
        let (session, u) = replay(Self.program(adaptModule: "mlp 1 -> 6 -> 1") + "\nrun 2")
        #expect(u.errors.contains { $0.message.contains("cannot start from 'meta'") && $0.message.contains("[6, 1]") },
                "\(u.errors.map(\.rendered))")
        session.execute("show", file: "t.betty", line: 90)
        #expect(u.text.contains("adapt"))
    }

    @Test func aCheckpointTakenWhileATaskIsHeldResumesExactly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("maml-\(UInt32.random(in: 0...UInt32.max)).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Unroll 2: after 3 global steps the support part holds a task the query part has not served.
        // (darts: a reverse-mode window cannot be saved while open, which it would be here.)
        let (session, t) = replay(Self.program(unroll: 2, type: "darts") + "\nrun 3\nsave \"\(path)\"\nrun 6\nprint meta.2.bias\nprint meta.loss")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let continued = t.text.components(separatedBy: "\n").suffix(2)
        session.execute("load \"\(path)\"", file: "t.betty", line: 50)
        for (i, line) in ["run 6", "print meta.2.bias", "print meta.loss"].enumerated() { session.execute(line, file: "t.betty", line: 51 + i) }
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(Array(t.text.components(separatedBy: "\n").suffix(2)) == Array(continued))
    }

    /// Through a reverse-mode level the hypergradient exists only inside its window: `hypergrad`
    /// computes it there, and outside says why not and reports the norm of the last step instead.
    @Test func hypergradThroughAReverseModeLevel() {
        let (_, closed) = replay(Self.program(unroll: 2) + "\nrun 2\nhypergrad meta")
        #expect(closed.errors.isEmpty, "\(closed.errors.map(\.rendered))")
        #expect(closed.text.contains("hypergradient of meta: cannot be taken now, because 'adapt' is reverse mode and its unrolled window is closed; at meta's last step (local step 1) its norm was"),
                "\(closed.text)")
        // `all` shows the gradient that last step applied, every value, although the window is closed.
        let (_, closedAll) = replay(Self.program(unroll: 2) + "\nrun 2\nhypergrad meta all")
        #expect(closedAll.errors.isEmpty, "\(closedAll.errors.map(\.rendered))")
        #expect(closedAll.text.contains("; the gradient of that step:\n  meta.0.weight [8, 1]: norm "), "\(closedAll.text)")
        let (_, open) = replay(Self.program(unroll: 2) + "\nrun 3\nhypergrad meta")
        #expect(open.errors.isEmpty, "\(open.errors.map(\.rendered))")
        #expect(open.text.contains("hypergradient of meta (direct term + 1 path): norm"), "\(open.text)")
    }
}
