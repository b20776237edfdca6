import Testing
@testable import BettyScript

/// `show NAME` prints each line of a problem as it took effect, and a definition that fails leaves
/// nothing of itself behind.
@Suite struct ShowSettingsTests {
    static let problem = """
        problem P
          module params 20
          optimizer sgd
          data D
          loss bce_logits(x @ params, y)
        end
        """

    @Test func showPrintsEveryOptionAndResetRebuildsOnTheDataAsItIsNow() {
        let (session, t) = replay("data D = logistic samples=10\n" + Self.problem + "\nshow P")
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("\n  module params 20 init=zeros\n  optimizer sgd lr=0.01 momentum=0 dampening=0 weight_decay=0 nesterov=false\n  data D batch=10 shuffle=true drop_last=false\n"), "\(t.text)")
        session.execute("data D = logistic samples=1000", file: "t", line: 1)
        session.execute("reset", file: "t", line: 2)
        session.execute("show P", file: "t", line: 3)
        #expect(t.text.hasSuffix("  data D batch=32 shuffle=true drop_last=false\n" + t.text.components(separatedBy: "\n").last!), "\(t.text)")
    }

    @Test func aDefinitionThatFailsStartsNoEpisodeStream() {
        let (_, t) = replay("""
            data T = sinusoid tasks=10 shots=2 query=2
            problem P
              module mlp 1 -> 4 -> 1
              optimizer sgd
              data T.support shuffle=false
              loss mse(P(x), nosuch)
            end
            problem Q
              module mlp 1 -> 4 -> 1
              optimizer sgd
              data T.query
              loss mse(Q(x), y)
            end
            """)
        // Only P's own error: Q is not told the task order was fixed by P, which does not exist.
        #expect(t.errors.map(\.message) == ["unknown name 'nosuch'"], "\(t.errors.map(\.rendered))")
    }
}

extension ShowSettingsTests {
    /// Found while testing redefinition: the second problem to read a problem defined later was
    /// refused, because the first reader had registered the name.
    @Test func twoProblemsMayReadAProblemDefinedAfterThem() {
        func reader(_ name: String) -> String {
            "problem \(name)\n  module params 3\n  optimizer sgd\n  data D\n  loss bce_logits(x @ params, y) + sum(outer.params) + sum(outer(x))\nend"
        }
        let (_, t) = replay("data D = logistic samples=50 features=3\n" + reader("a") + "\n" + reader("b") + """

            problem outer
              module params 3
              optimizer sgd
              data D
              loss mean(square(params))
            end
            connect outer -> a
            connect outer -> b
            run 2
            """)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.text.contains("note: outer is not defined yet; b's loss is checked when it is"), "\(t.text)")
    }
}
