import Betty
import BettyDashboard
import Testing

@Suite struct SeriesTests {
    /// A million noisy points with spikes far apart: the decimated envelope still reaches every
    /// spike's value, in the column the spike fell in.
    @Test func spikesSurviveAMillionAppends() {
        var series = Series()
        var noise = RecordedRun.Noise(state: 7)
        let spikes: [Int: Float] = [1_234: 50, 333_333: -40, 777_777: 90, 999_990: 60]
        for x in 0..<1_000_000 { series.append(x: x, y: spikes[x] ?? noise.next()) }
        #expect(series.count == 1_000_000)
        #expect(series.maximum == 90)
        #expect(series.minimum == -40)
        let columns = 120
        let envelope = series.envelope(from: 0, to: 999_999, columns: columns)
        for (x, y) in spikes {
            let c = Series.column(of: x, from: 0, to: 999_999, columns: columns)
            let near = envelope[max(0, c - 1)...min(columns - 1, c + 1)]
            let reached = y > 0 ? near.contains { $0.maximum == y } : near.contains { $0.minimum == y }
            #expect(reached, "spike \(y) at \(x) lost")
        }
        #expect(envelope.compactMap(\.maximum).max() == 90)
        #expect(envelope.compactMap(\.minimum).min() == -40)
        #expect(series.memoryBytes < 256 * 1024)
    }

    /// Two levels (loss and hypergradient norm), memory and a metric over a million global steps.
    @Test func aModelStaysBoundedOverAMillionSteps() {
        var model = MonitorModel()
        model.apply(.program(levels: ["classifier", "reweight"], paths: [["reweight", "classifier", "reweight"]]))
        var noise = RecordedRun.Noise(state: 3)
        for step in 1...1_000_000 {
            let loss = 1 + noise.next()
            model.apply(.step(StepEvent(globalStep: step, problem: "classifier", localStep: step, loss: loss,
                                        hypergradientNorm: nil, liveBytes: 1 << 20, peakBytes: 1 << 21,
                                        optimizerStepped: true, time: Double(step) / 1000)))
            model.apply(.step(StepEvent(globalStep: step, problem: "reweight", localStep: step, loss: loss,
                                        hypergradientNorm: loss, liveBytes: 1 << 20, peakBytes: 1 << 21,
                                        optimizerStepped: true, time: Double(step) / 1000)))
            if step % 100 == 0 {
                model.apply(.memory(MemorySample(globalStep: step, time: Double(step) / 1000, residentBytes: 1 << 28,
                                                 liveBytes: 1 << 20, peakBytes: 1 << 21)))
                model.apply(.validation(globalStep: step, metrics: ["accuracy": loss]))
            }
        }
        #expect(model.memoryBytes <= 16 * 1024 * 1024)
        #expect(model.level(named: "reweight")?.hypergradientNorm?.count == 1_000_000)
        #expect(abs((model.level(named: "classifier")?.stepsPerSecond ?? 0) - 1000) < 1e-6)
    }

    @Test func nonFiniteValuesAreMarkedNotMeasured() {
        var series = Series(tailCapacity: 4, bucketCapacity: 4)
        for x in 0..<40 { series.append(x: x, y: x == 3 ? .nan : x == 30 ? .infinity : Float(x % 5)) }
        #expect(series.nonFiniteCount == 2)
        #expect(series.firstNonFinite?.x == 3)
        #expect(series.maximum == 4)
        #expect(series.minimum == 0)
        let envelope = series.envelope(from: 0, to: 39, columns: 40)
        #expect(envelope.contains { $0.nonFinite })
        #expect(envelope.allSatisfy { ($0.maximum ?? 0).isFinite && ($0.minimum ?? 0).isFinite })
    }

    @Test func smoothingIsDebiasedAndFollowsTheData() {
        var series = Series()
        for x in 0..<10 { series.append(x: x, y: 2) }
        let smooth = series.smoothed(weight: 0.6, from: 0, to: 9, columns: 10)
        #expect(smooth.allSatisfy { $0.map { abs($0 - 2) < 1e-5 } ?? false })
    }

    /// Inside the full-resolution tail every step keeps its own value.
    @Test func eachStepOfTheTailAppearsOnceInTheWindow() {
        var series = Series(tailCapacity: 16, bucketCapacity: 4)
        for x in 0..<100 { series.append(x: x, y: Float(x)) }
        let envelope = series.envelope(from: 90, to: 99, columns: 10)
        #expect(envelope.map(\.last) == (90..<100).map { Float($0) })
    }
}

@Suite struct FormatTests {
    @Test func numbers() {
        #expect(Format.number(0.693147) == "0.6931")
        #expect(Format.number(12.345) == "12.35")
        #expect(Format.number(0.000123456) == "1.23e-4")
        #expect(Format.number(123456789.0) == "1.23e8")
        #expect(Format.number(-2.5) == "-2.5")
        #expect(Format.number(Double.nan) == "NaN")
        #expect(Format.number(-Double.infinity) == "-inf")
        #expect(Format.number(0.0) == "0")
    }

    @Test func bytesAndDurations() {
        #expect(Format.bytes(512) == "512 B")
        #expect(Format.bytes(222_600_000) == "212.3 MiB")
        #expect(Format.bytes(3 << 30) == "3.0 GiB")
        #expect(Format.duration(65) == "1m05s")
        #expect(Format.duration(2 * 3600 + 3 * 60 + 9) == "2h03m")
        #expect(Format.duration(42) == "42s")
        #expect(Format.duration(.nan) == "-")
    }
}

@Suite struct RateAfterPauseTests {
    static func step(_ n: Int, at time: Double) -> MonitorEvent {
        .step(StepEvent(globalStep: n, problem: "inner", localStep: n, loss: 1, hypergradientNorm: nil,
                        liveBytes: 0, peakBytes: 0, optimizerStepped: true, time: time))
    }

    static func status(_ state: RunStatus.State, _ n: Int) -> MonitorEvent {
        .run(RunStatus(state: state, globalStep: n, completed: n, total: 1000, elapsed: 0))
    }

    /// Ten steps a second, a pause of 100 s, ten steps a second again: the rate after the pause is
    /// ten, not the average over the pause.
    @Test func aPauseDoesNotCountAsSlowness() throws {
        var model = MonitorModel()
        model.apply(Self.status(.running, 0))
        for n in 1...20 { model.apply(Self.step(n, at: Double(n) / 10)) }
        model.apply(Self.status(.paused, 20))
        model.apply(Self.status(.running, 20))
        for n in 21...30 { model.apply(Self.step(n, at: 100 + Double(n) / 10)) }
        let rate = try #require(model.level(named: "inner")?.stepsPerSecond)
        #expect(abs(rate - 10) < 1e-6, "\(rate)")
        let overall = try #require(model.stepsPerSecond)
        #expect(abs(overall - 10) < 1e-6, "\(overall)")
    }
}
