import Betty
import BettyDashboard

/// A deterministic two-level run, generated rather than recorded so it cannot drift: rational decay
/// and an integer LCG (no libm), so every machine computes the same floats.
enum RecordedRun {
    static let levels = ["classifier", "reweight"]
    static let paths = [["reweight", "classifier", "reweight"]]

    struct Noise {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
    }

    static func events(steps: Int = 1200, total: Int = 5000) -> [MonitorEvent] {
        var noise = Noise(state: 42)
        var events: [MonitorEvent] = [
            .program(levels: levels, paths: paths),
            .run(RunStatus(state: .running, globalStep: 0, completed: 0, total: total, elapsed: 0)),
            .output(OutputLine(.info, "run \(total) steps")),
        ]
        for step in 1...steps {
            let time = Double(step) * 0.01
            let live = 18_000_000 + (step % 50) * 10_000
            let loss = 2 / (1 + Float(step) / 100) + 0.1 + 0.05 * noise.next()
            events.append(.step(StepEvent(globalStep: step, problem: "classifier", localStep: step, loss: loss,
                                          hypergradientNorm: nil, liveBytes: live, peakBytes: 40_000_000,
                                          optimizerStepped: true, time: time)))
            if step % 5 == 0 {
                let upper: Float = step == 615 ? .nan : 0.7 + 0.3 / (1 + Float(step) / 400) + 0.02 * noise.next()
                let norm = 0.05 / (1 + Float(step) / 200) + 0.002 * noise.next()
                events.append(.step(StepEvent(globalStep: step, problem: "reweight", localStep: step / 5, loss: upper,
                                              hypergradientNorm: norm, liveBytes: live, peakBytes: 40_000_000,
                                              optimizerStepped: true, time: time)))
            }
            if step % 50 == 0 {
                events.append(.memory(MemorySample(globalStep: step, time: time, residentBytes: 200_000_000 + step * 10_000,
                                                   liveBytes: live, peakBytes: 40_000_000)))
            }
            if step % 200 == 0 {
                events.append(.validation(globalStep: step, metrics: ["accuracy": 0.5 + 0.4 * Float(step) / Float(steps)]))
                events.append(.run(RunStatus(state: .running, globalStep: step, completed: step, total: total,
                                             elapsed: time)))
            }
        }
        events.append(.output(OutputLine(.warning, "reweight: loss NaN at step 615")))
        events.append(.output(OutputLine(.expectationPassed, "expect classifier.loss < 1: passed")))
        return events
    }

    static func model() -> MonitorModel {
        var model = MonitorModel()
        model.apply(events(), dropped: 3)
        return model
    }
}
