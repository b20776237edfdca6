import Betty
import BettyNN
import BettyTensor

/// The session's names, shared by everything it compiles.
final class Bindings {
    var values: [String: Slot<Value>] = [:]
    var datasets: [String: Slot<Dataset>] = [:]
    var datasetOrder: [String] = []
    /// Data sets of few-shot tasks, with the number of support points of each task.
    var taskShots: [String: Int] = [:]
    /// The episode streams the problems' `TASKS.support` and `TASKS.query` loaders share, by data set.
    var episodes: [String: Episodes] = [:]
    private(set) var refs: [String: ProblemRef] = [:]
    /// Defined problems, in definition order.
    var problemOrder: [String] = []
    /// The metrics of the latest validation, read as `validation.NAME`.
    var lastValidation: [String: Float] = [:]
    /// The latest `check hypergrad`, read as `check.METHOD.FIELD`.
    var lastCheck: HypergradientCheck?

    func ref(_ name: String) -> ProblemRef {
        if let r = refs[name] { return r }
        let r = ProblemRef(name: name)
        refs[name] = r
        return r
    }

    func isProblem(_ name: String) -> Bool { refs[name]?.problem != nil }

    var problems: [Problem] { problemOrder.compactMap { refs[$0]?.problem } }

    /// Every name an expression can use at the top level, for "did you mean" and completion.
    var allNames: [String] {
        values.keys.sorted() + datasetOrder + problemOrder + Functions.names + ["validation", "check"]
    }
}
