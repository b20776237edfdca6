import Betty
import BettyDashboard
import Foundation

/// A two-level run publishing a step every 2 ms from its own thread, like an engine would.
func startSyntheticRun(into feed: MonitorFeed) {
    feed.publish(.program(levels: ["outer", "inner"], paths: [["outer", "inner"]]))
    Thread.detachNewThread { @Sendable in
        let start = ContinuousClock.now
        for step in 1... {
            let time = (ContinuousClock.now - start) / .seconds(1)
            for (level, scale) in [("outer", Float(1)), ("inner", Float(3))] {
                let loss = scale / Float(step).squareRoot() + 0.05 * Float(sin(Double(step) / 7))
                feed.publish(.step(StepEvent(globalStep: step, problem: level, localStep: step, loss: loss,
                                             hypergradientNorm: level == "outer" ? loss / 2 : nil,
                                             liveBytes: 1 << 20, peakBytes: 2 << 20, optimizerStepped: true,
                                             time: time)))
            }
            feed.publish(.run(RunStatus(state: .running, globalStep: step, completed: step, total: 1_000_000,
                                        elapsed: time)))
            Thread.sleep(forTimeInterval: 0.002)
        }
    }
}
