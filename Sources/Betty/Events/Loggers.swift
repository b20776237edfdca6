import BettyNN
import Foundation

/// Formats engine events as one plain line each, in Betty's style:
/// `[Problem "inner"] [Global Step 100] [Local Step 100] loss: 0.4123 | hypergradient norm: 0.0312`.
public struct TextLogger: Sendable {
    /// Report a problem's step only every this many local steps (0 or 1: every step), unless the
    /// problem sets its own `ProblemConfig.logStep`, which the event carries.
    public var every: Int

    public init(every: Int = 1) { self.every = every }

    /// The line for `event`, or nil when it is skipped.
    public func line(for event: EngineEvent) -> String? {
        switch event {
        case let .step(e):
            let every = e.logStep > 0 ? e.logStep : self.every
            guard every <= 1 || e.localStep % every == 0 else { return nil }
            var text = "[Problem \"\(e.problem)\"] [Global Step \(e.globalStep)] [Local Step \(e.localStep)] loss: \(format(e.loss))"
            if let norm = e.hypergradientNorm { text += " | hypergradient norm: \(format(norm))" }
            for (k, v) in e.metrics.sorted(by: { $0.key < $1.key }) { text += " | \(k): \(format(v))" }
            return text
        case let .validation(step, metrics):
            let values = metrics.sorted { $0.key < $1.key }.map { "\($0.key): \(format($0.value))" }.joined(separator: " | ")
            return "[Validation] [Global Step \(step)] \(values)"
        case let .stopped(step, reason):
            return "[Stopped] [Global Step \(step)] \(reason)"
        case let .notice(step, problem, message):
            return "[Notice] [Problem \"\(problem)\"] [Global Step \(step)] \(message)"
        }
    }

    private func format(_ x: Float) -> String { String(format: "%.4g", Double(x)) }
}

/// Writes step and validation events to a CSV file, one row per event, each written as it comes so
/// a crash loses at most the row being written.
///
/// The file starts as a new file with the header that replaces `path` (see `FileReplacement`), so a
/// directory or device at `path` is refused untouched; rows are then appended to it in place.
public final class CSVLogger: @unchecked Sendable {
    public static let header = "kind,global_step,problem,local_step,loss,hypergradient_norm,live_bytes,peak_bytes,metric,value"
    private let file: FileReplacement
    public let path: String
    /// The first failed write (a full disk, say). Logging stops there rather than interrupt training;
    /// the rows before it are in the file.
    public private(set) var failure: FileIOError?

    public init(path: String) throws(FileIOError) {
        file = try FileReplacement(replacing: path)
        try file.write(Self.header + "\n")
        try file.commit()
        self.path = path
    }

    public func log(_ event: EngineEvent) {
        var rows: [String] = []
        switch event {
        case let .step(e):
            rows.append("step,\(e.globalStep),\(e.problem),\(e.localStep),\(e.loss),\(e.hypergradientNorm.map { "\($0)" } ?? ""),\(e.liveBytes),\(e.peakBytes),,")
            for (k, v) in e.metrics.sorted(by: { $0.key < $1.key }) {
                rows.append("metric,\(e.globalStep),\(e.problem),\(e.localStep),,,,,\(k),\(v)")
            }
        case let .validation(step, metrics):
            for (k, v) in metrics.sorted(by: { $0.key < $1.key }) { rows.append("validation,\(step),,,,,,,\(k),\(v)") }
        case let .stopped(step, reason):
            rows.append("stopped,\(step),,,,,,,reason,\(reason.replacingOccurrences(of: ",", with: ";"))")
        case let .notice(step, problem, message):
            rows.append("notice,\(step),\(problem),,,,,,message,\(message.replacingOccurrences(of: ",", with: ";"))")
        }
        guard !rows.isEmpty, failure == nil else { return }
        do { try file.write(rows.joined(separator: "\n") + "\n") } catch { failure = error }
    }
}
