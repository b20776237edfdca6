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
    /// A line holding only a comment was read (replay echoes it, so a transcript reads as the session
    /// file does, prose and all).
    func comment(_ line: String, location: SourceLocation)
    /// `hypergrad`'s result (the default prints its text).
    func hypergradient(_ report: HypergradientReport)
    /// `check hypergrad`'s result and its table (the default prints the table).
    func hypergradientCheck(_ check: HypergradientCheck, text: String)
}

extension SessionOutput {
    /// Outputs for machines (JSON) skip comments: they carry no result.
    public func comment(_ line: String, location: SourceLocation) {}
    /// People read the report's text; JSON carries its numbers too.
    public func hypergradient(_ report: HypergradientReport) { text(report.text) }
    public func hypergradientCheck(_ check: HypergradientCheck, text table: String) { text(table) }
}

/// What `hypergrad NAME` found: the total gradient NAME applies (direct term plus every path), per
/// parameter tensor, with the text a person reads.
public struct HypergradientReport: Sendable {
    public struct Parameter: Sendable {
        public var name: String
        public var shape: [Int]
        public var values: [Float]
        public var norm: Float
    }
    public var problem: String
    public var norm: Float
    public var paths: Int
    public var parameters: [Parameter]
    public var text: String
}

/// Plain lines: progress in Betty's format, errors with a caret. With `progressLine` (a terminal), a
/// run's step progress is that one line rewritten in place instead of the periodic lines, and every
/// other line erases it first.
public final class PlainOutput: SessionOutput {
    private let write: (String) -> Void
    private let logger = TextLogger()
    public var echoLines: Bool
    public var progressLine: ProgressLine?

    public init(echo: Bool = false, write: @escaping (String) -> Void = { print($0) }) {
        self.write = write
        self.echoLines = echo
    }

    private func line(_ text: String) {
        progressLine?.clear()
        write(text)
    }

    public func text(_ text: String) { line(text) }
    public func error(_ error: ScriptError) { line(error.rendered) }
    public func event(_ event: EngineEvent, isProgress: Bool) {
        switch event {
        case let .step(e):
            if let progressLine {
                progressLine.step(e)
            } else if isProgress, let text = logger.line(for: event) {
                write(text)
            }
        default: if let text = logger.line(for: event) { line(text) }
        }
    }
    public func expectation(_ description: String, passed: Bool, location: SourceLocation) {
        line(passed ? "ok: \(description)" : "\(location): expectation failed: \(description)")
    }
    public func echo(_ line: String, location: SourceLocation) {
        progressLine?.reset()
        if echoLines { self.line("betty> \(line)") }
    }
    public func comment(_ line: String, location: SourceLocation) {
        if echoLines { self.line(line) }
    }
}

/// One JSON object per line: every engine event, every output, error and expectation.
///
/// JSON has no NaN or infinity. A number that is not finite is written as `null`, and a sibling key
/// named with the suffix `_nonfinite` says which it was: `"nan"`, `"inf"` or `"-inf"`
/// (`"loss":null,"loss_nonfinite":"nan"`). In an object of numbers such as `metrics`, the sibling is
/// an object holding just the non-finite entries (`"metrics":{"acc":null},"metrics_nonfinite":{"acc":"-inf"}`).
/// A reader that ignores the siblings sees a missing value, never a wrong one.
public final class JSONOutput: SessionOutput {
    private let write: (String) -> Void

    public init(write: @escaping (String) -> Void = { print($0) }) { self.write = write }

    private func emit(_ object: [String: Any]) {
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            write(String(decoding: data, as: UTF8.self))
        } catch {
            // Never silently drop a line: a reader would see the output simply stop.
            write(#"{"event":"error","message":"an event could not be written as JSON"}"#)
        }
    }

    /// What a non-finite number was: "nan", "inf" or "-inf".
    static func nonFiniteName(_ x: Float) -> String {
        x.isNaN ? "nan" : x < 0 ? "-inf" : "inf"
    }

    /// Sets `key` to `x`, or to null and `key_nonfinite` to its kind.
    private static func put(_ x: Float, _ key: String, in object: inout [String: Any]) {
        if x.isFinite {
            object[key] = Double(x)
        } else {
            object[key] = NSNull()
            object[key + "_nonfinite"] = nonFiniteName(x)
        }
    }

    /// Sets `key` to the object of `numbers`, the non-finite ones null and named in `key_nonfinite`.
    private static func put(_ numbers: [String: Float], _ key: String, in object: inout [String: Any]) {
        object[key] = numbers.mapValues { $0.isFinite ? Double($0) as Any : NSNull() }
        let nonFinite = numbers.filter { !$0.value.isFinite }
        if !nonFinite.isEmpty { object[key + "_nonfinite"] = nonFinite.mapValues(nonFiniteName) }
    }

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
                "live_bytes": e.liveBytes, "peak_bytes": e.peakBytes, "optimizer_stepped": e.optimizerStepped, "time": e.time,
            ]
            Self.put(e.loss, "loss", in: &object)
            Self.put(e.metrics, "metrics", in: &object)
            if let norm = e.hypergradientNorm { Self.put(norm, "hypergradient_norm", in: &object) }
            emit(object)
        case let .validation(step, metrics):
            var object: [String: Any] = ["event": "validation", "global_step": step]
            Self.put(metrics, "metrics", in: &object)
            emit(object)
        case let .stopped(step, reason):
            emit(["event": "stopped", "global_step": step, "reason": reason])
        case let .notice(step, problem, message):
            emit(["event": "notice", "global_step": step, "problem": problem, "message": message])
        }
    }
    /// Every value as a number (the JSON double of the Float, exact), non-finite ones as null with
    /// `values_nonfinite` naming them by index.
    public func hypergradient(_ report: HypergradientReport) {
        var object: [String: Any] = ["event": "hypergradient", "problem": report.problem, "paths": report.paths, "text": report.text]
        Self.put(report.norm, "norm", in: &object)
        object["parameters"] = report.parameters.map { parameter -> [String: Any] in
            var entry: [String: Any] = ["name": parameter.name, "shape": parameter.shape,
                                        "values": parameter.values.map { $0.isFinite ? Double($0) as Any : NSNull() }]
            Self.put(parameter.norm, "norm", in: &entry)
            let nonFinite = parameter.values.enumerated().filter { !$0.element.isFinite }
            if !nonFinite.isEmpty {
                entry["values_nonfinite"] = Dictionary(uniqueKeysWithValues: nonFinite.map { ("\($0.offset)", Self.nonFiniteName($0.element)) })
            }
            return entry
        }
        emit(object)
    }

    /// Every row's numbers; a row that does not apply or failed carries its reason instead.
    public func hypergradientCheck(_ check: HypergradientCheck, text: String) {
        func finite(_ x: Double) -> Any { x.isFinite ? x : NSNull() }
        var object: [String: Any] = [
            "event": "hypergradient_check", "problem": check.problem, "text": text,
            "reference": ["kind": check.reference.rawValue, "detail": check.referenceDetail, "norm": finite(check.referenceNorm),
                          "seconds": check.referenceSeconds, "values": check.referenceGradient.map { finite(Double($0)) }],
            "warnings": check.warnings,
        ]
        object["rows"] = check.rows.map { row -> [String: Any] in
            var entry: [String: Any] = ["method": row.method, "detail": row.detail, "configured": row.isConfigured, "seconds": row.seconds]
            switch row.outcome {
            case let .computed(gradient, norm, cosine, relativeError):
                entry["norm"] = finite(norm)
                entry["cosine"] = finite(cosine)
                entry["relative_error"] = finite(relativeError)
                entry["values"] = gradient.map { finite(Double($0)) }
            case let .notApplicable(why): entry["not_applicable"] = why
            case let .failed(why): entry["failed"] = why
            }
            return entry
        }
        emit(object)
    }

    public func expectation(_ description: String, passed: Bool, location: SourceLocation) {
        emit(["event": "expect", "passed": passed, "description": description, "line": location.line, "file": location.file])
    }
    public func echo(_ line: String, location: SourceLocation) {
        emit(["event": "statement", "text": line, "line": location.line, "file": location.file])
    }
}
