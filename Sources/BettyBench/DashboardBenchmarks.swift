import Betty
import BettyDashboard
import BettyScript
import BettyTensor
import BettyTerminal
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The live monitor's cost (issue 16): the reweight_mnist program stepped headless and with the
/// dashboard drawing into a pseudo-terminal at 120x40, in alternation in one process so drift on a
/// shared machine hits both alike; and the memory the dashboard's series hold after a million steps.
enum DashboardBenchmarks {
    static func all(quick: Bool) throws -> [Row] {
        [try stepsPerSecond(rounds: quick ? 3 : 7, steps: quick ? 200 : 600), seriesMemory()]
    }

    /// sessions/reweight_mnist.betty without its runs and expectations: the program, defined.
    static func reweightProgram() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("sessions/reweight_mnist.betty"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("run") && !$0.hasPrefix("expect") }.joined(separator: "\n")
    }

    static func stepsPerSecond(rounds: Int, steps: Int) throws -> Row {
        BLAS.threadCount = 1
        let (session, output) = try ScriptBenchmarks.session(try reweightProgram(), file: "reweight_mnist.betty")
        try ScriptBenchmarks.execute(session, output, "engine log_every=1000000000")
        try ScriptBenchmarks.execute(session, output, "run 5")
        let screen = try DrawnDashboard(session: session)
        defer { screen.close() }
        var headless: [Double] = [], drawn: [Double] = []
        for _ in 0..<rounds {
            session.monitor = nil
            let t0 = now()
            try ScriptBenchmarks.execute(session, output, "run \(steps)")
            headless.append(Double(steps) / (now() - t0))
            session.monitor = screen.feed
            let t1 = now()
            try ScriptBenchmarks.execute(session, output, "run \(steps)")
            drawn.append(Double(steps) / (now() - t1))
        }
        guard screen.frames > 0 else { throw ScriptBenchmarks.BenchmarkError(description: "the dashboard drew no frame") }
        let base = median(headless)
        return Row(name: "reweight_mnist steps/s, dashboard at 120x40 in a pty (\(screen.frames) frames)", ours: median(drawn),
                   unit: "steps/s", torch: nil, baseline: ("headless", base),
                   target: ">= 97% of headless (\(format(median(drawn) / base * 100, 1))%)")
    }

    /// The dashboard model after 1,000,000 global steps of a two-level program (a step event per
    /// level, the upper one with a hypergradient norm, a memory sample and a validation every 1000).
    static func seriesMemory() -> Row {
        var model = MonitorModel()
        model.apply(.program(levels: ["inner", "outer"], paths: [["outer", "inner", "outer"]]))
        var x: Float = 0.5
        for step in 1...1_000_000 {
            x = x * 0.999_99 + 0.000_01 * Float(step % 97)
            model.apply(.step(StepEvent(globalStep: step, problem: "inner", localStep: step, loss: x, hypergradientNorm: nil,
                                        liveBytes: 1 << 20, peakBytes: 2 << 20, optimizerStepped: true, time: Double(step) * 1e-4)))
            model.apply(.step(StepEvent(globalStep: step, problem: "outer", localStep: step, loss: x * 2, hypergradientNorm: x / 3,
                                        liveBytes: 1 << 20, peakBytes: 2 << 20, optimizerStepped: true, time: Double(step) * 1e-4)))
            if step % 100 == 0 {
                model.apply(.memory(MemorySample(globalStep: step, time: Double(step) * 1e-4, residentBytes: 100 << 20,
                                                 liveBytes: 1 << 20, peakBytes: 2 << 20)))
            }
            if step % 1000 == 0 { model.apply(.validation(globalStep: step, metrics: ["acc": x])) }
        }
        return Row(name: "dashboard series after 1,000,000 steps, two levels", ours: Double(model.memoryBytes) / 1_048_576,
                   unit: "MiB", torch: nil, target: "<= 16 MiB")
    }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
}

/// A dashboard drawing on its own thread into a pseudo-terminal whose other end is read and thrown
/// away, as a terminal emulator would read it.
private final class DrawnDashboard: @unchecked Sendable {
    let feed = MonitorFeed()
    private let terminal: CursesTerminal
    private let loop: DashboardLoop
    private let stop = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let frameCount = FrameCount()
    private let master: Int32

    var frames: Int { frameCount.value.load(ordering: .relaxed) }

    init(session: Session) throws {
        let pty = try PseudoTerminalPair(columns: 120, rows: 40)
        master = pty.master
        if ProcessInfo.processInfo.environment["TERM"].map({ $0.isEmpty || $0 == "dumb" }) ?? true {
            setenv("TERM", "xterm-256color", 1)
        }
        terminal = try CursesTerminal.open(input: pty.slave, output: pty.slave)
        let frameCount = self.frameCount
        loop = DashboardLoop(feed: feed, host: session.dashboardControls, terminal: terminal) {
            frameCount.value.add(1, ordering: .relaxed)
            return MemorySample(globalStep: session.runStatus.globalStep, time: 0, residentBytes: ProcessMemory.residentBytes() ?? 0,
                                liveBytes: MemoryStats.liveBytes, peakBytes: MemoryStats.peakBytes)
        }
        let master = self.master
        Thread {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while buffer.withUnsafeMutableBytes({ read(master, $0.baseAddress, $0.count) }) > 0 {}
        }.start()
        Thread { [self] in
            _ = loop.run { stop.load(ordering: .relaxed) }
            finished.store(true, ordering: .releasing)
        }.start()
    }

    func close() {
        stop.store(true, ordering: .relaxed)
        while !finished.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.01) }
        terminal.close()
    }
}

private final class FrameCount: Sendable {
    let value = Atomic<Int>(0)
}

/// A pseudo-terminal of the given size. The pty calls of <stdlib.h> need _XOPEN_SOURCE, which the
/// Glibc module does not define: they are looked up in the C library at run time.
private struct PseudoTerminalPair {
    let master: Int32
    let slave: Int32

    init(columns: UInt16, rows: UInt16) throws {
        let process = dlopen(nil, RTLD_NOW)
        func function<F>(_ name: String, _ type: F.Type) throws -> F {
            guard let symbol = dlsym(process, name) else { throw ScriptBenchmarks.BenchmarkError(description: "no \(name)") }
            return unsafeBitCast(symbol, to: type)
        }
        let openpt = try function("posix_openpt", (@convention(c) (Int32) -> Int32).self)
        let grantpt = try function("grantpt", (@convention(c) (Int32) -> Int32).self)
        let unlockpt = try function("unlockpt", (@convention(c) (Int32) -> Int32).self)
        let ptsname = try function("ptsname", (@convention(c) (Int32) -> UnsafeMutablePointer<CChar>?).self)
        master = openpt(O_RDWR | O_NOCTTY)
        guard master >= 0, grantpt(master) == 0, unlockpt(master) == 0, let name = ptsname(master) else {
            throw ScriptBenchmarks.BenchmarkError(description: "no pseudo-terminal: errno \(errno)")
        }
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        slave = open(name, O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw ScriptBenchmarks.BenchmarkError(description: "cannot open \(String(cString: name))") }
    }
}
