import Betty
import Foundation

/// `check hypergrad NAME`: the hypergradient by every method that applies, against a reference.
extension Session {
    func checkHypergrad(_ name: Name, _ options: [Option]) throws(ScriptError) {
        var reader = try OptionReader(options, table: OptionTables.checkHypergrad)
        let against = try reader.optionalWord("against", meaning: " (the reference: reverse mode through a long unroll, or central differences)")
        let steps = try reader.optionalInteger("steps")
        let referenceSteps = try reader.optionalInteger("reference_steps")
        try reader.finish()
        _ = try program.problem(name)
        guard let engine = program.engine else { throw ScriptError("no engine yet", at: name.location) }
        try program.checkPending()
        try program.checkReadsOfReverseModeLevels()
        _ = consumeInterrupt()
        let settings = HypergradientCheck.Settings(reference: against.flatMap(HypergradientCheck.Reference.init(rawValue:)),
                                                   steps: steps, referenceSteps: referenceSteps)
        let check: HypergradientCheck
        do {
            check = try engine.checkHypergradient(of: name.text, settings: settings)
        } catch let .cancelled(interruption) {
            _ = consumeInterrupt()
            output.text("check of \(name.text)'s hypergradient interrupted (\(interruption.point)); nothing changed")
            return
        } catch let .userCode(problem, error) {
            throw runError(.userCode(problem: problem, error: error), at: name.location)
        } catch {
            // Whatever failed inside the check's windows was put back: the run has not stopped.
            throw ScriptError("\(error); nothing changed", at: name.location)
        }
        program.bindings.lastCheck = check
        output.hypergradientCheck(check, text: CheckResults.table(check))
    }
}

/// The text of a check and the values `check.METHOD.FIELD` reads.
enum CheckResults {
    static let fields = ["rel_error", "cosine", "norm", "time"]

    static func value(_ path: String, in check: HypergradientCheck?, at location: SourceLocation) throws(ScriptError) -> Float {
        guard let check else {
            throw ScriptError("no check has run yet; 'check hypergrad NAME' makes the values check.METHOD.rel_error, .cosine, .norm and .time", at: location)
        }
        let parts = path.split(separator: ".").map(String.init)
        let methods = check.rows.map(\.method) + ["configured", "reference"]
        guard parts.count == 2, methods.contains(parts[0]), fields.contains(parts[1]) else {
            let method = parts.first ?? ""
            if !methods.contains(method) {
                throw ScriptError("the check of \(check.problem) has no row '\(method)'\(didYouMean(method, in: methods)); have \(methods.joined(separator: ", "))", at: location)
            }
            throw ScriptError("check.\(method) has \(fields.joined(separator: ", "))", at: location)
        }
        if parts[0] == "reference" {
            switch parts[1] {
            case "norm": return Float(check.referenceNorm)
            case "time": return Float(check.referenceSeconds)
            case "rel_error": return 0
            default: return 1
            }
        }
        let row = parts[0] == "configured" ? check.rows.first(where: \.isConfigured)! : check.row(parts[0])!
        switch row.outcome {
        case let .computed(_, norm, cosine, relativeError):
            switch parts[1] {
            case "rel_error": return Float(relativeError)
            case "cosine": return Float(cosine)
            case "norm": return Float(norm)
            default: return Float(row.seconds)
            }
        case let .notApplicable(why), let .failed(why):
            throw ScriptError("check.\(parts[0]) has no value: \(why)", at: location)
        }
    }

    static func table(_ check: HypergradientCheck) -> String {
        var lines: [String] = []
        var header = "hypergradient of \(check.problem) by each method, against \(check.referenceDetail): norm \(number(check.referenceNorm)), \(seconds(check.referenceSeconds))"
        if let error = check.referenceError { header += "; its own error up to about \(number(error)) (relative)" }
        lines.append(header)
        lines.append("    method      norm         cosine      rel. error   time      settings")
        for row in check.rows {
            let mark = row.isConfigured ? "  * " : "    "
            let method = row.method.padding(toLength: 10, withPad: " ", startingAt: 0)
            switch row.outcome {
            case let .computed(_, norm, cosine, relativeError):
                let cells = [number(norm), String(format: "%.6f", cosine), number(relativeError), seconds(row.seconds)]
                    .map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }
                lines.append(mark + method + "  " + cells.joined(separator: "  ") + row.detail)
            case let .notApplicable(why):
                lines.append(mark + method + "  n/a: " + why)
            case let .failed(why):
                lines.append(mark + method + "  failed: " + why)
            }
        }
        lines.append("    (* is what the program computes as configured; each row steps the levels below one window from the current state, which is then put back)")
        lines += check.warnings.map { "warning: " + $0 }
        return lines.joined(separator: "\n")
    }

    private static func number(_ x: Double) -> String { String(format: "%.4e", x) }
    private static func seconds(_ s: Double) -> String { String(format: "%.3f s", s) }
}
