#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import BettyNN
import Foundation
import Synchronization

/// Writes engine events as a TensorBoard event file, `events.out.tfevents.<unix time>.<host>` in a
/// directory, so `tensorboard --logdir DIR` shows the curves, live while the run goes on.
///
/// Tags follow Betty's tensorboard logger (`logger_type="tensorboard"`): `<problem>/loss` and
/// `<problem>/<metric>` for what a problem's training step logs, `validation/<metric>`, plus
/// `hypergradient_norm/<problem>` for a problem with paths and `memory/live_bytes` and
/// `memory/peak_bytes` once per global step (their values after the step's last problem). Every
/// value is at the global step; every step is written (Betty writes only every `log_step`).
///
/// Records are kept in memory and written when an event arrives at least `flushInterval` after the
/// last write, at `flush()` and at `close()` (or when the logger is released). A failed write never
/// interrupts training: the first is kept in `failure` and logging stops there, with the records
/// before it in the file. Safe to call from any thread.
public final class TensorBoardLogger: Sendable {
    /// As the caller gave it.
    public let directory: String
    /// The event file.
    public let path: String
    public let flushInterval: Duration

    private struct State {
        var file: FileReplacement?
        var buffer: [UInt8] = []
        var lastWrite = ContinuousClock.now
        /// The memory of the latest global step, written once the next step begins (or at `flush`).
        var memory: (step: Int, wallTime: Double, live: Int, peak: Int)?
        var failure: FileIOError?
    }
    private let state: Mutex<State>

    /// Creates `directory` (and its parents) when missing and starts a new event file in it with the
    /// file-version record, already on disk when this returns.
    public init(directory: String, flushInterval: Duration = .seconds(2)) throws(FileIOError) {
        try FileIO.createDirectory(directory)
        let base = (directory.hasSuffix("/") ? directory : directory + "/")
            + "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(Self.hostName())"
        // Two loggers started in the same second on one host: the later file gets a suffix, as
        // TensorBoard reads every file whose name contains "tfevents".
        var path = base
        var suffix = 0
        var info = stat()
        while lstat(path, &info) == 0 {
            suffix += 1
            path = base + ".\(suffix)"
        }
        let file = try FileReplacement(replacing: path)
        try file.write(TensorBoardRecords.framed(TensorBoardRecords.fileVersionEvent(wallTime: Date().timeIntervalSince1970)))
        try file.commit()
        self.directory = directory
        self.path = path
        self.flushInterval = flushInterval
        state = Mutex(State(file: file))
    }

    deinit { close() }

    /// The first failed write (a full disk, say); nil while logging goes on.
    public var failure: FileIOError? { state.withLock { $0.failure } }

    public func log(_ event: EngineEvent) {
        let now = Date().timeIntervalSince1970
        state.withLock { s in
            guard s.file != nil else { return }
            switch event {
            case let .step(e):
                if let m = s.memory, m.step != e.globalStep { Self.appendMemory(m, to: &s.buffer) }
                s.memory = (e.globalStep, now, e.liveBytes, e.peakBytes)
                var values = [(tag: "\(e.problem)/loss", value: e.loss)]
                if let norm = e.hypergradientNorm { values.append(("hypergradient_norm/\(e.problem)", norm)) }
                // As Betty, whose loss dictionary's "loss" is the loss itself.
                for (k, v) in e.metrics.sorted(by: { $0.key < $1.key }) where k != "loss" { values.append(("\(e.problem)/\(k)", v)) }
                s.buffer += TensorBoardRecords.framed(TensorBoardRecords.scalarEvent(wallTime: now, step: e.globalStep, values))
            case let .validation(step, metrics):
                guard !metrics.isEmpty else { return }
                let values = metrics.sorted { $0.key < $1.key }.map { (tag: "validation/\($0.key)", value: $0.value) }
                s.buffer += TensorBoardRecords.framed(TensorBoardRecords.scalarEvent(wallTime: now, step: step, values))
            case .stopped, .notice:
                return
            }
            if ContinuousClock.now - s.lastWrite >= flushInterval { Self.write(&s) }
        }
    }

    /// Any scalars at `step` (TensorBoard's `add_scalar`), written with the engine's.
    public func log(_ values: [(tag: String, value: Float)], step: Int) {
        let now = Date().timeIntervalSince1970
        state.withLock { s in
            guard s.file != nil, !values.isEmpty else { return }
            s.buffer += TensorBoardRecords.framed(TensorBoardRecords.scalarEvent(wallTime: now, step: step, values))
            if ContinuousClock.now - s.lastWrite >= flushInterval { Self.write(&s) }
        }
    }

    /// Writes everything logged so far, the latest step's memory included (call it when a run ends).
    public func flush() {
        state.withLock { s in
            if let m = s.memory, s.file != nil { Self.appendMemory(m, to: &s.buffer) }
            s.memory = nil
            Self.write(&s)
        }
    }

    /// Flushes and closes the file; later events are ignored.
    public func close() {
        flush()
        state.withLock { $0.file = nil }
    }

    private static func appendMemory(_ m: (step: Int, wallTime: Double, live: Int, peak: Int), to buffer: inout [UInt8]) {
        buffer += TensorBoardRecords.framed(TensorBoardRecords.scalarEvent(
            wallTime: m.wallTime, step: m.step, [("memory/live_bytes", Float(m.live)), ("memory/peak_bytes", Float(m.peak))]))
    }

    private static func write(_ s: inout State) {
        s.lastWrite = ContinuousClock.now
        guard let file = s.file, !s.buffer.isEmpty else { return }
        defer { s.buffer.removeAll(keepingCapacity: true) }
        do {
            try file.write(s.buffer)
        } catch {
            s.failure = error
            s.file = nil
        }
    }

    private static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return host.isEmpty ? "localhost" : host.replacingOccurrences(of: "/", with: "_")
    }
}
