#if os(Linux)
import Foundation
import Glibc

/// The demo started by a shell script in a tmux pane that records the terminal's settings (`stty -g`)
/// before and after it, and its exit status, into a temporary directory; the pane then idles so it can
/// still be captured.
final class DemoInPane {
    let tmux: TmuxSession
    let directory: String

    init(_ demoArguments: String, environment: String = "", columns: Int = 80, rows: Int = 24) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("betty-terminal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let demo = try demoExecutable()
        let script = """
            stty -g > '\(directory)/before'
            \(environment) '\(demo)' \(demoArguments) --pid-file '\(directory)/pid'
            echo $? > '\(directory)/status'
            stty -g > '\(directory)/after'
            touch '\(directory)/done'
            exec sleep 600
            """
        try script.write(toFile: "\(directory)/run.sh", atomically: true, encoding: .utf8)
        tmux = try TmuxSession("sh '\(directory)/run.sh'", columns: columns, rows: rows)
    }

    deinit {
        tmux.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func file(_ name: String) -> String? {
        (try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var pid: pid_t? { file("pid").flatMap { pid_t($0) } }

    /// Waits until the demo holds the alternate screen and shows `text`.
    func waitForDashboard(showing text: String) throws {
        try tmux.wait(for: "the dashboard showing \"\(text)\"") {
            guard pid != nil, try tmux.display("#{alternate_on}") == "1" else { return false }
            return try tmux.capture().contains(text)
        }
    }

    /// Waits for the demo to exit; returns its status as the shell saw it (128 + N for signal N).
    func waitForExit() throws -> Int32? {
        try tmux.wait(for: "the demo to exit") { file("done") != nil }
        return file("status").flatMap { Int32($0) }
    }

    var isRunning: Bool { pid.map { kill($0, 0) == 0 } ?? false }
}
#endif
