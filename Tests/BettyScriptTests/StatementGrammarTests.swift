import Foundation
import Betty
@testable import BettyScript
import Testing

/// Issue 22: a statement refuses words it does not use, and a problem line that would silently replace
/// or be ignored beside an earlier one is refused (as a second `module` or `loss` line already was).
@Suite struct StatementGrammarTests {
    @Test(arguments: [
        ("show problems inner", "show problems takes no more words, got 'inner'", 15),
        ("show data garbage", "show data takes no more words, got 'garbage'", 11),
        ("show engine now please", "show engine takes no more words, got 'now'", 13),
        ("show graph x", "show graph takes no more words, got 'x'", 12),
        ("show config inner extra", "show config NAME takes no more words, got 'extra'", 19),
        ("show config", "show config takes a problem: show config NAME", 6),
        ("show inner extra", "show NAME takes no more words", 12),
    ])
    func showRefusesWordsItDoesNotUse(line: String, message: String, column: Int) {
        let (_, t) = replay(tinyProgram + "\n" + line)
        #expect(t.errors.count == 1, "\(t.errors.map(\.rendered))")
        #expect(t.errors.first?.message == message, "\(t.errors.first?.rendered ?? "")")
        #expect(t.errors.first?.location?.column == column, "\(t.errors.first?.rendered ?? "")")
    }

    static func block(_ lines: String) -> String {
        """
        seed 1
        data d = logistic samples=20 features=3
        split d -> a 10, b 10
        problem p
          module    params 3 init=ones
          optimizer sgd lr=0.1
        \(lines)
          loss      sum(params^2)
        end
        """
    }

    @Test(arguments: [
        ("  data      a batch=5\n  data      b batch=5", "problem 'p' already has a data line (data a); a problem reads one data set", 13, 8),
        ("  data      a batch=5\n  clamp     min=0\n  clamp     max=1",
         "problem 'p' already has a clamp line; give both bounds on one line: clamp min=A max=B", 3, 9),
        ("  data      a batch=5\n  reset_on_start\n  reset_on_start", "problem 'p' already has a reset_on_start line", 3, 9),
    ])
    func aProblemLineThatWouldReplaceOrBeIgnoredIsRefused(lines: String, message: String, column: Int, line: Int) {
        let (session, t) = replay(Self.block(lines))
        #expect(t.errors.first?.message == message, "\(t.errors.map(\.rendered))")
        #expect(t.errors.first?.location?.column == column && t.errors.first?.location?.line == line, "\(t.errors.map(\.rendered))")
        // The block goes on without the refused line; `end` defines the problem from the rest.
        #expect(session.program.bindings.problems.map(\.name) == ["p"], "\(t.errors.map(\.rendered))")
    }

    @Test func bothBoundsOnOneClampLineHoldBoth() {
        let (_, t) = replay(Self.block("  data      a batch=5\n  clamp     min=0 max=1").replacingOccurrences(of: "sum(params^2)", with: "-sum(params)")
                            + "\nrun 30\nexpect sum(p.params) == 3\nrun 1\nprint p.params")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.expectations.count == 1 && t.expectations.allSatisfy { $0.1 }, "\(t.expectations)")
    }
}

/// Issue 22, state changes at step boundaries: a method or window change inside an open reverse-mode
/// window is refused (it made every later run fail with an autograd message, each still advancing
/// the local step), and accepted once the window has closed.
@Suite struct OpenWindowConfigTests {
    static let program = tinyProgram.replacingOccurrences(of: "config    type=darts unroll=5", with: "config    type=reverse unroll=5")

    @Test(arguments: ["config inner type=darts", "config inner unroll=2", "config inner gradient_accumulation=2"])
    func aMethodOrWindowChangeInsideAnOpenWindowIsRefused(_ line: String) {
        let (session, t) = replay(Self.program + "\nrun 3\n" + line)
        #expect(t.errors.map(\.message) == ["inner's unrolled window is open (step 3 of 5): its type, unroll and gradient_accumulation can change after 2 more steps of it ('step 2' ends the window if inner steps every global step)"],
                "\(t.errors.map(\.rendered))")
        #expect(t.errors.first?.location?.column == 14)
        #expect(session.program.bindings.problems.first { $0.name == "inner" }?.config.type == .reverse)
        session.execute("run 7", file: "t", line: 90)
        session.execute("print inner.params", file: "t", line: 91)
        #expect(t.errors.count == 1, "\(t.errors.map(\.rendered))")
    }

    @Test func theSameChangeAtAWindowBoundaryIsTaken() {
        let (_, t) = replay(Self.program + "\nrun 5\nconfig inner type=darts\nrun 6\nconfig inner darts_alpha=0.02\nrun 3\nconfig inner type=reverse\nrun 5")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
    }
}

/// Issue 22: `engine csv=FILE` given again with the same file keeps the log written so far.
@Suite struct CSVLogAgainTests {
    @Test func theSameFileAgainGoesOnWithTheLog() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("betty-log-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (_, t) = replay(tinyProgram + "\nengine csv=\"\(path)\"\nrun 4\nengine csv=\"\(path)\"\nrun 3")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("note: already logging to \(path); the log goes on in the same file"), "\(t.text)")
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        // The header, then one row per problem step: 7 inner steps and one outer step (unroll 5).
        #expect(rows.first.map(String.init) == CSVLogger.header)
        #expect(rows.filter { $0.hasPrefix("step,") }.count == 8, "\(rows)")
    }
}
