import Testing
@testable import BettyScript

/// Sessions compile by default, and actually replay: a session test that passes on the dynamic tape
/// alone would not test the compiled mode.
@Suite struct CompiledSessionTests {
    @Test func aSessionReplaysEveryProblemAndGivesTheDynamicTapesNumbers() throws {
        let (compiled, c) = replay(tinyProgram + "\nrun 30\nshow engine\nprint inner.params\nprint outer.params")
        #expect(c.errors.isEmpty, "\(c.errors.map(\.rendered))")
        for name in ["inner", "outer"] {
            let line = try #require(c.text.split(separator: "\n").first { $0.hasPrefix("  \(name): ") }, "\(c.text.suffix(600))")
            #expect(line.contains("compiled,") && line.contains("replayed, recorded 1 time"), "\(line)")
        }
        let (_, d) = replay("engine compile=off\n" + tinyProgram + "\nrun 30\nshow engine\nprint inner.params\nprint outer.params")
        #expect(d.errors.isEmpty, "\(d.errors.map(\.rendered))")
        #expect(d.text.contains("compile=false") && !d.text.contains("\ncompile:\n"), "\(d.text.suffix(600))")
        // The printed parameters (every digit shown) are the same either way.
        func printed(_ text: String) -> [Substring] { text.split(separator: "\n").filter { $0.hasPrefix("Tensor(") || $0.hasPrefix("[") } }
        #expect(printed(c.text) == printed(d.text) && !printed(c.text).isEmpty, "\(c.text.suffix(400))\n--\n\(d.text.suffix(400))")
        _ = compiled
    }
}
