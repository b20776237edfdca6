import Betty
import BettyDashboard
import Foundation
import Synchronization

/// Runs the engine for a session, on the interpreter's own thread (a replayed file, headless) or on
/// a background thread (the interactive prompt), and lets other threads pause it, step it, and take
/// turns with it at global-step boundaries.
///
/// The gate: whichever thread runs the engine holds `gate` for the whole run and lets go of it only
/// while parked at a step boundary. A thread that reads or changes the session while a run is under
/// way takes the gate (`withGate`) and so gets it at the next boundary: it sees the state at the end
/// of a global step, never a step half done, and nothing runs beside it. The engine pays one atomic
/// load per step for this; it parks only when someone is waiting or a pause was asked for.
///
/// It also keeps the run's own state (below), apart from the program the run changes: a background
/// engine thread and the prompt share it, so it has one owner, and the gate says who may touch it.
final class RunController: @unchecked Sendable {
    private let gate = NSCondition()
    /// Threads waiting to take the gate (not holding it).
    private let waiting = Atomic<Int>(0)
    private let pauseRequested = Atomic<Bool>(false)
    /// Steps the engine may take while paused (the dashboard's `s`, `step N` at a paused prompt).
    private let stepCredits = Atomic<Int>(0)
    /// Bumped each time the engine parks for a pause, so a waiter can tell a new park from an old one.
    private let parks = Atomic<Int>(0)
    /// Whether a run is under way on the background thread (running or parked); set and cleared by
    /// the interpreter's `startInBackground` and the runner's last act.
    private let backgroundActive = Atomic<Bool>(false)
    private let status = Locked(RunStatus(state: .idle, globalStep: 0, completed: 0, total: 0, elapsed: 0))
    /// Running time of the current run, pauses excluded.
    private let clock = Locked<(runningSince: ContinuousClock.Instant?, accumulated: Duration)>((nil, .zero))
    /// Signalled whenever the state changes (parked, resumed, finished).
    private let changed = NSCondition()
    /// Receives every status change (the dashboard's feed); called on the thread that made it.
    var onStatus: (@Sendable (RunStatus) -> Void)?

    // MARK: - The run's state
    // Read and written by whichever thread holds the gate (the interpreter, or the engine's runner
    // while it runs), except the two that the signal handler touches, which are atomic.

    /// Ctrl-C: set from the signal handler, seen by the running engine (every engine the session
    /// builds shares it) and by the interpreter between steps.
    let cancellation = CancellationRequest()
    /// True while the prompt waits for a background run (`wait`, `pause`): Ctrl-C then pauses the engine.
    let waitingForRun = Atomic<Bool>(false)
    /// Steps still to run after an interrupted `run` (`continue` runs them).
    var pendingSteps = 0
    /// The current run prints a progress line every this many global steps when the program sets no
    /// `log_every` (about ten per run).
    var runLogEvery = 1
    /// Set while `stop` or a command that needs the program ends a background run, so the run's last
    /// line says so instead of offering 'continue'.
    var ending: RunEnding? {
        get { endingBox.withLock { $0 } }
        set { endingBox.withLock { $0 = newValue } }
    }
    /// Set by the prompt's thread while the run goes on, read by the run's thread when it ends.
    private let endingBox = Locked<RunEnding?>(nil)

    /// The current state; safe from any thread.
    var current: RunStatus {
        var now = status.withLock { $0 }
        now.elapsed = elapsed
        return now
    }

    /// A run is on the background thread, running or paused.
    var isActive: Bool { backgroundActive.load(ordering: .acquiring) }

    /// Paused at a step boundary inside a background run.
    var isPaused: Bool { isActive && current.state == .paused }

    // MARK: - The interpreter's side

    /// Runs `body` holding the gate: at once when no run holds it, else at the engine's next step boundary.
    func withGate<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        waiting.add(1, ordering: .sequentiallyConsistent)
        gate.lock()
        waiting.subtract(1, ordering: .sequentiallyConsistent)
        defer {
            gate.broadcast()
            gate.unlock()
        }
        return try body()
    }

    /// Starts `body` (which runs the engine through `run(total:_:)`'s hooks) on a background thread.
    /// The caller holds the gate (every statement runs under it), so the thread starts once the
    /// statement that asked for the run has finished.
    func startInBackground(_ body: @escaping @Sendable () -> Void) {
        backgroundActive.store(true, ordering: .releasing)
        pauseRequested.store(false, ordering: .sequentiallyConsistent)
        stepCredits.store(0, ordering: .sequentiallyConsistent)
        let thread = Thread { [self] in
            gate.lock()
            body()
            backgroundActive.store(false, ordering: .releasing)
            gate.broadcast()
            gate.unlock()
            signalChange()
        }
        // Losses and hypergradients recurse through closures; the main thread's 8 MiB is what they were sized for.
        thread.stackSize = 16 << 20
        thread.name = "betty-engine"
        thread.start()
    }

    /// Asks the engine to park at its next step boundary; returns at once.
    func requestPause() {
        pauseRequested.store(true, ordering: .sequentiallyConsistent)
    }

    var pauseIsRequested: Bool { pauseRequested.load(ordering: .sequentiallyConsistent) }

    /// Lets a paused engine go on.
    func resume() {
        pauseRequested.store(false, ordering: .sequentiallyConsistent)
        stepCredits.store(0, ordering: .sequentiallyConsistent)
        // Running from now on for whoever asks (a `wait` or `step` typed right after), not only once
        // the engine has woken.
        if current.state == .paused { publish { $0.state = .running } }
        signalChange()
    }

    /// Lets a paused engine take `count` more steps; returns once it has parked again or finished.
    /// Returns at once when the run ends first (no boundary follows its last step).
    func step(_ count: Int, tick: () -> Void = {}) {
        let before = parks.load(ordering: .sequentiallyConsistent)
        stepCredits.add(count, ordering: .sequentiallyConsistent)
        signalChange()
        // Ctrl-C meanwhile cancels the step under way (the run is paused, so a pause would change nothing).
        waitingForRun.store(true, ordering: .releasing)
        defer { waitingForRun.store(false, ordering: .releasing) }
        waitUntil(tick: tick) {
            !self.isActive
                || (self.parks.load(ordering: .sequentiallyConsistent) > before && self.stepCredits.load(ordering: .sequentiallyConsistent) == 0)
        }
    }

    /// Lets a paused engine take one more step; returns at once (the dashboard's `s`).
    func grantStep() {
        guard current.state == .paused else { return }
        stepCredits.add(1, ordering: .sequentiallyConsistent)
        signalChange()
    }

    /// Blocks until the background run has finished or parked; `tick` runs about ten times a second
    /// meanwhile (printing what the run wrote, noticing Ctrl-C).
    func waitUntilSettled(tick: () -> Void = {}) {
        waitUntil(tick: tick) { !self.isActive || self.current.state == .paused }
    }

    /// Blocks until the background run's thread has let go for good.
    func waitUntilFinished(tick: () -> Void = {}) {
        waitUntil(tick: tick) { !self.isActive }
    }

    private func waitUntil(tick: () -> Void = {}, _ condition: () -> Bool) {
        changed.lock()
        while !condition() {
            changed.unlock()
            tick()
            changed.lock()
            if condition() { break }
            _ = changed.wait(until: Date(timeIntervalSinceNow: 0.1))
        }
        changed.unlock()
        tick()
    }

    private func signalChange() {
        changed.lock()
        changed.broadcast()
        changed.unlock()
    }

    // MARK: - The runner's side

    /// Marks the start of a run of `total` steps from `globalStep`.
    func begin(total: Int, globalStep: Int) {
        // A pause asked for as the previous run ended must not stop this one at its first boundary.
        pauseRequested.store(false, ordering: .sequentiallyConsistent)
        stepCredits.store(0, ordering: .sequentiallyConsistent)
        clock.withLock { $0 = (ContinuousClock.now, .zero) }
        publish { $0 = RunStatus(state: .running, globalStep: globalStep, completed: 0, total: total, elapsed: 0) }
    }

    /// Called by the engine at each step boundary (`Engine.stepBoundary`), holding the gate: records
    /// progress, and parks while someone waits for the gate or a pause is asked for. Returns whether
    /// it let go of the gate (a statement may have changed the program meanwhile).
    func boundary(completed: Int, globalStep: Int) -> Bool {
        status.withLock {
            $0.completed = completed
            $0.globalStep = globalStep
        }
        guard waiting.load(ordering: .sequentiallyConsistent) > 0 || pauseRequested.load(ordering: .sequentiallyConsistent) else { return false }
        var announced = false
        while true {
            if waiting.load(ordering: .sequentiallyConsistent) > 0 {
                _ = gate.wait(until: Date(timeIntervalSinceNow: 0.05))
                continue
            }
            // A cancel (stop, Ctrl-C) ends a pause: the run then ends at this boundary.
            guard pauseRequested.load(ordering: .sequentiallyConsistent), !cancellation.isRequested else { break }
            let credits = stepCredits.load(ordering: .sequentiallyConsistent)
            if credits > 0, stepCredits.compareExchange(expected: credits, desired: credits - 1, ordering: .sequentiallyConsistent).exchanged {
                break
            }
            // Announced once per park; again when the prompt resumed the run and paused it anew before
            // this thread woke up (the state then says running, and a `pause` would wait forever).
            if !announced || status.withLock({ $0.state }) != .paused {
                if !announced { stopClock() }
                announced = true
                publish { $0.state = .paused }
                parks.add(1, ordering: .sequentiallyConsistent)
                signalChange()
            }
            gate.unlock()
            changed.lock()
            if pauseRequested.load(ordering: .sequentiallyConsistent), stepCredits.load(ordering: .sequentiallyConsistent) == 0,
               waiting.load(ordering: .sequentiallyConsistent) == 0 {
                _ = changed.wait(until: Date(timeIntervalSinceNow: 0.05))
            }
            changed.unlock()
            gate.lock()
        }
        if announced {
            clock.withLock { $0.runningSince = ContinuousClock.now }
            publish { $0.state = .running }
            signalChange()
        }
        return true
    }

    /// Marks the end of the run.
    func end(_ state: RunStatus.State, globalStep: Int, completed: Int) {
        stopClock()
        pauseRequested.store(false, ordering: .sequentiallyConsistent)
        stepCredits.store(0, ordering: .sequentiallyConsistent)
        publish {
            $0.state = state
            $0.globalStep = globalStep
            $0.completed = completed
        }
        signalChange()
    }

    /// Seconds the current run has been running.
    var elapsed: Double {
        clock.withLock { c in
            let running = c.runningSince.map { ContinuousClock.now - $0 } ?? .zero
            return (c.accumulated + running) / .seconds(1)
        }
    }

    private func stopClock() {
        clock.withLock { c in
            if let since = c.runningSince { c.accumulated += ContinuousClock.now - since }
            c.runningSince = nil
        }
    }

    private func publish(_ change: (inout RunStatus) -> Void) {
        let elapsed = self.elapsed
        let new = status.withLock { s in
            change(&s)
            s.elapsed = elapsed
            return s
        }
        onStatus?(new)
    }
}

/// Why a background run is being ended from the prompt.
enum RunEnding {
    /// `stop` (or `quit`): the remaining steps are dropped.
    case stop
    /// A command that changes the program needs the paused run out of the way; 'continue' runs the rest.
    case makeRoom(command: String)
}
