import BettyNN
import BettyTensor

/// The memory budget in the session language: `engine memory_limit=...`, and the check made before
/// a command allocates data or parameters whose size the user typed, reported in the user's words.
extension Session {
    /// What the user knows the limit by, in messages.
    static let memoryLimitName = "engine memory_limit"

    /// Throws, pointing at `span`, when `floats` elements (nil: a count that overflowed) do not fit.
    /// `purpose` is what the message says needs them, usually the command as typed.
    func requireMemory(floats: Int?, for purpose: @autoclosure () -> String, at span: SourceLocation) throws(ScriptError) {
        do { try MemoryBudget.check(floats: floats, for: purpose()) } catch {
            throw ScriptError(error.description(limitName: Self.memoryLimitName), at: span)
        }
    }

    /// A refusal from the library, retold with `purpose` (the command as typed) when given.
    func memoryError(_ exceeded: MemoryBudget.Exceeded, purpose: String?, at span: SourceLocation) -> ScriptError {
        var retold = exceeded
        if let purpose { retold.purpose = purpose }
        return ScriptError(retold.description(limitName: Self.memoryLimitName), at: span)
    }

    /// The text of `span` as typed, or nil when the line is no longer known.
    func typedText(_ span: SourceLocation) -> String? {
        guard let line = recentLines["\(span.file):\(span.line)"].map(Array.init),
              span.column >= 1, span.column - 1 + span.length <= line.count else { return nil }
        return String(line[(span.column - 1)..<(span.column - 1 + span.length)])
    }

    /// Reads `memory_limit=` from the engine command's options: a byte count (`2e9`), a quoted size
    /// with a unit (`"512MB"`, `"1.5GiB"`), or `off`. Returns nil when the option is absent, `.some(nil)`
    /// for `off`.
    func memoryLimitOption(_ reader: inout OptionReader, in options: [Option]) throws(ScriptError) -> Int?? {
        let key = "memory_limit"
        guard let (option, value) = try reader.raw(key) else { return nil }
        let usage = "\(key) takes a byte count (2e9), a quoted size (\"512MB\", \"1.5GiB\"; units \(ByteCount.units)) or off"
        switch value {
        case let .string(text, location):
            guard let bytes = ByteCount.parse(text), bytes > 0 else {
                throw ScriptError("'\(text)' is not a size; \(usage)", at: location)
            }
            return .some(bytes)
        case let .name(word, location):
            guard word == "off" else { throw ScriptError("'\(word)' is not a size; \(usage)", at: location) }
            return .some(nil)
        default:
            guard case let .integer(bytes) = ExpressionCompiler.constantInteger(value), bytes >= 1 else {
                throw ScriptError(usage, at: option.location)
            }
            return .some(bytes)
        }
    }

    /// `show memory`'s line on the budget.
    func describeMemoryBudget() -> String {
        let available: String = switch MemoryBudget.available {
        case let .available(bytes): "\(ByteCount.format(bytes)) available"
        case let .physical(bytes), let .limit(bytes, _): "\(ByteCount.format(bytes)) of physical memory"
        }
        let limit = MemoryBudget.limit.map { "\(Self.memoryLimitName) \(ByteCount.format($0))" } ?? "no \(Self.memoryLimitName)"
        return "memory budget: \(available), \(limit)"
    }
}
