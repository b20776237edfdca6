import Betty
import BettyDashboard
import BettyTerminal
import Foundation

// betty-dashboard-demo pattern|loop [--pid-file PATH] [--seconds N] [--linger N] [--sigwinch-handler]
// `pattern` draws a fixed grid that names the terminal's size (no renderer involved), so the tmux test
// checks the driver alone; `loop` runs the real DashboardLoop over a synthetic stream and a counting host.
// After the terminal is closed it prints how it ended, which the test reads in the pane, then lingers
// (so the test can check a signal after closing kills as it would have before opening).

let arguments = Array(CommandLine.arguments.dropFirst())
let mode = arguments.first ?? "loop"
func option(_ name: String) -> String? {
    arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
}

// As betty-repl does for its prompt: a SIGWINCH handler of the program's own before the dashboard opens.
if arguments.contains("--sigwinch-handler") {
    signal(SIGWINCH) { _ in }
}

let terminal: CursesTerminal
do {
    terminal = try CursesTerminal.open()
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    print("demo: plain output")
    exit(0)
}
if let path = option("--pid-file") {
    try? "\(getpid())\n".write(toFile: path, atomically: true, encoding: .utf8)
}
let deadline = option("--seconds").flatMap(Double.init).map { ContinuousClock.now + .seconds($0) }

switch mode {
case "pattern":
    let ending = runPattern(on: terminal, until: deadline)
    terminal.close()
    print("demo closed: \(ending)")
default:
    let host = CountingHost()
    let feed = MonitorFeed()
    startSyntheticRun(into: feed)
    let loop = DashboardLoop(feed: feed, host: host, terminal: terminal) {
        MemorySample(globalStep: 0, time: 0, residentBytes: ProcessMemory.residentBytes() ?? 0,
                     liveBytes: 0, peakBytes: 0)
    }
    let ending = loop.run { deadline.map { ContinuousClock.now >= $0 } ?? false }
    terminal.close()
    print("demo closed: \(ending); \(host.summary)")
}

if let linger = option("--linger").flatMap(Double.init) {
    Thread.sleep(forTimeInterval: linger)
}
