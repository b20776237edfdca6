import Foundation

/// The JAX peer programs (`../shared/peers/jax`), run by this benchmark so that their times and ours
/// come from the same run on the same machine: only the ratio is judged, since this machine's
/// absolute times drift by tens of percent. Set `BETTY_JAX_PYTHON` to a Python with `jax` and
/// `numpy` (`BETTY_PEERS` to the peers' directory when it is not `../shared/peers`); without it the
/// rows carry the README's figures and say so.
enum Peers {
    static var python: String? { ProcessInfo.processInfo.environment["BETTY_JAX_PYTHON"] }
    static var directory: String { ProcessInfo.processInfo.environment["BETTY_PEERS"] ?? "../shared/peers" }

    /// The baseline column of a row: measured now, or the figure written down for this machine.
    static func baseline(_ measured: Double?, recorded: Double) -> (name: String, value: Double) {
        measured.map { ("JAX jit, this run", $0) } ?? ("JAX jit (README figure)", recorded)
    }

    /// Logistic HPO microseconds per inner iteration (median of the peer's timed runs), one thread.
    static func logisticHPO(variant: String) -> Double? {
        run("jax/logreg_hpo.py", ["--variant", variant], pinned: true)?["us_per_inner_iter_median"] as? Double
    }

    /// Meta-Weight-Net milliseconds per iteration (median), pinned to one core or on both.
    static func metaWeightNet(threads: Int, iterations: Int) -> Double? {
        run("jax/mwn.py", ["--iters", "\(iterations)", "--no-aot"], pinned: threads == 1)?["ms_median"] as? Double
    }

    /// Runs one peer and returns its JSON line, or nil (with a note on standard error) when it
    /// cannot run. `taskset -c 0` is what holds XLA to one thread; its flags alone do not.
    private static func run(_ script: String, _ arguments: [String], pinned: Bool) -> [String: Any]? {
        guard let python else { return nil }
        let path = URL(fileURLWithPath: directory).appendingPathComponent(script).path
        guard FileManager.default.fileExists(atPath: path) else {
            FileHandle.standardError.write(Data("peers: \(path) not found; set BETTY_PEERS\n".utf8))
            return nil
        }
        let process = Process()
        let out = Pipe()
        process.executableURL = URL(fileURLWithPath: pinned ? "/usr/bin/taskset" : python)
        process.arguments = (pinned ? ["-c", "0", python] : []) + [path] + arguments
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            FileHandle.standardError.write(Data("peers: cannot run \(python): \(error)\n".utf8))
            return nil
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            FileHandle.standardError.write(Data("peers: \(script) \(arguments.joined(separator: " ")) failed (status \(process.terminationStatus))\n".utf8))
            return nil
        }
        return object
    }
}
