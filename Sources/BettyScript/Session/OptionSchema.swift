/// The options of one statement (`optimizer sgd`, `engine`, a data source, a layer), declared once
/// with each option's type, range, unit and default: `OptionReader` parses and validates through it,
/// `help` and the language summary print it, and the schema's property test generates from it.
struct OptionTable: Sendable {
    /// The statement as `help` heads it: `optimizer sgd`, `data NAME = logistic`.
    var statement: String
    var options: [OptionSpec]

    init(_ statement: String, _ options: [OptionSpec]) {
        self.statement = statement
        self.options = options
    }

    subscript(key: String) -> OptionSpec? { options.first { $0.key == key } }

    var keys: [String] { options.map(\.key) }
}

struct OptionSpec: Sendable {
    var key: String
    var type: OptionType
    var defaultValue: OptionDefault
    /// What one unit of an integer or real is (steps, samples, bytes), for help.
    var unit: String
    var summary: String
    /// Another key this one writes (`unroll` for `unroll_steps`): shown under that key.
    var aliasOf: String?
    /// Added to the refusal of a value outside the choices: which values are missing, and why.
    var refusalNote: String?
    /// The option this one only works beside (`warmup=N` for `warmup_start`): given alone, it is
    /// refused as doing nothing without it.
    var requires: String?

    init(_ key: String, _ type: OptionType, _ defaultValue: OptionDefault = .none, unit: String = "", _ summary: String = "",
         aliasOf: String? = nil, refusalNote: String? = nil, requires: String? = nil) {
        self.key = key
        self.type = type
        self.defaultValue = defaultValue
        self.unit = unit
        self.summary = summary
        self.aliasOf = aliasOf
        self.refusalNote = refusalNote
        self.requires = requires
    }
}

enum OptionType: Sendable {
    case integer(ClosedRange<Int>)
    case real(RealRange)
    /// `key`, `key=true|false|yes|no|on|off|1|0`.
    case flag
    case choice([String])
    /// `key=(a, b, ...)` of integers in the range (a single value is a list of one).
    case integers(ClosedRange<Int>)
    /// A bare name: a problem (`from=meta`) or a validation metric (`early_stopping=acc`), known
    /// only while the session runs.
    case name(String)
    /// A quoted file path.
    case path
    /// A quoted .npy path or a data set's tensor (`from=D.x`).
    case source
    /// A byte count (`2e9`), a quoted size with a unit (`"512MB"`) or `off`.
    case size

    /// How `help` describes the type and its range.
    var description: String {
        switch self {
        case let .integer(range): "integer \(Self.describe(range))"
        case let .real(range): "real \(range)"
        case .flag: "flag"
        case let .choice(words): words.joined(separator: "|")
        case let .integers(range): "list of integers \(Self.describe(range))"
        case let .name(what): what
        case .path: "quoted path"
        case .source: "quoted .npy path or DATA.x/DATA.y"
        case .size: "bytes, \"512MB\" or off"
        }
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        switch (range.lowerBound, range.upperBound) {
        case (Int.min, Int.max): "(any)"
        case (let low, Int.max): ">= \(low)"
        case let (low, high) where low == high: "\(low) (the only value)"
        case let (low, high): "\(low) to \(high)"
        }
    }
}

/// An interval of reals, each end open or closed; infinite ends are open.
struct RealRange: Sendable, CustomStringConvertible {
    var lower: Float = -.infinity
    var lowerIncluded = false
    var upper: Float = .infinity
    var upperIncluded = false

    static let any = RealRange()
    static func atLeast(_ x: Float) -> RealRange { RealRange(lower: x, lowerIncluded: true) }
    static func above(_ x: Float) -> RealRange { RealRange(lower: x) }
    static func closed(_ a: Float, _ b: Float) -> RealRange { RealRange(lower: a, lowerIncluded: true, upper: b, upperIncluded: true) }
    /// [a, b)
    static func halfOpen(_ a: Float, _ b: Float) -> RealRange { RealRange(lower: a, lowerIncluded: true, upper: b) }
    /// (a, b]
    static func aboveUpTo(_ a: Float, _ b: Float) -> RealRange { RealRange(lower: a, upper: b, upperIncluded: true) }

    func contains(_ x: Float) -> Bool {
        (lowerIncluded ? x >= lower : x > lower) && (upperIncluded ? x <= upper : x < upper)
    }

    var description: String {
        switch (lower.isFinite, upper.isFinite) {
        case (false, false): "(any)"
        case (true, false): "\(lowerIncluded ? ">=" : ">") \(formatNumber(lower))"
        case (false, true): "\(upperIncluded ? "<=" : "<") \(formatNumber(upper))"
        case (true, true): "in \(lowerIncluded ? "[" : "(")\(formatNumber(lower)), \(formatNumber(upper))\(upperIncluded ? "]" : ")")"
        }
    }
}

enum OptionDefault: Sendable {
    /// Absent means not set (an optional option) or, for a flag, off.
    case none
    case integer(Int)
    case real(Float)
    case flag(Bool)
    case word(String)
    /// A default that depends on the session (`the session's seed`, `the current value`).
    case described(String)

    var text: String? {
        switch self {
        case .none: nil
        case let .integer(n): String(n)
        case let .real(x): OptionValue.real(x).text
        case let .flag(b): b ? "true" : "false"
        case let .word(w): w
        case let .described(d): d
        }
    }
}

/// An option's value as read: rendered the one way `show` prints it back.
enum OptionValue: Sendable, Equatable {
    case integer(Int)
    case real(Float)
    case flag(Bool)
    case word(String)
    case integers([Int])
    case text(String)

    var text: String {
        switch self {
        case let .integer(n): String(n)
        case let .real(x): formatNumber(x)
        case let .flag(b): b ? "true" : "false"
        case let .word(w): w
        case let .integers(list): "(\(list.map(String.init).joined(separator: ", ")))"
        case let .text(t): "\"\(t)\""
        }
    }
}

extension OptionTable {
    /// `key=default` for each option, a flag as its key, a choice as its words: one line of the
    /// language summary.
    var compact: String {
        options.filter { $0.aliasOf == nil }.map { spec -> String in
            switch spec.type {
            // A flag alone turns it on; one that is on by default shows it.
            case .flag: return spec.defaultValue.text == "true" ? "\(spec.key)=true" : spec.key
            case let .choice(words):
                let first = if case let .word(w) = spec.defaultValue { [w] } else { [String]() }
                return "\(spec.key)=\((first + words.filter { !first.contains($0) }).joined(separator: "|"))"
            default:
                if case .described = spec.defaultValue { return "\(spec.key)=" }
                return "\(spec.key)=\(spec.defaultValue.text ?? "")"
            }
        }.joined(separator: " ")
    }

    /// One line per option: `key=default`, type and range with the unit, and what it does.
    var detailed: String {
        var lines = [statement]
        for spec in options {
            var summary = spec.aliasOf.map { "the same as \($0)" } ?? spec.summary
            let head: String
            switch (spec.type, spec.defaultValue) {
            case (.flag, _): head = spec.key
            case let (_, .described(text)):
                head = "\(spec.key)="
                summary += (summary.isEmpty ? "" : "; ") + "default: \(text)"
            default: head = "\(spec.key)=\(spec.defaultValue.text ?? "")"
            }
            var type = spec.type.description + (spec.unit.isEmpty ? "" : " (\(spec.unit))")
            if case .flag = spec.type { type += ", \(spec.defaultValue.text == "true" ? "on" : "off") by default" }
            lines.append("    " + head.padding(toLength: max(22, head.count + 2), withPad: " ", startingAt: 0)
                         + type.padding(toLength: max(34, type.count + 2), withPad: " ", startingAt: 0) + summary)
        }
        return lines.map { $0.trimmingTrailingSpaces }.joined(separator: "\n")
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

import Foundation
