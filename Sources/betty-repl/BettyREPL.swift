import ArgumentParser
import BettyDashboard
import BettyNN
import BettyScript
import BettyTerminal
import Foundation
#if canImport(Glibc)
import Glibc
#endif

@main
struct BettyREPL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "betty-repl",
        abstract: "Betty for Swift: define, connect and run multilevel optimization problems.",
        discussion: """
            With no FILE, an interactive prompt (type 'help'). With FILE, replays the session line by line;
            headless (plain progress lines) when stdout is not a terminal. Exit status: 0 when every
            expect holds, 1 when one fails, 2 on an error (a replay stops at the line with the error).
            """)

    @Argument(help: "A .betty session file to replay.")
    var file: String?

    @Flag(help: "Plain progress lines and results, no terminal UI: at the prompt 'run' waits for the end instead of going to the background, and there is no dashboard.")
    var headless = false

    @Flag(help: "One JSON object per line for every event, output, error and expectation. JSON has no NaN: a non-finite number is null, and KEY_nonfinite beside it says nan, inf or -inf.")
    var json = false

    @Flag(help: "Replay FILE with the dashboard open (curves per level, hypergradient norms, memory); keys: p pause, s step, q close it (the replay goes on), ? help.")
    var dashboard = false

    @Flag(help: "After replaying FILE (also when it stops at an error), hand the prompt to the user. With stdin not a terminal, its lines run as if typed there: every line, also after an error; exit status 2 if a line of FILE or stdin failed, else 1 if an expect failed.")
    var thenInteractive = false

    @Flag(help: "Replay every line of FILE or stdin even after an error, as the prompt does; exit status 2 if any line failed.")
    var keepGoing = false

    @Option(help: "History file for the interactive prompt: a regular file, created if missing, or /dev/null for none; anything else (a directory, a FIFO, a device) is refused.")
    var history: String = (ProcessInfo.processInfo.environment["HOME"].map { $0 + "/.betty_history" }) ?? ".betty_history"

    @Sendable static func terminalColumns() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    mutating func run() throws {
        // Unbuffered line writes: progress shows as it happens even when stdout is a pipe. A background
        // run's lines wait while the prompt is up (Console).
        let console = Console()
        let write: (String) -> Void = { console.write($0) }
        let plain = PlainOutput(echo: file != nil, write: write)
        let output: any SessionOutput = json ? JSONOutput(write: write) : plain
        let session = Session(output: output)
        InterruptHandler.install { EmergencyExit.interrupt(session) }
        // A run that waits (a replay, --headless) on a terminal: one progress line rewritten in place;
        // on anything else the plain periodic lines, exactly as before.
        if !json, !dashboard, isatty(STDOUT_FILENO) != 0, headless || file != nil {
            plain.progressLine = ProgressLine(status: { [unowned session] in session.runStatus }, width: Self.terminalColumns,
                                              writeRaw: { console.writeRaw($0) })
        }

        if dashboard {
            if json || headless { throw ValidationError("--dashboard draws on the terminal; it does not go with --json or --headless") }
            guard file != nil else { throw ValidationError("--dashboard replays a FILE; at the prompt, type 'dashboard'") }
        }
        // At a terminal prompt (or with --dashboard) the session feeds a dashboard.
        let interactiveTerminal = isatty(STDIN_FILENO) != 0 && !json && (file == nil || thenInteractive)
        var historyFile: String?
        if interactiveTerminal {
            // Before the file's replay: the prompt would block on a FIFO or lose every line typed.
            do {
                historyFile = try Self.historyFile(history)
            } catch {
                output.error(error)
                throw ExitCode(2)
            }
        }
        let screen = (dashboard || (interactiveTerminal && !headless)) ? DashboardScreen(session: session, console: console) : nil
        if let screen, interactiveTerminal {
            session.openDashboard = { screen.showAtPrompt() }
            session.whileWaiting = { screen.absorb() }
        }

        var fileFailed = false
        if let file {
            let contents: SessionFile.Contents
            do {
                contents = try SessionFile.read(file)
            } catch {
                output.error(error)
                throw ExitCode(2)
            }
            // A replay that stops at its first error refuses a file that is not text before running any
            // of it; --keep-going runs every line it can and reports each line it cannot read in its turn.
            if !keepGoing, let first = contents.invalid.first {
                output.error(first.error(file: file))
                throw ExitCode(2)
            }
            if dashboard, let screen, let terminal = screen.openTerminal() {
                fileFailed = replayWithDashboard(session, contents, file: file, screen: screen, terminal: terminal, console: console)
            } else {
                fileFailed = Self.replay(session, contents, file: file, keepGoing: keepGoing)
            }
            // --then-interactive hands over the prompt after an error too: the state up to the error is
            // there to inspect and fix, which is the point of asking for the prompt.
            guard thenInteractive, !session.quitRequested else {
                throw ExitCode(fileFailed ? 2 : session.failedExpectations > 0 ? 1 : 0)
            }
        }

        if isatty(STDIN_FILENO) != 0 && !json {
            // Typed lines are on the screen already: echo only what a replay reads.
            plain.echoLines = false
            // Background runs at the prompt report in the prompt and their lines (no line in place).
            if !headless { plain.progressLine = nil }
            // At a prompt a run goes to the background and the prompt stays live (--headless: run waits).
            session.runsInBackground = !headless
            interactive(session, console: console, screen: screen, historyFile: historyFile)
        } else {
            // Statements piped in: a replay of stdin. After FILE with --then-interactive they stand for
            // what would be typed at the prompt, so every line runs, as there, even after an error.
            let asAtThePrompt = file != nil && thenInteractive
            let unreadable = Locked(false)
            let lines = SessionFile.standardInputLines(session: session, keepGoing: keepGoing || asAtThePrompt, reported: unreadable)
            if session.replay(lines, file: "<stdin>", keepGoing: keepGoing || asAtThePrompt) != nil || unreadable.withLock({ $0 }) {
                throw ExitCode(2)
            }
        }
        // The file's error still counts after the prompt was handed over: the status is the session's.
        throw ExitCode(fileFailed ? 2 : session.failedExpectations > 0 ? 1 : 0)
    }

    /// Replays the file's lines; true when a line failed. Stops at the first error unless `keepGoing`.
    private static func replay(_ session: Session, _ contents: SessionFile.Contents, file: String, keepGoing: Bool) -> Bool {
        let unreadable = Locked(false)
        let lines = SessionFile.replayLines(contents, file: file, session: session, reported: unreadable)
        let failed = session.replay(lines, file: file, keepGoing: keepGoing) != nil
        return failed || unreadable.withLock { $0 }
    }

    /// The history file the prompt reads and appends to: `path` when it is a regular file (a symbolic
    /// link to one too), or names nothing yet and is then created empty; nil for /dev/null, the usual way
    /// to keep no history. Anything else is refused before readline opens it: a FIFO would block the
    /// prompt before it shows, a directory or another device would silently keep nothing.
    static func historyFile(_ path: String) throws(ScriptError) -> String? {
        func problem(_ reason: FileIOError.Reason, _ operation: FileIOError.Operation = .read) -> ScriptError {
            let reason = FileIOError(path: path, operation: operation, reason: reason).reasonText
            return ScriptError("cannot use \(path.isEmpty ? "\"\"" : path) as the history file: \(reason)")
        }
        guard !path.isEmpty else { throw problem(.noFileName) }
        var info = stat()
        if stat(path, &info) == 0 {
            let kind = FileKind(mode: info.st_mode)
            if kind == .regularFile { return path }
            var null = stat()
            if kind == .characterDevice, stat("/dev/null", &null) == 0, null.st_rdev == info.st_rdev { return nil }
            var link = stat()
            let throughLink = lstat(path, &link) == 0 && FileKind(mode: link.st_mode) == .symbolicLink
            throw problem(.notARegularFile(kind, throughLink: throughLink))
        }
        let code = errno
        guard code == ENOENT else { throw problem(.system(code)) }
        var link = stat()
        if lstat(path, &link) == 0 { throw problem(.danglingSymbolicLink) }
        // O_EXCL: whatever appeared meanwhile is not opened (a FIFO would block here).
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw problem(.system(errno), .write) }
        close(descriptor)
        return path
    }

    /// Replays `lines` on a thread of their own while the dashboard has this one (curses wants one
    /// thread); `q` closes the dashboard and the replay goes on with plain output. True when a line failed.
    private func replayWithDashboard(_ session: Session, _ contents: SessionFile.Contents, file: String, screen: DashboardScreen,
                                     terminal: CursesTerminal, console: Console) -> Bool {
        let result = Locked<Bool?>(nil)
        let keepGoing = self.keepGoing
        let replaying = Thread {
            let failed = Self.replay(session, contents, file: file, keepGoing: keepGoing)
            result.withLock { $0 = failed }
        }
        // The engine runs on this thread: the same stack as the main thread's.
        replaying.stackSize = 16 << 20
        replaying.start()
        if screen.show(on: terminal, until: { result.withLock { $0 } != nil }) == .quit {
            // Nobody is left to press 'p' again: a replay goes on once its dashboard is closed, also
            // when a pause was asked for and the engine has not reached its boundary yet.
            if session.runStatus.state == .paused { console.write("the dashboard closed; the paused run goes on") }
            session.dashboardControls.release()
        }
        while true {
            if let failed = result.withLock({ $0 }) { return failed }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    private func interactive(_ session: Session, console: Console, screen: DashboardScreen?, historyFile: String?) {
        print("Betty for Swift. Type 'help' for the language, 'quit' or Ctrl-D to leave.")
        let editor = LineEditor(historyPath: historyFile) { word, line in session.completions(for: word, line: line) }
        var number = 0
        let prompt = { session.isContinuing ? "  ...> " : Self.prompt(for: session) }
        while !session.quitRequested {
            console.hold()
            let input = editor.readLine(prompt: prompt()) {
                screen?.absorb()
                return (prompt(), console.takeHeld())
            }
            for line in console.release() { print(line) }
            switch input {
            case let .line(line):
                number += 1
                editor.addHistory(line)
                session.execute(line, file: "<input>", line: number)
            case .interrupted:
                // As a shell drops a half-typed loop: the block goes, the prompt stays.
                if let name = session.abandonBlock() {
                    print("problem block '\(name)' dropped (Ctrl-C); nothing of it was defined")
                }
            case .endOfInput:
                if let name = session.abandonBlock() {
                    print("problem block '\(name)' dropped: the input ended before its 'end'")
                }
                // Leaving ends a background run at its next step boundary (or part-way, undone).
                if session.hasActiveRun { session.execute("stop", file: "<input>", line: number + 1) }
                return
            }
        }
    }

    /// `betty>`, or `betty[running 1200/5000]>` while a run is under way in the background.
    static func prompt(for session: Session) -> String {
        guard session.hasActiveRun else { return "betty> " }
        let status = session.runStatus
        let state = status.state == .paused ? "paused" : "running"
        return "betty[\(state) \(status.completed)/\(status.total)]> "
    }
}
