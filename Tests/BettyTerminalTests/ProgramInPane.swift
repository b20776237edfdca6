#if os(Linux)
import Foundation
import Glibc
import Testing

/// A program started by a shell script in a tmux pane that records the terminal's settings (`stty -g`, `stty -a`)
/// before and after it, and its exit status, into a temporary directory; the pane then idles so it can
/// still be captured. The program writes its pid to the directory's `pid` file.
final class ProgramInPane {
    let tmux: TmuxSession
    let directory: String

    /// `command(directory)` is the shell command line of the program; it may first write files into the
    /// directory, and must see that the program's pid ends up in `directory/pid`.
    init(columns: Int = 80, rows: Int = 24, command: (_ directory: String) throws -> String) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("betty-terminal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let program = try command(directory)
        let script = """
            stty -g > '\(directory)/before'
            stty -a > '\(directory)/before-all'
            \(program)
            echo $? > '\(directory)/status'
            stty -g > '\(directory)/after'
            stty -a > '\(directory)/after-all'
            touch '\(directory)/done'
            exec sleep 600
            """
        try script.write(toFile: "\(directory)/run.sh", atomically: true, encoding: .utf8)
        tmux = try TmuxSession("sh '\(directory)/run.sh'", columns: columns, rows: rows)
    }

    /// The dashboard demo with `demoArguments`, which writes its pid once its terminal is open.
    convenience init(demo demoArguments: String, environment: String = "", columns: Int = 80, rows: Int = 24) throws {
        let demo = try demoExecutable()
        try self.init(columns: columns, rows: rows) { directory in
            "\(environment) '\(demo)' \(demoArguments) --pid-file '\(directory)/pid'"
        }
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

    /// Waits until the program holds the alternate screen and shows `text`.
    func waitForDashboard(showing text: String, timeout: Duration = .seconds(20)) throws {
        try tmux.wait(for: "the dashboard showing \"\(text)\"", timeout: timeout) {
            guard pid != nil, try tmux.display("#{alternate_on}") == "1" else { return false }
            return try tmux.capture().contains(text)
        }
    }

    /// Waits for the program to exit; returns its status as the shell saw it (128 + N for signal N).
    func waitForExit(timeout: Duration = .seconds(20)) throws -> Int32? {
        try tmux.wait(for: "the program to exit", timeout: timeout) { file("done") != nil }
        return file("status").flatMap { Int32($0) }
    }

    var isRunning: Bool { pid.map { kill($0, 0) == 0 } ?? false }

    /// After the program: the settings are those from before it, the alternate screen is left, the cursor shown.
    func expectTerminalRestored(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try #require(file("before"), sourceLocation: sourceLocation)
        #expect(file("after") == before, "stty settings after the program equal those before it",
                sourceLocation: sourceLocation)
        // `stty -a` too, as a person would compare them; the window size is left out (a test may resize).
        let readable = { (name: String) in
            self.file(name)?.replacingOccurrences(of: #"rows \d+; columns \d+;"#, with: "", options: .regularExpression)
        }
        #expect(readable("after-all") == readable("before-all"), "stty -a after the program equals stty -a before it",
                sourceLocation: sourceLocation)
        #expect(try tmux.display("#{alternate_on}") == "0", "the alternate screen is left", sourceLocation: sourceLocation)
        #expect(try tmux.display("#{cursor_flag}") == "1", "the cursor is visible again", sourceLocation: sourceLocation)
    }
}

/// `word` quoted for sh.
func shellQuoted(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
#endif
