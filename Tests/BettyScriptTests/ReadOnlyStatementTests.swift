@testable import BettyScript
import Betty
import BettyNN
import BettyTensor
import Testing

/// Issue 22, "Evaluation is read-only": `print`, `let`, `expect`, `hypergrad`, `validate`, `show` and
/// `check hypergrad` change nothing: every problem's parameters, buffers, optimizer state and random
/// streams hash the same before and after, for every module kind.
@Suite struct ReadOnlyStatementTests {
    static let program = """
        seed 2
        data d = digits
        split d -> train 600, test 300
        problem lin
          module    linear 64 -> 10
          optimizer adam lr=0.01
          data      train batch=50
          loss      cross_entropy(lin(x), y)
        end
        problem net
          module    sequential linear(64, 32), batchnorm(32), relu, dropout(p=0.3), linear(32, 10)
          optimizer sgd lr=0.1 momentum=0.9
          data      train batch=50
          loss      cross_entropy(net(x), y) + 0.001 * sum(decay.params) * sum(net(x)^2) / 50
        end
        problem conv
          module    sequential conv2d(1, 4, kernel=3), relu, maxpool(2), flatten, linear(36, 10)
          optimizer sgd lr=0.1
          data      train batch=50
          loss      cross_entropy(conv(reshape(x, -1, 1, 8, 8)), y)
        end
        problem deep
          module    mlp 64 -> 16 -> 10 activation=tanh
          optimizer adamw lr=0.01
          data      train batch=50
          loss      cross_entropy(deep(x), y)
        end
        problem decay
          module    params 3 init=ones
          optimizer sgd lr=0.01
          data      test batch=50
          loss      cross_entropy(net(x), y)
        end
        connect decay -> net
        validate every 1000: acc = accuracy(net(test.x), test.y)
        run 6
        """

    /// Everything a statement could change, as one number.
    static func fingerprint(_ session: Session) -> Int {
        var hasher = Hasher()
        func add(_ t: Tensor) { for x in t.scalars { hasher.combine(x.bitPattern) } }
        func dropouts(_ m: any Module) -> [Dropout] {
            ((m as? Dropout).map { [$0] } ?? []) + m.children.flatMap { dropouts($0.module) }
        }
        for p in session.program.bindings.problems {
            for parameter in p.module.parameters { add(parameter.value) }
            for (_, buffer) in p.module.namedBuffers { add(buffer.value) }
            for state in p.optimizer.states {
                hasher.combine(state.step)
                for key in state.tensors.keys.sorted() { add(state.tensors[key]!) }
            }
            hasher.combine(p.optimizer.learningRate.bitPattern)
            for dropout in dropouts(p.module) { hasher.combine(dropout.generator) }
            hasher.combine(p.localStep)
            hasher.combine(p.module.isTraining)
        }
        hasher.combine(session.program.engine?.globalStep)
        return hasher.finalize()
    }

    @Test(arguments: [
        "print sum(net(test.x * 5 + 3))",
        "print accuracy(conv(reshape(test.x, -1, 1, 8, 8)), test.y) + accuracy(deep(test.x), test.y) + accuracy(lin(test.x), test.y)",
        "let a = net(train.x)",
        "expect accuracy(net(test.x), test.y) == accuracy(net(test.x), test.y)",
        "hypergrad decay",
        "hypergrad decay all",
        "validate",
        "show problems",
        "check hypergrad decay reference_steps=3",
    ])
    func aReadOnlyStatementChangesNothing(_ line: String) {
        let (session, t) = replay(Self.program)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        let before = Self.fingerprint(session)
        session.execute(line, file: "t", line: 1)
        session.execute(line, file: "t", line: 2)
        #expect(t.errors.isEmpty, "\(t.errors.map(\.rendered))")
        #expect(t.expectations.allSatisfy { $0.1 }, "\(t.expectations)")
        #expect(Self.fingerprint(session) == before, "\(line) changed the state")
    }

    /// The issue's case: two prints through a batch-norm model with inputs far from the data used to
    /// drag its running statistics and drop a later validation.
    @Test func printsThroughBatchNormLeaveTheValidationAsItWas() {
        let (plain, p) = replay(Self.program + "\nvalidate")
        let (printed, q) = replay(Self.program + "\nprint sum(net(test.x * 5 + 3))\nprint sum(net(test.x * 5 + 3))\nvalidate")
        #expect(p.errors.isEmpty && q.errors.isEmpty, "\(q.errors.map(\.rendered))")
        #expect(plain.program.bindings.lastValidation == printed.program.bindings.lastValidation)
        #expect(p.text.split(separator: "\n").last == q.text.split(separator: "\n").last, "\(q.text.split(separator: "\n").last ?? "")")
    }
}
