import Synchronization

/// A request to stop a running engine (the REPL's Ctrl-C). Making it only stores to an atomic, so it
/// is safe from any thread and from a signal handler; the engine sees it at its next global-step
/// boundary or, inside a long step, at its next check (before each problem's step and at every
/// iteration of the hypergradient loops).
public final class CancellationRequest: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func request() { flag.store(true, ordering: .relaxed) }

    public var isRequested: Bool { flag.load(ordering: .relaxed) }

    /// Withdraws the request; returns whether there was one.
    @discardableResult
    public func clear() -> Bool { flag.exchange(false, ordering: .relaxed) }
}

/// When a request to cancel is honoured inside a step, and how far back the engine may roll.
public struct CancellationTiming: Sendable, Equatable {
    /// A request is honoured at the next global-step boundary, or inside the step once it has waited
    /// this long: a step that ends soon may finish, and only a long one is undone part-way.
    public var patience: Duration
    /// At a step boundary the engine renews its restore point (what it rolls back to when a step is
    /// cancelled part-way) once the last one is this old. The work a cancel can throw away is at most
    /// this plus the cancelled step; renewing costs a copy of each tensor a step then changes.
    public var restorePointAge: Duration

    public init(patience: Duration = .milliseconds(20), restorePointAge: Duration = .milliseconds(250)) {
        self.patience = patience
        self.restorePointAge = restorePointAge
    }
}

/// Where a cancelled run stopped, and the global step whose end the state is at now.
public struct Interruption: Sendable, Equatable, CustomStringConvertible {
    public enum Point: Sendable, Equatable, CustomStringConvertible {
        /// Between two global steps: no step was undone.
        case stepBoundary
        /// Inside a global step, before `problem` took its local step.
        case beforeStep(problem: String)
        /// Inside the hypergradient of a path through `problem`, computed by `method`: before
        /// iteration `iteration` of `count` (Neumann terms, CG iterations, the two finite-difference
        /// gradients of darts and SAMA, the parameter tensors of a reverse-mode product).
        case hypergradient(problem: String, method: ProblemConfig.Method, iteration: Int, count: Int)
        /// Inside a window a hypergradient check runs below `problem` (`Engine.checkHypergradient`).
        case checkWindow(problem: String, step: Int, count: Int)

        /// "neumann iteration 12,345 of 1,000,000,000 through 'inner'"
        public var description: String {
            switch self {
            case .stepBoundary:
                return "at a step boundary"
            case let .beforeStep(problem):
                return "before the step of '\(problem)'"
            case let .hypergradient(problem, method, iteration, count):
                let what = switch method {
                case .neumann: "neumann iteration"
                case .cg: "cg iteration"
                case .darts, .sama: "\(method.rawValue) finite-difference gradient"
                case .reverse: "reverse-mode product, parameter tensor"
                }
                return "\(what) \(grouped(iteration)) of \(grouped(count)) through '\(problem)'"
            case let .checkWindow(problem, step, count):
                return "step \(grouped(step)) of \(grouped(count)) of a check's window below '\(problem)'"
            }
        }
    }

    /// The global step that was running (at a boundary: the last one completed).
    public var globalStep: Int
    public var point: Point
    /// The state is as at the end of this global step; for a cancel inside a step it is the engine's
    /// restore point, at most `CancellationTiming.restorePointAge` of work before the cancelled step.
    public var stateAfterStep: Int

    public init(globalStep: Int, point: Point, stateAfterStep: Int) {
        self.globalStep = globalStep
        self.point = point
        self.stateAfterStep = stateAfterStep
    }

    /// "during global step 41 (neumann iteration 12,345 of 1,000,000,000 through 'inner')"
    public var description: String {
        point == .stepBoundary ? "after global step \(globalStep)" : "during global step \(globalStep) (\(point))"
    }
}

/// An integer with thousands separators, as a person reads a large count.
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return n < 0 ? "-" + out : out
}
