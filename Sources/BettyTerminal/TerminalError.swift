/// Why the dashboard cannot take over the terminal. Each message ends in what happens instead, since the
/// caller carries on with plain line output.
public enum TerminalError: Error, Equatable, Sendable, CustomStringConvertible {
    case noTerminalType
    case dumbTerminal
    case notATerminal(fd: Int32)
    case unknownTerminal(String)
    /// Another dashboard holds the terminal (one at a time: the signal handlers restore one terminal).
    case alreadyOpen
    case system(call: String, errno: Int32)

    public var description: String {
        let prefix = "the dashboard needs a terminal: "
        let suffix = "; plain output continues"
        switch self {
        case .noTerminalType: return prefix + "TERM is not set" + suffix
        case .dumbTerminal: return prefix + "TERM is dumb" + suffix
        case let .notATerminal(fd):
            let name = fd == 0 ? "standard input" : fd == 1 ? "standard output" : "file descriptor \(fd)"
            return prefix + "\(name) is not a terminal" + suffix
        case let .unknownTerminal(term): return prefix + "no terminfo entry for TERM=\(term)" + suffix
        case .alreadyOpen: return "the dashboard is already open"
        case let .system(call, code): return prefix + "\(call) failed (errno \(code))" + suffix
        }
    }
}
