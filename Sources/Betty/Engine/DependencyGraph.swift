/// Errors in the level graph, caught before anything runs.
public enum GraphError: Error, Equatable, CustomStringConvertible, Sendable {
    case duplicateProblem(String)
    case unknownProblem(String, suggestion: String?)
    case selfDependency(String)
    case cycle([String])
    case noPath(upper: String, lower: String)
    case noLeaf

    public var description: String {
        switch self {
        case let .duplicateProblem(name):
            return "two problems are named '\(name)'; problem names must be unique"
        case let .unknownProblem(name, suggestion):
            return "no problem named '\(name)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
        case let .selfDependency(name):
            return "problem '\(name)' cannot depend on itself"
        case let .cycle(names):
            return "the lower-to-upper dependencies form a cycle: " + names.joined(separator: " -> ")
        case let .noPath(upper, lower):
            return "'\(upper)' uses '\(lower)' (u2l) but there is no lower-to-upper path from '\(lower)' back to '\(upper)'; add l2u \(lower) -> ... -> \(upper)"
        case .noLeaf:
            return "no problem is a leaf (a lowest level that no other problem depends on through l2u)"
        }
    }
}

/// The level graph of a multilevel program, by problem name (Betty's `dependencies`).
///
/// - `u2l[upper]` lists the lower problems whose loss uses `upper`'s parameters: each is optimized
///   given `upper`, so its best response depends on it (data reweighting: `u2l[reweight] =
///   [classifier]`).
/// - `l2u[lower]` lists the upper problems whose loss uses `lower`'s parameters: they step after it
///   and their hypergradients flow back through it (`l2u[classifier] = [reweight]`).
///
/// A problem that no `l2u` edge points to is a leaf: the engine steps leaves, and a leaf's progress
/// triggers its uppers (Betty's `check_leaf`).
public struct DependencyGraph: Sendable, Equatable {
    public private(set) var problems: [String]
    public private(set) var u2l: [String: [String]]
    public private(set) var l2u: [String: [String]]

    /// Back-propagation paths per upper problem: each is `[upper, p1, ..., lower, upper]` for an
    /// edge `u2l[upper] ∋ lower`: the l2u chain from `lower` up to `upper`, reversed, with `upper`
    /// appended (Betty's `find_paths`). `upper`'s loss uses `p1`'s parameters; each problem's loss
    /// uses the next one's, down to `lower`, whose loss uses `upper`'s.
    public private(set) var paths: [String: [[String]]] = [:]
    /// Problems that no l2u edge points to, in declaration order.
    public private(set) var leaves: [String] = []

    public init(problems: [String], u2l: [String: [String]] = [:], l2u: [String: [String]] = [:]) throws(GraphError) {
        var seen = Set<String>()
        for p in problems where !seen.insert(p).inserted { throw .duplicateProblem(p) }
        self.problems = problems
        self.u2l = u2l
        self.l2u = l2u
        try validate()
    }

    private mutating func validate() throws(GraphError) {
        let known = Set(problems)
        for edges in [u2l, l2u] {
            for (from, tos) in edges.sorted(by: { $0.key < $1.key }) {
                for name in [from] + tos where !known.contains(name) {
                    throw .unknownProblem(name, suggestion: closestName(to: name, in: problems))
                }
                if tos.contains(from) { throw .selfDependency(from) }
            }
        }
        if let cycle = findCycle() { throw .cycle(cycle) }
        // Leaves: problems that no l2u edge points to.
        let pointedTo = Set(l2u.values.joined())
        leaves = problems.filter { !pointedTo.contains($0) }
        if leaves.isEmpty && !problems.isEmpty { throw .noLeaf }
        var found: [String: [[String]]] = [:]
        for upper in problems {
            for lower in u2l[upper] ?? [] {
                let chains = chains(from: lower, to: upper)
                if chains.isEmpty { throw .noPath(upper: upper, lower: lower) }
                found[upper, default: []] += chains.map { $0.reversed() + [upper] }
            }
        }
        paths = found
    }

    /// Every l2u chain `[from, ..., to]`.
    private func chains(from: String, to: String) -> [[String]] {
        if from == to { return [[from]] }
        var out: [[String]] = []
        for next in l2u[from] ?? [] {
            for rest in chains(from: next, to: to) { out.append([from] + rest) }
        }
        return out
    }

    /// A cycle among the l2u edges, if any, as the names along it (first repeated at the end).
    private func findCycle() -> [String]? {
        var state: [String: Int] = [:]  // 1: on the stack, 2: done
        var stack: [String] = []
        func visit(_ node: String) -> [String]? {
            state[node] = 1
            stack.append(node)
            for next in l2u[node] ?? [] {
                if state[next] == 1 {
                    let start = stack.firstIndex(of: next)!
                    return Array(stack[start...]) + [next]
                }
                if state[next] == nil, let cycle = visit(next) { return cycle }
            }
            stack.removeLast()
            state[node] = 2
            return nil
        }
        for p in problems where state[p] == nil {
            if let cycle = visit(p) { return cycle }
        }
        return nil
    }

    /// The uppers whose loss uses `name`'s parameters (l2u): the problems `name` triggers.
    public func parents(of name: String) -> [String] { l2u[name] ?? [] }

    /// The lowers whose parameters `name`'s loss uses: the problems it waits for before stepping.
    public func children(of name: String) -> [String] {
        problems.filter { (l2u[$0] ?? []).contains(name) }
    }
}

/// The known name nearest to `name` by edit distance, when it is close enough to be a likely typo.
/// Case is ignored, and an insertion, deletion, substitution or swap of two neighbours counts one
/// ("lsos" is one slip from "loss"); ties go to the earlier candidate. `maxDistance` defaults to a
/// third of the name, rounded up.
public func closestName(to name: String, in candidates: some Sequence<String>, maxDistance: Int? = nil) -> String? {
    let target = Array(name.lowercased())
    var best: (name: String, distance: Int)?
    for candidate in candidates {
        let d = editDistance(target, Array(candidate.lowercased()))
        if d < (best?.distance ?? .max) { best = (candidate, d) }
    }
    guard let best, best.distance <= (maxDistance ?? max(1, (name.count + 2) / 3)) else { return nil }
    return best.name
}

/// Optimal string alignment distance.
private func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[a.count][b.count]
}
