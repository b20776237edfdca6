import BettyNN
import BettyTensor

/// One level of a multilevel program: a module trained by an optimizer on its data, with a loss
/// that may use other levels (Betty's `ImplicitProblem`).
///
/// The training step receives the problem itself, so it can reach other problems by name
/// (`problem["reweight"]`), and the batch drawn for this local step. It returns the loss; the engine
/// adds the direct gradient and every hypergradient path and steps the optimizer.
public final class Problem: @unchecked Sendable {
    public typealias TrainingStep = (_ problem: Problem, _ batch: Batch) throws -> Tensor

    public let name: String
    public let module: any Module
    public let optimizer: any Optimizer
    public var config: ProblemConfig
    public var schedule: LearningRateSchedule?
    public let loaders: [DataLoader]
    public let trainingStep: TrainingStep

    /// Called at the start of each unroll window (e.g. reset the parameters).
    public var onInnerLoopStart: ((Problem) throws -> Void)?
    /// Maps the total gradients before the optimizer step.
    public var gradCallback: (([Tensor]) throws -> [Tensor])?
    /// Called after each optimizer step (e.g. clamp parameters).
    public var paramCallback: ((Problem) throws -> Void)?

    /// Local step count (Betty's `count`); 0 before the problem is part of an engine.
    public var localStep: Int { run?.localStep ?? 0 }
    /// The batch of the latest local step: hypergradients re-evaluate this problem's loss on it.
    public var currentBatch: Batch? { run?.currentBatch }
    /// The unscaled loss of the latest local step.
    public var lastLoss: Float? { run?.lastLoss }
    /// What the training step logged (`log(_:_:)`) on the latest step's own loss evaluation.
    public var lastMetrics: [String: Float] { run?.lastMetrics ?? [:] }
    /// On only while the engine evaluates this step's loss, so re-evaluations (finite differences,
    /// hypergradients) do not overwrite the step's metrics with values at perturbed parameters.
    public var isRecordingMetrics: Bool { run?.isRecordingMetrics ?? false }
    /// The latest total hypergradient norm (direct + paths), when paths exist.
    public var lastHypergradientNorm: Float? { run?.lastHypergradientNorm }

    /// Records a named metric of the current step, e.g. `p.log("acc", accuracy(logits, y))` in the
    /// training step; it travels with the step's event to loggers, the REPL and the dashboard.
    public func log(_ name: String, _ value: Float) {
        guard let run, run.isRecordingMetrics else { return }
        run.lastMetrics[name] = value
    }

    /// Whether this problem keeps its unrolled steps differentiable (reverse-mode hypergradients).
    public var isIterative: Bool { config.type == .reverse }

    /// The engine this problem belongs to (the latest one built over it), which owns its run state
    /// (`ProblemRun`) and resolves `problem["name"]`.
    weak var engine: Engine?
    /// This problem's run record in its engine.
    var run: ProblemRun? { engine?.run(of: self) }
    let baseLearningRate: Float

    public init(name: String, module: any Module, optimizer: any Optimizer, data: [DataLoader],
                config: ProblemConfig = ProblemConfig(), schedule: LearningRateSchedule? = nil,
                trainingStep: @escaping TrainingStep) {
        self.name = name
        self.module = module
        self.optimizer = optimizer
        self.loaders = data
        self.config = config
        self.schedule = schedule
        self.trainingStep = trainingStep
        baseLearningRate = optimizer.learningRate
        trainable = module.parameters
    }

    /// Another problem of the same engine, by name.
    public subscript(name: String) -> Problem {
        guard let engine else { preconditionFailure("problem '\(self.name)' is not part of an engine yet") }
        guard let other = engine.problem(named: name) else {
            preconditionFailure("problem '\(self.name)' refers to unknown problem '\(name)'")
        }
        // Only reverse-mode levels need an edge; the check costs nothing for the others.
        if other.isIterative, let run, run.unconnectedRead == nil, let refused = engine.unconnectedRead(by: self, of: other) {
            // Not thrown here (reading a problem cannot throw): `loss(on:)` throws it when the step returns.
            run.unconnectedRead = refused
        }
        return other
    }

    /// The module's parameters, listed once: a module's structure is fixed after it is built, and
    /// listing walks the module tree and builds names, which a step would otherwise do many times.
    public let trainable: [Parameter]

    /// The trainable parameter values (leaves), in module order.
    public var parameters: [Tensor] { trainable.map(\.value) }

    /// This problem's loss on `batch`, with failures attributed to the problem.
    func loss(on batch: Batch) throws(EngineError) -> Tensor {
        let value: Tensor
        let record = run
        record?.unconnectedRead = nil
        do {
            value = try trainingStep(self, batch)
            if let refused = record?.unconnectedRead { throw refused }
        } catch let error as EngineError {
            throw error
        } catch let error as TensorError {
            throw .tensor(problem: name, error)
        } catch {
            throw .userCode(problem: name, error: error)
        }
        guard value.count == 1 else {
            throw .training(problem: name, message: "the training step must return a scalar loss, got shape \(value.shape)")
        }
        return value
    }

    /// Draws the next batch from the first loader (endless; epochs roll over).
    func nextBatch() throws(EngineError) -> Batch {
        guard let loader = loaders.first else {
            throw .training(problem: name, message: "has no data loader")
        }
        return loader.next()
    }
}
