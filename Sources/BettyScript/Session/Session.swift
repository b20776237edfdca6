import Betty
import BettyDashboard
import BettyNN
import BettyTensor
import Synchronization

/// A BettyScript session, the interpreter: feed it lines (typed or replayed); it parses them, builds
/// the `Program` they describe (the data, problems, their connections and the engine), runs it
/// through the `RunController`, and reports through a `SessionOutput`. An error in a line is reported
/// and leaves the state as it was before that line.
public final class Session: @unchecked Sendable {
    public let output: any SessionOutput
    /// What the statements build; changed only under the run controller's gate.
    let program = Program()
    /// Runs the engine, here or in the background, and lets the prompt take turns with it; keeps the
    /// run's state (Ctrl-C, the steps an interrupted run left).
    let runs = RunController()
    /// Set by the interactive REPL: `run` and `continue` give the prompt back at once while the engine
    /// steps on a background thread. Replays, `--headless` and `--json` leave it off: `run` waits.
    public var runsInBackground = false
    /// Where the dashboard's events go; nil when nothing watches, and then nothing is published.
    public var monitor: MonitorFeed? {
        didSet {
            if let feed = monitor {
                runs.onStatus = { @Sendable status in feed.publish(.run(status)) }
            } else {
                runs.onStatus = nil
            }
            publishProgram()
        }
    }
    /// Opens the dashboard and returns when the user leaves it (the REPL's, over curses); nil where
    /// there is no terminal for one.
    public var openDashboard: (() -> Void)?
    /// Called about ten times a second while the prompt waits for a background run (`wait`, `pause`,
    /// `step` while paused): the REPL keeps its closed dashboard's history current.
    public var whileWaiting: (() -> Void)?
    /// Counts the statements begun; Ctrl-C's escape hatch counts only the requests of the statement
    /// under way (a safe read from the signal handler).
    public var statementNumber: Int { statements.load(ordering: .relaxed) }
    private let statements = Atomic<Int>(0)
    /// Recent lines by "file:line", so an error found at a block's `end` can show the line it is about.
    private(set) var recentLines: [String: String] = [:]
    private var block: (spec: ProblemSpec, lines: [String])?
    /// Every statement accepted so far, for `record`; the steps the engine took as `run N` and `step N`
    /// (see `recordSteps`), not the commands that asked for them.
    private(set) var transcript: [String] = []
    /// The engine's global step the transcript accounts for. Touched only by the interpreter's thread,
    /// and the engine's step is read holding the gate.
    private var transcriptStep = 0
    public internal(set) var failedExpectations = 0
    public private(set) var quitRequested = false

    public init(output: any SessionOutput) {
        self.output = output
    }

    /// The defined problems, in definition order.
    public var problemNames: [String] { program.bindings.problemOrder }

    /// Whether the session is inside a `problem ... end` block (the REPL shows a continuation prompt).
    public var isContinuing: Bool { block != nil }

    /// Drops an unfinished `problem ... end` block (Ctrl-C or Ctrl-D at the continuation prompt), as a
    /// shell drops a half-typed loop. Returns the problem's name, nil when no block was open. Nothing of
    /// the block was defined, so nothing else changes.
    @discardableResult
    public func abandonBlock() -> String? {
        guard let current = block else { return nil }
        block = nil
        return current.spec.name.text
    }

    /// Ctrl-C. While the prompt waits for a background run, the first asks the engine to pause at its
    /// next step boundary and a second cancels the step under way; otherwise it asks the running
    /// command to stop: at the next step boundary, or part-way through a long step, which is then
    /// undone. Safe from a signal handler's thread (atomics only).
    public func interrupt() {
        if runs.waitingForRun.load(ordering: .acquiring), !runs.pauseIsRequested {
            runs.requestPause()
        } else {
            runs.cancellation.request()
        }
    }

    /// The state of the run, for the prompt (`betty[running 1200/5000]>`); safe from any thread.
    public var runStatus: RunStatus { runs.current }

    /// Whether a run is under way on the background thread (running or paused).
    public var hasActiveRun: Bool { runs.isActive }

    /// Whether an interrupt is waiting for the running command to honour it. Safe from a signal
    /// handler's thread.
    public var interruptPending: Bool { runs.cancellation.isRequested }

    /// Runs one line. Returns the error, if any, after reporting it.
    @discardableResult
    public func execute(_ line: String, file: String = "<input>", line lineNumber: Int = 1) -> ScriptError? {
        // A Ctrl-C that no command honoured (it came while something quick ran) is spent: it must
        // neither cancel this statement nor count as the first of two (see betty-repl's escape hatch).
        runs.cancellation.clear()
        statements.add(1, ordering: .relaxed)
        let endOfLine = SourceLocation(file: file, line: lineNumber, column: line.count + 1)
        if recentLines.count > 5000 { recentLines = [:] }
        recentLines["\(file):\(lineNumber)"] = line
        do {
            let tokens = try Lexer.tokens(of: line, file: file, lineNumber: lineNumber)
            guard let statement = try Parser.statement(tokens, inBlock: block != nil, endOfLine: endOfLine) else {
                if line.contains("#") { output.comment(line, location: endOfLine) }
                return nil
            }
            output.echo(line, location: endOfLine)
            try perform(statement, line: line)
            return nil
        } catch var error {
            if let l = error.location { error.sourceLine = recentLines["\(l.file):\(l.line)"] }
            output.error(error)
            return error
        }
    }

    /// Runs the text of a session file (see `replay(_:file:)`), whatever its line ends.
    @discardableResult
    public func replay(contentsOf text: String, file: String) -> ScriptError? {
        replay(Self.lines(of: text), file: file)
    }

    /// `text` cut into lines at LF or CRLF. In Swift "\r\n" is a single Character, so splitting on
    /// "\n" leaves a CRLF file as one line; a CR at the end of the text (no LF after it) goes too.
    public static func lines(of text: String) -> [String] {
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map(String.init)
        if lines.last?.isEmpty == true { lines.removeLast() }
        if let last = lines.last, last.hasSuffix("\r") { lines[lines.count - 1] = String(last.dropLast()) }
        return lines
    }

    /// Runs `lines` as a session file: stops at the first error (returned) or at `quit`; with
    /// `keepGoing`, runs every line as the prompt does and returns the first error. A file that ends
    /// inside a problem block is an error too (the block is dropped). A line may still carry its CR or CRLF.
    @discardableResult
    public func replay(_ lines: some Sequence<String>, file: String, keepGoing: Bool = false) -> ScriptError? {
        var last = 0
        var first: ScriptError?
        for (i, line) in zip(1..., lines) {
            last = i
            let line = line.hasSuffix("\r\n") || line.hasSuffix("\r") ? String(line.dropLast()) : line
            if let error = execute(line, file: file, line: i) {
                first = first ?? error
                if !keepGoing { return error }
            }
            if quitRequested { return first }
        }
        guard let name = abandonBlock() else { return first }
        let error = ScriptError("the input ends inside the block of problem '\(name)'; add 'end'",
                                at: SourceLocation(file: file, line: max(last, 1), column: 1))
        output.error(error)
        return first ?? error
    }

    /// Control statements act on the run from outside the gate; every other statement runs holding it,
    /// so while the engine runs in the background it sees (and changes) the state at a step boundary.
    /// The control statements (`wait`, `pause`, `stop`, `dashboard`, and `continue` or `step` acting on
    /// a background run) are not recorded: what they make the engine do is, as the steps it took, before
    /// the next statement that is recorded.
    private func perform(_ statement: Statement, line: String) throws(ScriptError) {
        if block == nil, try control(statement) { return }
        if block == nil, runs.isActive { try admit(statement) }
        try runs.withGate { () throws(ScriptError) in
            try run(statement, line: line)
            if block == nil, runs.isActive, let note = liveSettingNote(statement) { output.text(note) }
        }
    }

    private func run(_ statement: Statement, line: String) throws(ScriptError) {
        if var current = block {
            switch statement {
            case let .problemLine(problemLine):
                try current.spec.add(problemLine)
                current.lines.append(line)
                block = current
            case let .end(location):
                block = nil
                try define(current.spec, at: location)
                transcript += current.lines + [line]
                transcriptStep = program.engine?.globalStep ?? 0
            default:
                throw ScriptError("only problem lines are allowed inside 'problem ... end'", at: nil)
            }
            return
        }
        // Before the statement: the steps a background run took so far (this is a step boundary), or
        // those of a paused run that `admit` just ended.
        recordSteps(as: "run")
        defer { recordSteps(taken: statement) }
        try dispatch(statement)
        switch statement {
        case .record, .problemStart, .run, .resume, .step: return
        default: transcript.append(line)
        }
    }

    /// After `statement` (done or failed), with the gate held: the steps it made the engine take are
    /// recorded as such; a statement that moves the global step otherwise (`reset`, `load`) is itself
    /// in the transcript, which then counts from where it left the engine.
    private func recordSteps(taken statement: Statement) {
        switch statement {
        case .run, .resume: recordSteps(as: "run")
        case .step: recordSteps(as: "step")
        default: transcriptStep = program.engine?.globalStep ?? 0
        }
    }

    /// Appends `run N` (or `step N`) for the global steps the engine took since the transcript last
    /// accounted for it: an interrupted `run 10000` then `continue` is recorded as the steps they took,
    /// which a replay takes again bit for bit. `step` stays `step` (it does not validate; `run` does).
    /// Called holding the gate, on the interpreter's thread.
    private func recordSteps(as command: String) {
        let now = program.engine?.globalStep ?? 0
        if now > transcriptStep { transcript.append("\(command) \(now - transcriptStep)") }
        transcriptStep = now
    }

    private func dispatch(_ statement: Statement) throws(ScriptError) {
        switch statement {
        case let .seed(e):
            program.seed = UInt64(try OptionReader.integer(e, key: "seed", in: OptionTables.seedRange))
        case let .data(name, source, arguments, options): try defineData(name, source, arguments, options)
        case let .split(source, parts, options): try split(source, parts, options)
        case let .transform(kind, dataset, options): try transform(kind, dataset, options)
        case let .problemStart(name):
            try program.claim(name, as: .problem)
            block = (ProblemSpec(name: name), ["problem \(name.text)"])
        case .problemLine:
            throw ScriptError("a problem line outside 'problem NAME ... end'", at: nil)
        case let .end(location):
            throw ScriptError("'end' without 'problem'", at: location)
        case let .connect(names): try connect(names)
        case let .disconnect(names): try disconnect(names)
        case let .engine(options): try configureEngine(options)
        case let .config(problem, options): try configure(problem, options)
        case let .validate(every, metrics): try defineValidation(every, metrics)
        case .validateNow: try validateNow()
        case let .letValue(name, e):
            try program.claim(name, as: .value)
            let value = try evaluate(e)
            if let slot = program.bindings.values[name.text] { slot.value = value } else { program.bindings.values[name.text] = Slot(value) }
            output.text("\(name.text) = \(value.summary)")
        case let .print(e): try printValue(e)
        case let .run(count, location): try runSteps(count, at: location)
        case let .step(count, location): try stepOnce(count, at: location)
        case .pause, .wait, .stop, .dashboard: _ = try control(statement)
        case .resume: try resume()
        case let .show(words): try show(words)
        case let .hypergrad(name, all): try hypergrad(name, all: all)
        case let .checkHypergrad(name, options): try checkHypergrad(name, options)
        case let .save(path, location): try save(path, at: location)
        case let .load(path, location): try load(path, at: location)
        case let .saveWeights(problem, path, location): try saveWeights(of: problem, to: path, at: location)
        case let .loadWeights(path, problem, location): try loadWeights(from: path, into: problem, at: location)
        case let .record(path, location): try record(path, at: location)
        case let .export(what, path, location): try export(what, to: path, at: location)
        case let .plot(path, log, location): try plot(to: path, log: log, at: location)
        case let .expect(lhs, op, rhs, location): try expect(lhs, op, rhs, at: location)
        case let .help(topic): try help(topic)
        case .reset: try reset()
        case .quit: quitRequested = true
        }
    }

    // MARK: - Shared helpers

    func consumeInterrupt() -> Bool { runs.cancellation.clear() }

    /// Evaluates a top-level expression read-only: without recording gradients, every module in
    /// evaluation mode (as `validate` does), so batch norm's statistics and dropout's random streams
    /// are as they were (docs/BETTY_SEMANTICS.md §9).
    func evaluate(_ e: Expr) throws(ScriptError) -> Value {
        var compiler = ExpressionCompiler(bindings: program.bindings)
        let compiled = try compiler.compile(e)
        if let undefined = compiler.undefinedReference { throw undefined }
        var env = Env.topLevel
        return try program.readOnly { () throws(ScriptError) in try compiled(&env) }
    }

    private func printValue(_ e: Expr) throws(ScriptError) {
        let value = try evaluate(e)
        switch value {
        case let .tensor(t) where t.count > 1:
            output.text("tensor of shape \(t.shape):\n\(t)")
        default:
            output.text(value.summary)
        }
    }

    private func record(_ path: String, at location: SourceLocation) throws(ScriptError) {
        let text = "# recorded by betty-repl\n" + transcript.joined(separator: "\n") + "\n"
        do {
            try FileIO.write(text, to: path)
        } catch {
            throw ScriptError("\(error)", at: location)
        }
        output.text("recorded \(transcript.count) lines to \(path)")
    }
}
