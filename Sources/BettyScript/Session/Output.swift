import Betty
import Foundation

/// Where a session's results go. The REPL prints them; tests collect them.
public protocol SessionOutput: AnyObject {
    /// A command's result or a note, one or more lines.
    func text(_ text: String)
    func error(_ error: ScriptError)
    /// Every engine event; `isProgress` marks the step events due at the logging cadence.
    func event(_ event: EngineEvent, isProgress: Bool)
    func expectation(_ description: String, passed: Bool, location: SourceLocation)
    /// A statement is about to run (replay echoes it).
    func echo(_ line: String, location: SourceLocation)
}

/// Plain lines: progress in Betty's format, errors with a caret.
public final class PlainOutput: SessionOutput {
    private let write: (String) -> Void
    private let logger = TextLogger()
    public var echoLines: Bool

    public init(echo: Bool = false, write: @escaping (String) -> Void = { print($0) }) {
        self.write = write
        self.echoLines = echo
    }

    public func text(_ text: String) { write(text) }
    public func error(_ error: ScriptError) { write(error.rendered) }
    public func event(_ event: EngineEvent, isProgress: Bool) {
        switch event {
        case .step: if isProgress, let line = logger.line(for: event) { write(line) }
        default: if let line = logger.line(for: event) { write(line) }
        }
    }
    public func expectation(_ description: String, passed: Bool, location: SourceLocation) {
        write(passed ? "ok: \(description)" : "\(location): expectation failed: \(description)")
    }
    public func echo(_ line: String, location: SourceLocation) {
        if echoLines { write("betty> \(line)") }
    }
}

/// One JSON object per line: every engine event, every output, error and expectation.
public final class JSONOutput: SessionOutput {
    private let write: (String) -> Void

    public init(write: @escaping (String) -> Void = { print($0) }) { self.write = write }

    private func emit(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
              let line = String(data: data, encoding: .utf8) else { return }
        write(line)
    }

    private func finite(_ x: Float) -> Any { x.isFinite ? Double(x) : "\(x)" }

    public func text(_ text: String) { emit(["event": "output", "text": text]) }
    public func error(_ error: ScriptError) {
        var object: [String: Any] = ["event": "error", "message": error.message]
        if let l = error.location { object["file"] = l.file; object["line"] = l.line; object["column"] = l.column }
        emit(object)
    }
    public func event(_ event: EngineEvent, isProgress: Bool) {
        switch event {
        case let .step(e):
            var object: [String: Any] = [
                "event": "step", "global_step": e.globalStep, "problem": e.problem, "local_step": e.localStep,
                "loss": finite(e.loss), "live_bytes": e.liveBytes, "peak_bytes": e.peakBytes,
                "optimizer_stepped": e.optimizerStepped, "time": e.time,
                "metrics": e.metrics.mapValues { finite($0) },
            ]
            if let norm = e.hypergradientNorm { object["hypergradient_norm"] = finite(norm) }
            emit(object)
        case let .validation(step, metrics):
            emit(["event": "validation", "global_step": step, "metrics": metrics.mapValues { finite($0) }])
        case let .stopped(step, reason):
            emit(["event": "stopped", "global_step": step, "reason": reason])
        }
    }
    public func expectation(_ description: String, passed: Bool, location: SourceLocation) {
        emit(["event": "expect", "passed": passed, "description": description, "line": location.line, "file": location.file])
    }
    public func echo(_ line: String, location: SourceLocation) {
        emit(["event": "statement", "text": line, "line": location.line, "file": location.file])
    }
}
