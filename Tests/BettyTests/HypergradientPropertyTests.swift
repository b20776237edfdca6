import Foundation
import Testing
import BettyNN
import BettyTensor
import Betty

/// Issue 17, "Hypergradients right on every wiring": seeded random small programs against references
/// computed here in Double, never through the library.
///
/// A program has two or three levels (dims 2 to 4). Its losses are built from a few term shapes:
/// - an SPD quadratic;
/// - Σ wᵢφ(rᵢ) with φ one of ½r², softplus or log cosh, and r an affine map of one or more levels;
/// - a curvature ½Σ softplus(s)ᵢxᵢ²;
/// - a tilt Σ cᵢxᵢ softplus(s)ᵢ (in the last two, s is affine in another level).
/// Every lower level is strongly convex in its own parameters. The same terms are evaluated twice: as
/// tensors for the engine, and in Double with forward-mode dual numbers for the reference. Every failure
/// prints the case (family, index, seed, wiring, methods and settings, loss terms);
/// `twoLevel(index:)`, `threeLevel(index:)` and `identityHessian(index:)` rebuild it from its index.
///
/// Wirings (three levels): a chain top → middle → bottom, or a top that reads the bottom too, with u2l/l2u
/// edges; a bottom that reads the top, that only declares it (u2l top ∋ bottom, unused), or neither; a
/// middle whose loss mixes its parameters with the bottom's, or keeps them apart. Every pair of methods
/// is taken in turn for the middle and the bottom, with extra all-reverse programs.
///
/// What each method is held to:
/// - reverse: central differences of the nested unrolled objective, each window as the engine runs it
///   (`reverseTolerance`).
/// - neumann, cg with the lower level at its exact optimum (two levels): the implicit-function-theorem
///   hypergradient (`implicitTolerance`), plus for neumann the series' truncation, bounded from its
///   contraction factor.
/// - darts, sama: the method's own formula evaluated in Double at the state the engine was in, composed
///   along the engine's paths by its rule (docs/BETTY_SEMANTICS.md §4.1; `formulaTolerance`). The same
///   holds for neumann and cg below a darts or sama middle, and for any middle's own step over any bottom,
///   away from any optimum. darts is also checked exact where it is: a lower Hessian equal to the
///   identity, at the optimum.
/// - three levels mixing methods the engine refuses: only the documented `EngineError`s pass. The three
///   engine defects this test found (crashes of valid programs) are fixed; a minimal program of each is at
///   the end of the file.
@Suite struct HypergradientPropertyTests {
    // MARK: - Tolerances

    /// The issue's bar for reverse mode, relative to the reference's norm. Float32 runs through at most
    /// twelve unrolled steps of O(1) values here, against Double central differences (error ~1e-10).
    /// Observed: at most 8e-7.
    static let reverseTolerance = 1e-4
    /// Float32 implicit solves at the optimum against the exact IFT value, relative to the summed norms of
    /// the direct term and the path. Each Hessian-vector product carries a few Float32 roundings (6e-8)
    /// of the gradient's terms. CG amplifies them by the condition number (below ~20 here), the Neumann
    /// sum accumulates them over its terms, and the lower level sits at its optimum rounded to Float32
    /// (~1e-7), which is ~1e-6 in all. Observed: at most 6e-7. A wrong sign or factor is off by O(1).
    static let implicitTolerance = 2e-5
    /// Finite-difference methods in Float32 against the same formula in Double, relative to the summed
    /// norms of the parts (the direct term and each path). Two gradients of size G are subtracted at a
    /// step ε = α/|v| with α ≥ 0.01, so rounding adds about 6e-8 · G/(α |result|), up to ~2e-4 when
    /// G/|result| ≈ 30. sama also re-derives Adam's previous moments, m₀ = (m − (1−β1)g)/β1, in Float32.
    /// Observed: at most 8e-5. 1e-3 is also the bar of RidgeHypergradientTests.
    static let formulaTolerance = 1e-3
    /// The reference checking itself: IFT in Double against central differences of the nested optimum.
    static let referenceSelfTolerance = 1e-6

    static let baseSeed: UInt64 = 0x5EED_17_BE77
    static let twoLevelCount = 200
    static let threeLevelCount = 480
    static let identityHessianCount = 20

    // MARK: - Seeded generator

    struct SplitMix64 {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
        /// Uniform in [a, b), rounded to Float so that the engine and the reference see the same number.
        mutating func float(_ a: Double, _ b: Double) -> Double { Double(Float(a + (b - a) * unit())) }
        mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
        mutating func bool(_ p: Double = 0.5) -> Bool { unit() < p }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }
        mutating func vector(_ n: Int, _ a: Double, _ b: Double) -> [Double] { (0..<n).map { _ in float(a, b) } }
        mutating func matrix(_ rows: Int, _ cols: Int, _ scale: Double) -> [[Double]] {
            (0..<rows).map { _ in vector(cols, -scale, scale) }
        }
        /// BᵀB/n + m·I, symmetric and Float-representable: eigenvalues ≥ about m.
        mutating func spd(_ n: Int, minEig m: Double, spread: Double) -> [[Double]] {
            let b = (0..<n).map { _ in (0..<n).map { _ in (unit() * 2 - 1) * spread } }
            var a = Array(repeating: Array(repeating: 0.0, count: n), count: n)
            for i in 0..<n {
                for j in i..<n {
                    var s = 0.0
                    for k in 0..<n { s += b[k][i] * b[k][j] }
                    let v = Double(Float(s / Double(n) + (i == j ? m : 0)))
                    a[i][j] = v
                    a[j][i] = v
                }
            }
            return a
        }
    }

    static func caseSeed(_ family: UInt64, _ index: Int) -> UInt64 {
        var g = SplitMix64(seed: baseSeed ^ (family &* 0x1000_0000) ^ UInt64(index))
        return g.next()
    }

    // MARK: - Forward-mode dual numbers (one tangent)

    struct Dual {
        var v: Double
        var d: Double
        init(_ v: Double, _ d: Double = 0) {
            self.v = v
            self.d = d
        }
        static func + (a: Dual, b: Dual) -> Dual { Dual(a.v + b.v, a.d + b.d) }
        static func - (a: Dual, b: Dual) -> Dual { Dual(a.v - b.v, a.d - b.d) }
        static func * (a: Dual, b: Dual) -> Dual { Dual(a.v * b.v, a.d * b.v + a.v * b.d) }
        static func * (s: Double, a: Dual) -> Dual { Dual(s * a.v, s * a.d) }
        static func + (a: Dual, s: Double) -> Dual { Dual(a.v + s, a.d) }

        static func sigmoid(_ x: Double) -> Double {
            if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
            let e = Foundation.exp(x)
            return e / (1 + e)
        }
        static func softplus(_ x: Double) -> Double { Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x))) }
        var softplus: Dual { Dual(Dual.softplus(v), Dual.sigmoid(v) * d) }
        var sigmoid: Dual {
            let s = Dual.sigmoid(v)
            return Dual(s, s * (1 - s) * d)
        }
        var tanh: Dual {
            let t = Foundation.tanh(v)
            return Dual(t, (1 - t * t) * d)
        }
        /// log cosh x = x + softplus(−2x) − log 2, as the tensor side computes it.
        var logcosh: Dual { Dual(v + Dual.softplus(-2 * v) - M_LN2, Foundation.tanh(v) * d) }
    }

    static func lift(_ x: [[Double]]) -> [[Dual]] { x.map { $0.map { Dual($0) } } }
    static func values(_ x: [Dual]) -> [Double] { x.map(\.v) }
    static func tangents(_ x: [Dual]) -> [Double] { x.map(\.d) }
    static func matvec(_ m: [[Double]], _ x: [Dual]) -> [Dual] {
        m.map { row in zip(row, x).reduce(Dual(0)) { $0 + $1.0 * $1.1 } }
    }
    static func matTvec(_ m: [[Double]], _ y: [Dual]) -> [Dual] {
        (0..<m[0].count).map { j in (0..<m.count).reduce(Dual(0)) { $0 + m[$1][j] * y[$1] } }
    }
    static func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
    static func add(_ a: [Double], _ b: [Double]) -> [Double] { zip(a, b).map(+) }
    static func sub(_ a: [Double], _ b: [Double]) -> [Double] { zip(a, b).map(-) }
    static func scale(_ s: Double, _ a: [Double]) -> [Double] { a.map { s * $0 } }
    static func relative(_ got: [Double], _ expected: [Double]) -> Double {
        norm(sub(got, expected)) / Swift.max(norm(expected), 1e-300)
    }

    // MARK: - Programs

    enum Phi: String { case square, softplus, logcosh }

    struct Map {
        var level: Int
        var g: [[Double]]
    }

    /// One term of a loss; `x[level]` is that level's parameter vector.
    enum Term {
        /// ½ xᵀAx, A SPD.
        case quadratic(level: Int, a: [[Double]])
        /// Σᵢ wᵢ φ(rᵢ), r = Σ_maps G x_level + c.
        case affine(Phi, weights: [Double], maps: [Map], offset: [Double])
        /// ½ Σᵢ softplus(sᵢ) xᵢ², s = D y + e: curvature set by another level.
        case ridge(level: Int, by: Int, d: [[Double]], e: [Double])
        /// Σᵢ cᵢ xᵢ softplus(sᵢ), s = D y + e: linear in x, non-linear in y.
        case tilt(level: Int, by: Int, c: [Double], d: [[Double]], e: [Double])

        func label(_ names: [String]) -> String {
            switch self {
            case let .quadratic(level, _): return "quad(\(names[level]))"
            case let .affine(phi, _, maps, _): return "\(phi.rawValue)(\(maps.map { names[$0.level] }.joined(separator: ",")))"
            case let .ridge(level, by, _, _): return "ridge(\(names[level]) by \(names[by]))"
            case let .tilt(level, by, _, _, _): return "tilt(\(names[level]) by \(names[by]))"
            }
        }

        func value(_ x: [[Dual]]) -> Dual {
            switch self {
            case let .quadratic(level, a):
                let ax = matvec(a, x[level])
                return 0.5 * zip(x[level], ax).reduce(Dual(0)) { $0 + $1.0 * $1.1 }
            case let .affine(phi, weights, maps, offset):
                let r = Term.residual(maps, offset, x)
                return zip(weights, r).reduce(Dual(0)) { sum, wr in
                    switch phi {
                    case .square: return sum + (0.5 * wr.0) * (wr.1 * wr.1)
                    case .softplus: return sum + wr.0 * wr.1.softplus
                    case .logcosh: return sum + wr.0 * wr.1.logcosh
                    }
                }
            case let .ridge(level, by, d, e):
                let s = zip(matvec(d, x[by]), e).map { $0 + $1 }
                return (0..<s.count).reduce(Dual(0)) { $0 + 0.5 * (s[$1].softplus * x[level][$1] * x[level][$1]) }
            case let .tilt(level, by, c, d, e):
                let s = zip(matvec(d, x[by]), e).map { $0 + $1 }
                return (0..<s.count).reduce(Dual(0)) { $0 + c[$1] * (x[level][$1] * s[$1].softplus) }
            }
        }

        /// ∂(term)/∂x[k], nil when the term does not read level k.
        func gradient(wrt k: Int, _ x: [[Dual]]) -> [Dual]? {
            switch self {
            case let .quadratic(level, a):
                return k == level ? matvec(a, x[level]) : nil
            case let .affine(phi, weights, maps, offset):
                guard maps.contains(where: { $0.level == k }) else { return nil }
                let r = Term.residual(maps, offset, x)
                let q: [Dual] = zip(weights, r).map { w, ri in
                    switch phi {
                    case .square: return w * ri
                    case .softplus: return w * ri.sigmoid
                    case .logcosh: return w * ri.tanh
                    }
                }
                var out = Array(repeating: Dual(0), count: x[k].count)
                for m in maps where m.level == k { out = zip(out, matTvec(m.g, q)).map(+) }
                return out
            case let .ridge(level, by, d, e):
                let s = zip(matvec(d, x[by]), e).map { $0 + $1 }
                if k == level { return (0..<s.count).map { s[$0].softplus * x[level][$0] } }
                if k == by { return matTvec(d, (0..<s.count).map { 0.5 * (s[$0].sigmoid * x[level][$0] * x[level][$0]) }) }
                return nil
            case let .tilt(level, by, c, d, e):
                let s = zip(matvec(d, x[by]), e).map { $0 + $1 }
                if k == level { return (0..<s.count).map { c[$0] * s[$0].softplus } }
                if k == by { return matTvec(d, (0..<s.count).map { c[$0] * (x[level][$0] * s[$0].sigmoid) }) }
                return nil
            }
        }

        static func residual(_ maps: [Map], _ offset: [Double], _ x: [[Dual]]) -> [Dual] {
            var r = offset.map { Dual($0) }
            for m in maps { r = zip(r, matvec(m.g, x[m.level])).map(+) }
            return r
        }

        /// The same term as a tensor expression; `read(k)` is level k's parameter tensor.
        func compiled() throws -> ((Int) -> Tensor) throws -> Tensor {
            func matrix(_ m: [[Double]]) throws -> Tensor {
                try Tensor(m.flatMap { $0.map(Float.init) }).reshaped(to: [m.count, m[0].count])
            }
            func vector(_ v: [Double]) -> Tensor { Tensor(v.map(Float.init)) }
            switch self {
            case let .quadratic(level, a):
                let at = try matrix(a)
                return { read in
                    let x = read(level)
                    return try 0.5 * (x * at.matmul(x)).sum()
                }
            case let .affine(phi, weights, maps, offset):
                let gs = try maps.map { ($0.level, try matrix($0.g)) }
                let (w, c) = (vector(weights), vector(offset))
                return { read in
                    var r = c
                    for (level, g) in gs { r = try r + g.matmul(read(level)) }
                    switch phi {
                    case .square: return try 0.5 * (w * r * r).sum()
                    case .softplus: return try (w * softplus(r)).sum()
                    case .logcosh: return try (w * (r + softplus(r * -2) - Float(M_LN2))).sum()
                    }
                }
            case let .ridge(level, by, d, e):
                let (dt, et) = (try matrix(d), vector(e))
                return { read in
                    let x = read(level)
                    return try 0.5 * (softplus(try dt.matmul(read(by)) + et) * x * x).sum()
                }
            case let .tilt(level, by, c, d, e):
                let (ct, dt, et) = (vector(c), try matrix(d), vector(e))
                return { read in try (ct * read(level) * softplus(try dt.matmul(read(by)) + et)).sum() }
            }
        }
    }

    struct Level {
        var name: String
        var dim: Int
        var start: [Double]
        var terms: [Term] = []
        var method: ProblemConfig.Method = .darts
        var unroll = 1
        var lr = 0.0
        var momentum = 0.0
        var adam = false
        /// Reverse-mode bottom levels start every window from `start` with a fresh optimizer state.
        var resetsEachWindow = false
        var dartsAlpha = 0.01, samaAlpha = 1.0, neumannAlpha = 1.0
        var neumannIterations = 1, cgIterations = 1

        var summary: String {
            var s = "\(name)[\(dim)] \(method.rawValue)"
            switch method {
            case .darts: s += " α=\(Float(dartsAlpha))"
            case .sama: s += " α=\(Float(samaAlpha))"
            case .neumann: s += " α=\(Float(neumannAlpha)) K=\(neumannIterations)"
            case .cg: s += " K=\(cgIterations)"
            case .reverse: break
            }
            s += " unroll \(unroll), \(adam ? "Adam" : "SGD") lr \(Float(lr))"
            if momentum != 0 { s += " momentum \(Float(momentum))" }
            return s
        }
    }

    /// Adam's betas and epsilon (its defaults) as the Float32 engine holds them.
    static let beta1 = Double(Float(0.9)), beta2 = Double(Float(0.999)), adamEpsilon = Double(Float(1e-8))

    enum BottomReadsTop: String { case no, declaredUnused = "declared but unused", yes }

    struct Program: CustomStringConvertible {
        var family: String
        var index: Int
        var seed: UInt64
        var quadratic: Bool
        var levels: [Level]
        var u2l: [String: [String]]
        var l2u: [String: [String]]
        var wiring: String
        var topReadsBottom = false
        var bottomReadsTop = BottomReadsTop.no
        var names: [String] { levels.map(\.name) }

        var description: String {
            let losses = levels.map { level in "\(level.name): " + level.terms.map { $0.label(names) }.joined(separator: " + ") }
            let lowers = levels.dropFirst().map(\.summary).joined(separator: "; ")
            return "[\(family) #\(index), seed 0x\(String(seed, radix: 16))] \(quadratic ? "quadratic" : "non-quadratic"), "
                + "\(wiring); \(levels[0].name)[\(levels[0].dim)] lr 0; \(lowers); losses " + losses.joined(separator: "; ")
                + "; u2l \(u2l.sorted { $0.key < $1.key }) l2u \(l2u.sorted { $0.key < $1.key })"
        }

        func value(_ l: Int, _ x: [[Dual]]) -> Dual { levels[l].terms.reduce(Dual(0)) { $0 + $1.value(x) } }

        func gradient(_ l: Int, wrt k: Int, _ x: [[Dual]]) -> [Dual] {
            var g = Array(repeating: Dual(0), count: levels[k].dim)
            for t in levels[l].terms {
                if let tg = t.gradient(wrt: k, x) { g = zip(g, tg).map(+) }
            }
            return g
        }

        func gradient(_ l: Int, wrt k: Int, _ x: [[Double]]) -> [Double] { values(gradient(l, wrt: k, lift(x))) }

        /// ∂²L_l/∂x_l².
        func hessian(_ l: Int, _ x: [[Double]]) -> [[Double]] {
            let n = levels[l].dim
            var columns: [[Double]] = []
            for j in 0..<n {
                var xs = lift(x)
                xs[l][j].d = 1
                columns.append(tangents(gradient(l, wrt: l, xs)))
            }
            return (0..<n).map { i in (0..<n).map { j in columns[j][i] } }
        }

        /// (∂²L_l/∂x_k∂x_l) u: how ∂L_l/∂x_k moves along u in x_l.
        func mixed(_ l: Int, wrt k: Int, along u: [Double], _ x: [[Double]]) -> [Double] {
            var xs = lift(x)
            for j in u.indices { xs[l][j].d = u[j] }
            return tangents(gradient(l, wrt: k, xs))
        }

        /// A bound on the largest eigenvalue of ∂²L_l/∂x_l² near `x` (ridge coefficients at x, with slack).
        func curvatureBound(_ l: Int, _ x: [[Double]]) -> Double {
            var bound = 0.0
            for t in levels[l].terms {
                switch t {
                case let .quadratic(level, a) where level == l:
                    bound += a.flatMap { $0 }.reduce(0) { $0 + $1 * $1 }.squareRoot()
                case let .affine(phi, weights, maps, _):
                    let second = phi == .softplus ? 0.25 : 1
                    for m in maps where m.level == l {
                        for (i, row) in m.g.enumerated() { bound += weights[i] * second * row.reduce(0) { $0 + $1 * $1 } }
                    }
                case let .ridge(level, by, d, e) where level == l:
                    let s = add(mv(d, x[by]), e)
                    bound += 2 * (s.map { Dual.softplus($0) }.max() ?? 0) + 0.5
                default: break
                }
            }
            return bound
        }

        /// K steps of level l's SGD (with momentum) from `start`, the other levels fixed in `x`.
        func sgdWindow(_ l: Int, steps: Int, from start: [Dual], _ x: [[Dual]]) -> [Dual] {
            let level = levels[l]
            var x = x
            x[l] = start
            var buffer: [Dual]?
            for _ in 0..<steps {
                let g = gradient(l, wrt: l, x)
                var d = g
                if level.momentum != 0 {
                    let next = buffer.map { zip($0, g).map { level.momentum * $0 + $1 } } ?? g
                    buffer = next
                    d = next
                }
                x[l] = zip(x[l], d).map { $0 - level.lr * $1 }
            }
            return x[l]
        }
    }

    // MARK: - Generating programs

    static func convexTerms(_ own: Int, reads: [Int], dims: [Int], quadratic: Bool, _ g: inout SplitMix64) -> [Term] {
        var terms: [Term] = [.quadratic(level: own, a: g.spd(dims[own], minEig: g.float(0.5, 1.0), spread: 1))]
        let k = g.int(1...3)
        terms.append(.affine(.square, weights: g.vector(k, 0.3, 1), maps: ([own] + reads).map { Map(level: $0, g: g.matrix(k, dims[$0], 1)) },
                             offset: g.vector(k, -0.5, 0.5)))
        if !quadratic {
            let k2 = g.int(1...3)
            terms.append(.affine(g.pick([.softplus, .logcosh]), weights: g.vector(k2, 0.3, 1),
                                 maps: ([own] + reads).map { Map(level: $0, g: g.matrix(k2, dims[$0], 1)) }, offset: g.vector(k2, -0.5, 0.5)))
            if !reads.isEmpty && g.bool() {
                let by = g.pick(reads)
                terms.append(.ridge(level: own, by: by, d: g.matrix(dims[own], dims[by], 0.7), e: g.vector(dims[own], -0.5, 0.5)))
            }
            if !reads.isEmpty && g.bool() {
                let by = g.pick(reads)
                terms.append(.tilt(level: own, by: by, c: g.vector(dims[own], -1, 1), d: g.matrix(dims[own], dims[by], 0.7),
                                   e: g.vector(dims[own], -0.5, 0.5)))
            }
        }
        return terms
    }

    /// An upper level's loss: a fit of the levels it reads, a small quadratic of its own, and (non-quadratic)
    /// a softplus or log cosh mixing its own parameters with what it reads.
    static func upperTerms(_ own: Int, reads: [Int], dims: [Int], quadratic: Bool, _ g: inout SplitMix64) -> [Term] {
        let k = g.int(1...3)
        var terms: [Term] = [
            .affine(.square, weights: g.vector(k, 0.5, 1.5), maps: reads.map { Map(level: $0, g: g.matrix(k, dims[$0], 1)) },
                    offset: g.vector(k, -1, 1)),
            .affine(.square, weights: g.vector(dims[own], 0.05, 0.3), maps: [Map(level: own, g: g.matrix(dims[own], dims[own], 1))],
                    offset: g.vector(dims[own], -1, 1)),
        ]
        if !quadratic {
            let k2 = g.int(1...2)
            terms.append(.affine(g.pick([.softplus, .logcosh]), weights: g.vector(k2, 0.3, 1),
                                 maps: ([own] + reads).map { Map(level: $0, g: g.matrix(k2, dims[$0], 1)) }, offset: g.vector(k2, -0.5, 0.5)))
        }
        return terms
    }

    static let methods: [ProblemConfig.Method] = [.reverse, .darts, .neumann, .cg, .sama]

    /// Settings of `level` for its method; `x` is where its curvature is bounded.
    static func configure(_ level: inout Level, _ l: Int, _ program: Program, at x: [[Double]], _ g: inout SplitMix64) {
        let bound = program.curvatureBound(l, x)
        level.lr = level.adam ? g.float(0.01, 0.05) : Double(Float(g.float(0.15, 0.5) / bound))
        switch level.method {
        case .darts: level.dartsAlpha = g.pick([0.01, 0.03, 0.1]).rounded32
        case .sama: level.samaAlpha = g.pick([0.01, 0.1, 1]).rounded32
        case .neumann:
            level.neumannAlpha = Double(Float(g.float(0.5, 1.0) / bound))
            level.neumannIterations = g.int(1...8)
        case .cg: level.cgIterations = g.int(1...(level.dim + 1))
        case .reverse: break
        }
    }

    // MARK: Two levels

    /// upper (λ) reads lower (x); lower reads upper. The method cycles with the index, and the losses
    /// alternate between quadratic and non-quadratic every five cases.
    static func twoLevel(index: Int) -> Program {
        let seed = caseSeed(2, index)
        var g = SplitMix64(seed: seed)
        let method = methods[index % methods.count]
        let quadratic = (index / methods.count) % 2 == 0
        let dims = [g.int(2...4), g.int(2...4)]
        var upper = Level(name: "upper", dim: dims[0], start: g.vector(dims[0], -1, 1))
        var lower = Level(name: "lower", dim: dims[1], start: g.vector(dims[1], -1, 1))
        upper.terms = upperTerms(0, reads: [1], dims: dims, quadratic: quadratic, &g)
        lower.terms = convexTerms(1, reads: [0], dims: dims, quadratic: quadratic, &g)
        lower.method = method
        lower.adam = method == .sama
        lower.momentum = method == .reverse && g.bool() ? g.float(0.3, 0.9) : 0
        // sama needs Adam moments from at least a few steps (see `samaDirection`).
        lower.unroll = method == .sama ? g.int(3...5) : g.int(1...5)
        var p = Program(family: "two levels", index: index, seed: seed, quadratic: quadratic, levels: [upper, lower],
                        u2l: ["upper": ["lower"]], l2u: ["lower": ["upper"]], wiring: "upper reads lower")
        configure(&p.levels[1], 1, p, at: [upper.start, lower.start], &g)
        return p
    }

    /// Two levels whose lower Hessian is exactly the identity: ½|x|² + Σ cᵢxᵢ softplus(Dλ + e)ᵢ, so
    /// x*(λ) = −c ⊙ softplus(Dλ + e) and darts' H⁻¹ ≈ I is exact.
    static func identityHessian(index: Int) -> Program {
        let seed = caseSeed(4, index)
        var g = SplitMix64(seed: seed)
        let dims = [g.int(2...4), g.int(2...4)]
        var upper = Level(name: "upper", dim: dims[0], start: g.vector(dims[0], -1, 1))
        var lower = Level(name: "lower", dim: dims[1], start: Array(repeating: 0, count: dims[1]))
        upper.terms = upperTerms(0, reads: [1], dims: dims, quadratic: false, &g)
        let identity = (0..<dims[1]).map { i in (0..<dims[1]).map { i == $0 ? 1.0 : 0 } }
        lower.terms = [.quadratic(level: 1, a: identity),
                       .tilt(level: 1, by: 0, c: g.vector(dims[1], -1.5, 1.5), d: g.matrix(dims[1], dims[0], 1), e: g.vector(dims[1], -0.5, 0.5))]
        lower.method = .darts
        lower.dartsAlpha = g.pick([0.01, 0.03, 0.1]).rounded32
        lower.lr = 0.5
        return Program(family: "identity Hessian", index: index, seed: seed, quadratic: false, levels: [upper, lower],
                       u2l: ["upper": ["lower"]], l2u: ["lower": ["upper"]], wiring: "upper reads lower")
    }

    // MARK: Three levels

    /// top (τ), middle (μ), bottom (w). The middle reads the bottom and the top; the bottom reads the
    /// middle and, by the wiring, the top; the top reads the middle and, by the wiring, the bottom.
    /// Five indices in six take the next pair of methods (middle fastest, all 25 pairs in turn); the sixth
    /// is one more all-reverse program, the only mix with a nested objective to differentiate.
    static func threeLevel(index: Int) -> Program {
        let seed = caseSeed(3, index)
        var g = SplitMix64(seed: seed)
        // Every pair of methods in turn, and one more all-reverse program in six.
        let middleMethod = index % 6 == 5 ? .reverse : methods[(index - index / 6) % 5]
        let bottomMethod = index % 6 == 5 ? .reverse : methods[((index - index / 6) / 5) % 5]
        let quadratic = g.bool()
        let topReadsBottom = g.bool()
        let bottomReadsTop = g.pick([BottomReadsTop.no, .declaredUnused, .yes])
        let middleMixes = g.bool(0.7)
        let dims = [g.int(2...4), g.int(2...4), g.int(2...4)]
        var top = Level(name: "top", dim: dims[0], start: g.vector(dims[0], -1, 1))
        var middle = Level(name: "middle", dim: dims[1], start: g.vector(dims[1], -1, 1))
        var bottom = Level(name: "bottom", dim: dims[2], start: g.vector(dims[2], -1, 1))
        top.terms = upperTerms(0, reads: topReadsBottom ? [1, 2] : [1], dims: dims, quadratic: quadratic, &g)
        // The middle: a quadratic of its own, a fit of the bottom (mixed with its own parameters or not),
        // and the top's hand on it (jointly quadratic, or a curvature and a softplus / log cosh).
        var mt: [Term] = [.quadratic(level: 1, a: g.spd(dims[1], minEig: g.float(0.3, 0.8), spread: 1))]
        let k = g.int(1...3)
        mt.append(.affine(.square, weights: g.vector(k, 0.3, 1), maps: (middleMixes ? [1, 2] : [2]).map { Map(level: $0, g: g.matrix(k, dims[$0], 1)) },
                          offset: g.vector(k, -0.5, 0.5)))
        let k2 = g.int(1...2)
        if quadratic {
            mt.append(.affine(.square, weights: g.vector(k2, 0.3, 1), maps: [1, 0].map { Map(level: $0, g: g.matrix(k2, dims[$0], 1)) },
                              offset: g.vector(k2, -0.5, 0.5)))
        } else {
            mt.append(.ridge(level: 1, by: 0, d: g.matrix(dims[1], dims[0], 0.7), e: g.vector(dims[1], -0.5, 0.5)))
            mt.append(.affine(g.pick([.softplus, .logcosh]), weights: g.vector(k2, 0.3, 1),
                              maps: (middleMixes ? [1, 2, 0] : [1, 0]).map { Map(level: $0, g: g.matrix(k2, dims[$0], 1)) },
                              offset: g.vector(k2, -0.5, 0.5)))
        }
        middle.terms = mt
        bottom.terms = convexTerms(2, reads: bottomReadsTop == .yes ? [1, 0] : [1], dims: dims, quadratic: quadratic, &g)
        middle.method = middleMethod
        bottom.method = bottomMethod
        middle.adam = middleMethod == .sama
        bottom.adam = bottomMethod == .sama
        bottom.resetsEachWindow = bottomMethod == .reverse
        middle.momentum = middleMethod == .reverse && g.bool() ? g.float(0.3, 0.8) : 0
        bottom.unroll = bottomMethod == .sama ? 3 : g.int(1...3)
        middle.unroll = middleMethod == .sama ? g.int(3...4) : g.int(1...3)
        var wiring = topReadsBottom ? "top reads middle and bottom" : "a chain (top reads middle)"
        wiring += ", bottom reads top: \(bottomReadsTop.rawValue), middle \(middleMixes ? "mixes μ with w" : "separates μ and w")"
        var p = Program(family: "three levels", index: index, seed: seed, quadratic: quadratic, levels: [top, middle, bottom],
                        u2l: ["middle": ["bottom"], "top": bottomReadsTop == .no ? ["middle"] : ["middle", "bottom"]],
                        l2u: ["bottom": topReadsBottom ? ["middle", "top"] : ["middle"], "middle": ["top"]], wiring: wiring)
        p.topReadsBottom = topReadsBottom
        p.bottomReadsTop = bottomReadsTop
        let start = [top.start, middle.start, bottom.start]
        configure(&p.levels[1], 1, p, at: start, &g)
        configure(&p.levels[2], 2, p, at: start, &g)
        return p
    }

    /// The refusal the engine documents for this mix of methods, if any.
    static func documentedRefusal(_ p: Program) -> String? {
        let (m, b) = (p.levels[1].method, p.levels[2].method)
        if m == .neumann || m == .cg { return "\(m.rawValue) on a middle level with paths of its own" }
        if m == .reverse && b != .reverse { return "\(b.rawValue) below a reverse-mode level" }
        return nil
    }

    static func isDocumented(_ error: EngineError, _ p: Program) -> Bool {
        let (m, b) = (p.levels[1].method, p.levels[2].method)
        switch error {
        case let .unsupportedPath(problem, method, reason):
            return problem == "middle" && (m == .neumann || m == .cg) && method == m.rawValue && reason.contains("paths of its own")
        case let .notImplemented(problem, feature):
            return problem == "bottom" && m == .reverse && b != .reverse && feature.contains("below a reverse-mode level")
        default:
            return false
        }
    }

    // MARK: - The engine

    struct AdamState {
        var m: [Double], s: [Double], g: [Double]
    }

    /// A level's total gradient as the engine applied it, and the state every level was in then.
    struct Captured {
        var gradient: [Double]
        var values: [[Double]]
        var adam: [Int: AdamState]
    }

    final class Recorder {
        /// The top's (or upper's) first step.
        var top: Captured?
        /// The middle's latest step (an implicit middle only: reverse mode takes no callbacks).
        var middle: Captured?
    }

    static func engine(_ p: Program, recorder: Recorder) throws -> Engine {
        let data = try Dataset(x: Tensor.ones([1, 1]), y: Tensor.zeros([1]))
        let names = p.names
        let modules = p.levels.map { ParameterTensor(Tensor($0.start.map(Float.init))) }
        let optimizers = zip(p.levels, modules).map { level, module -> any Optimizer in
            if level.adam { return Adam(module.parameters, learningRate: Float(level.lr)) }
            return SGD(module.parameters, learningRate: Float(level.lr), momentum: Float(level.momentum))
        }
        var problems: [Problem] = []
        for (l, level) in p.levels.enumerated() {
            var config = ProblemConfig()
            config.type = level.method
            config.unrollSteps = level.unroll
            config.dartsAlpha = Float(level.dartsAlpha)
            config.samaAlpha = Float(level.samaAlpha)
            config.neumannAlpha = Float(level.neumannAlpha)
            config.neumannIterations = level.neumannIterations
            config.cgIterations = level.cgIterations
            let terms = try level.terms.map { try $0.compiled() }
            let problem = Problem(name: level.name, module: modules[l], optimizer: optimizers[l],
                                  data: [try DataLoader(data, batchSize: 1)], config: config) { problem, _ in
                let read = { (k: Int) -> Tensor in k == l ? problem.parameters[0] : problem[names[k]].parameters[0] }
                var loss = try terms[0](read)
                for term in terms.dropFirst() { loss = try loss + term(read) }
                return loss
            }
            if level.resetsEachWindow {
                let start = Tensor(level.start.map(Float.init))
                problem.onInnerLoopStart = { problem in
                    problem.module.parameters[0].assign(start)
                    problem.optimizer.resetState()
                }
            }
            problems.append(problem)
        }
        func snapshot(_ gradient: [Tensor]) -> Captured {
            var adam: [Int: AdamState] = [:]
            for (l, optimizer) in optimizers.enumerated() {
                guard let optimizer = optimizer as? Adam, let m = optimizer.states[0]["exp_avg"],
                      let s = optimizer.states[0]["exp_avg_sq"], let g = optimizer.states[0]["last_grad"] else { continue }
                adam[l] = AdamState(m: m.scalars.map(Double.init), s: s.scalars.map(Double.init), g: g.scalars.map(Double.init))
            }
            return Captured(gradient: gradient[0].scalars.map(Double.init), values: modules.map { $0.value.scalars.map(Double.init) },
                            adam: adam)
        }
        problems[0].gradCallback = { g in
            if recorder.top == nil { recorder.top = snapshot(g) }
            return g
        }
        if p.levels.count == 3 && p.levels[1].method != .reverse {
            problems[1].gradCallback = { g in
                recorder.middle = snapshot(g)
                return g
            }
        }
        return try Engine(problems: problems, u2l: p.u2l, l2u: p.l2u)
    }

    // MARK: - References in Double

    static func mv(_ m: [[Double]], _ x: [Double]) -> [Double] { m.map { dot($0, x) } }

    static func centralDifference(at x: [Double], h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
        (0..<x.count).map { j in
            var plus = x, minus = x
            plus[j] += h
            minus[j] -= h
            return (f(plus) - f(minus)) / (2 * h)
        }
    }

    /// Gaussian elimination with partial pivoting.
    static func solveLinear(_ a: [[Double]], _ b: [Double]) -> [Double] {
        var m = a, v = b
        let n = b.count
        for col in 0..<n {
            let pivot = (col..<n).max { Swift.abs(m[$0][col]) < Swift.abs(m[$1][col]) }!
            m.swapAt(col, pivot)
            v.swapAt(col, pivot)
            for row in (col + 1)..<n {
                let f = m[row][col] / m[col][col]
                for k in col..<n { m[row][k] -= f * m[col][k] }
                v[row] -= f * v[col]
            }
        }
        var x = Array(repeating: 0.0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var s = v[row]
            for k in (row + 1)..<n { s -= m[row][k] * x[k] }
            x[row] = s / m[row][row]
        }
        return x
    }

    /// Eigenvalues of a symmetric matrix (cyclic Jacobi).
    static func eigenvalues(_ matrix: [[Double]]) -> [Double] {
        var a = matrix
        let n = a.count
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<n { for j in 0..<n where i != j { off += a[i][j] * a[i][j] } }
            if off < 1e-26 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where a[p][q] != 0 {
                    let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (Swift.abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let (akp, akq) = (a[k][p], a[k][q])
                        a[k][p] = c * akp - s * akq
                        a[k][q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let (apk, aqk) = (a[p][k], a[q][k])
                        a[p][k] = c * apk - s * aqk
                        a[q][k] = s * apk + c * aqk
                    }
                }
            }
        }
        return (0..<n).map { a[$0][$0] }
    }

    /// argmin over x_l of L_l, the other levels fixed at `x` (damped Newton; L_l is strongly convex).
    static func optimum(_ p: Program, level l: Int, _ x: [[Double]]) -> [Double] {
        var x = x
        for _ in 0..<100 {
            let g = p.gradient(l, wrt: l, x)
            if norm(g) < 1e-14 { break }
            let step = solveLinear(p.hessian(l, x), g)
            var t = 1.0
            if norm(g) > 1e-6 {
                let f0 = p.value(l, lift(x)).v
                while t > 1e-6 {
                    var trial = x
                    trial[l] = sub(x[l], scale(t, step))
                    if p.value(l, lift(trial)).v <= f0 - 1e-4 * t * dot(g, step) { break }
                    t /= 2
                }
            }
            x[l] = sub(x[l], scale(t, step))
        }
        return x[l]
    }

    /// −(g(θ + εd) − g(θ − εd)) / 2ε with g = ∂L_l/∂x_prev and ε = α/|d|, as `BestResponse.finiteDifference`.
    static func finiteDifference(_ p: Program, _ l: Int, prev: Int, direction d: [Double], alpha: Double, _ x: [[Double]]) -> [Double] {
        let eps = alpha / (norm(d) + 1e-12)
        func g(_ t: Double) -> [Double] {
            var xs = x
            xs[l] = add(x[l], scale(t, d))
            return p.gradient(l, wrt: prev, xs)
        }
        return scale(1 / (2 * eps), sub(g(-eps), g(eps)))
    }

    /// sama's direction v · lr · ((1−β1)β2 s₀ − β1(1−β2) g m₀) / (√s + ε)³ from Adam's state after its step.
    static func samaDirection(_ v: [Double], lr: Double, _ adam: AdamState) -> [Double] {
        (0..<v.count).map { i in
            let (m, s, g) = (adam.m[i], adam.s[i], adam.g[i])
            let m0 = (m - (1 - beta1) * g) / beta1
            let s0 = (s - (1 - beta2) * g * g) / beta2
            let denominator = Foundation.pow(s.squareRoot() + adamEpsilon, 3)
            return v[i] * ((1 - beta1) * beta2 * s0 - beta1 * (1 - beta2) * g * m0) / denominator * lr
        }
    }

    /// What an implicit level's method computes for v = ∂L_upper/∂x_l, mapped to x_prev (docs §5),
    /// at the state `x`.
    static func implicitFactor(_ p: Program, _ l: Int, prev: Int, v: [Double], _ x: [[Double]], adam: AdamState?) -> [Double] {
        let level = p.levels[l]
        switch level.method {
        case .darts:
            return finiteDifference(p, l, prev: prev, direction: v, alpha: level.dartsAlpha, x)
        case .sama:
            guard let adam else { return v.map { _ in .nan } }
            return finiteDifference(p, l, prev: prev, direction: samaDirection(v, lr: Double(Float(level.lr)), adam),
                                    alpha: level.samaAlpha, x)
        case .neumann:
            let (h, alpha) = (p.hessian(l, x), level.neumannAlpha)
            var term = v, sum = v
            for _ in 0..<level.neumannIterations {
                term = sub(term, scale(alpha, mv(h, term)))
                sum = add(sum, term)
            }
            return scale(-1, p.mixed(l, wrt: prev, along: scale(alpha, sum), x))
        case .cg:
            let h = p.hessian(l, x)
            var solution = v.map { _ in 0.0 }, r = v, direction = v, rr = dot(v, v)
            for _ in 0..<level.cgIterations {
                guard rr > 0 else { break }
                let hp = mv(h, direction)
                let php = dot(direction, hp)
                guard php != 0, php.isFinite else { break }
                let a = rr / php
                solution = add(solution, scale(a, direction))
                r = sub(r, scale(a, hp))
                let next = dot(r, r)
                direction = add(r, scale(next / rr, direction))
                rr = next
            }
            return scale(-1, p.mixed(l, wrt: prev, along: solution, x))
        case .reverse:
            preconditionFailure("reverse mode has no implicit factor")
        }
    }

    /// vᵀ ∂x_l/∂x_prev through level l's window as the engine records it (from `start`, `unroll` SGD
    /// steps, the other levels fixed at `x`), and the window's end.
    static func windowVJP(_ p: Program, _ l: Int, prev: Int, v: [Double], _ x: [[Double]]) -> (vjp: [Double], end: [Double]) {
        var out: [Double] = [], end: [Double] = []
        for j in 0..<p.levels[prev].dim {
            var xs = lift(x)
            xs[prev][j].d = 1
            let last = p.sgdWindow(l, steps: p.levels[l].unroll, from: p.levels[l].start.map { Dual($0) }, xs)
            out.append(dot(v, tangents(last)))
            end = values(last)
        }
        return (out, end)
    }

    /// The total gradient of level u over its lower level l (a direct child read by u and reading u), by
    /// the engine's rule with exact partials: ∂L_u/∂x_u, plus the window's VJP when l is reverse mode or
    /// l's method applied to ∂L_u/∂x_l otherwise. `window` is the state during l's window.
    static func overLower(_ p: Program, upper u: Int, lower l: Int, _ x: [[Double]], adam: AdamState?) -> [(String, [Double])] {
        let v = p.gradient(u, wrt: l, x)
        let through = p.levels[l].method == .reverse ? windowVJP(p, l, prev: u, v: v, x).vjp
            : implicitFactor(p, l, prev: u, v: v, x, adam: adam)
        return [("direct", p.gradient(u, wrt: u, x)), ("\(p.names[u])→\(p.names[l])→\(p.names[u])", through)]
    }

    /// The top's total gradient over an implicit (darts or sama) middle, by the engine's rule
    /// (docs/BETTY_SEMANTICS.md §4.1) with every factor a partial: the recorded term (∂L_T/∂τ, and
    /// through the bottom's window when the bottom is reverse mode), then each path with an implicit
    /// interior. `x` is the state when the top steps; `muWindow` is μ during the bottom's last window.
    static func topOverImplicitMiddle(_ p: Program, _ x: [[Double]], muWindow: [Double], adam: [Int: AdamState]) -> [(String, [Double])] {
        let bottomReverse = p.levels[2].method == .reverse
        let windowState = [x[0], muWindow, x[2]]
        func bottomToTop(_ v: [Double]) -> [Double] {
            bottomReverse ? windowVJP(p, 2, prev: 0, v: v, windowState).vjp : implicitFactor(p, 2, prev: 0, v: v, x, adam: adam[2])
        }
        let vMu = p.gradient(0, wrt: 1, x)
        var parts: [(String, [Double])] = [("direct", p.gradient(0, wrt: 0, x)),
                                           ("top→middle→top", implicitFactor(p, 1, prev: 0, v: vMu, x, adam: adam[1]))]
        if p.u2l["top"]!.contains("bottom") {
            parts.append(("top→middle→bottom→top", bottomToTop(implicitFactor(p, 1, prev: 2, v: vMu, x, adam: adam[1]))))
        }
        if p.topReadsBottom {
            let vW = p.gradient(0, wrt: 2, x)
            if bottomReverse {
                parts.append(("through the bottom's window", windowVJP(p, 2, prev: 0, v: vW, windowState).vjp))
            } else if p.u2l["top"]!.contains("bottom") {
                parts.append(("top→bottom→top", bottomToTop(vW)))
            }
        }
        return parts
    }

    /// The nested objective of an all-reverse three-level program: the middle's `unroll` steps on its
    /// total gradient through each bottom window (forward-mode in μ), then the top's loss.
    static func nestedThreeLevel(_ p: Program, tau: [Double]) -> Double {
        let (middle, bottom) = (p.levels[1], p.levels[2])
        var mu = middle.start
        var lastW = bottom.start
        var buffer: [Double]?
        for _ in 0..<middle.unroll {
            var g: [Double] = []
            for j in 0..<mu.count {
                var xs = lift([tau, mu, bottom.start])
                xs[1][j].d = 1
                xs[2] = p.sgdWindow(2, steps: bottom.unroll, from: xs[2], xs)
                g.append(p.value(1, xs).d)
                lastW = values(xs[2])
            }
            var d = g
            if middle.momentum != 0 {
                let next = buffer.map { add(scale(middle.momentum, $0), g) } ?? g
                buffer = next
                d = next
            }
            mu = sub(mu, scale(middle.lr, d))
        }
        return p.value(0, lift([tau, mu, lastW])).v
    }

    // MARK: - Bookkeeping

    final class Stats {
        struct Entry {
            var count = 0
            var maxRelative = 0.0
            var maxOverTolerance = 0.0
            var tolerance = ""
        }
        var entries: [String: Entry] = [:]
        var ran = 0, refused: [String: Int] = [:]

        func add(_ key: String, relative: Double, overTolerance: Double, tolerance: String) {
            var e = entries[key] ?? Entry()
            e.count += 1
            e.maxRelative = Swift.max(e.maxRelative, relative)
            e.maxOverTolerance = Swift.max(e.maxOverTolerance, overTolerance)
            e.tolerance = tolerance
            entries[key] = e
        }

        func report(_ title: String, seconds: Double) {
            var lines = ["\(title): \(ran) ran to the end, \(refused.values.reduce(0, +)) refused as documented, "
                         + "\(String(format: "%.2f", seconds)) s"]
            for (reason, n) in refused.sorted(by: { $0.key < $1.key }) { lines.append("  refused \(n)x: \(reason)") }
            for (key, e) in entries.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(key): \(e.count) checks, max relative error \(String(format: "%.2e", e.maxRelative)), "
                             + "max error/tolerance \(String(format: "%.3f", e.maxOverTolerance)) (tolerance \(e.tolerance))")
            }
            print(lines.joined(separator: "\n"))
        }
    }

    /// |got − expected| ≤ relative · scale + extra, recorded and reported with the case. The scale is
    /// the sum of the norms of the reference's parts when it is a sum (direct term and paths: Float32
    /// rounding is relative to what is added, not to a total that may cancel), else its norm.
    static func check(_ got: [Double], _ expected: [Double], relative tolerance: Double, extra: Double = 0, toleranceText: String,
                      key: String, _ what: String, _ p: Program, stats: Stats, parts: [(String, [Double])] = [],
                      sourceLocation: SourceLocation = #_sourceLocation) {
        let scale = parts.isEmpty ? norm(expected) : parts.reduce(0) { $0 + norm($1.1) }
        let allowed = tolerance * scale + extra
        let error = norm(sub(got, expected))
        let relative = error / Swift.max(norm(expected), 1e-300)
        stats.add(key, relative: relative, overTolerance: error / allowed, tolerance: toleranceText)
        let detail = parts.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        let message = "\(p)\n\(what): engine \(got), reference \(expected), relative error \(relative), "
            + "error \(error) > \(allowed) (\(toleranceText))" + (detail.isEmpty ? "" : "; reference parts: \(detail)")
        #expect(got.count == expected.count && error <= allowed, "\(message)", sourceLocation: sourceLocation)
        #expect(norm(expected) > 1e-3, "\(p)\n\(what): a vanishing reference \(expected) would test nothing", sourceLocation: sourceLocation)
    }

    /// The reference against itself: IFT against central differences of the nested optimum, both in Double.
    static func selfCheck(_ ift: [Double], _ nested: [Double], _ p: Program, stats: Stats,
                          sourceLocation: SourceLocation = #_sourceLocation) {
        let relative = relative(ift, nested)
        stats.add("reference self-check: IFT vs central differences of the nested optimum", relative: relative,
                  overTolerance: relative / referenceSelfTolerance, tolerance: "\(referenceSelfTolerance) relative")
        let message = "\(p)\nthe reference disagrees with itself: IFT \(ift), nested optimum by central differences \(nested)"
        #expect(relative <= referenceSelfTolerance, "\(message)", sourceLocation: sourceLocation)
    }

    static func sum(_ parts: [(String, [Double])]) -> [Double] { parts.dropFirst().reduce(parts[0].1) { add($0, $1.1) } }

    // MARK: - Tests

    @Test func twoLevelProgramsMatchTheirReferences() throws {
        let clock = ContinuousClock.now
        let stats = Stats()
        for index in 0..<Self.twoLevelCount {
            var p = Self.twoLevel(index: index)
            let method = p.levels[1].method
            let recorder = Recorder()
            var helper = SplitMix64(seed: p.seed ^ 0xA5A5)
            var optimumState: (x: [Double], h: [[Double]])?
            if method == .neumann || method == .cg {
                // At convergence: the lower starts at its optimum (Float32) and the upper steps after one
                // lower step, which moves it by lr·∇L(x*) ~ 1e-7.
                let lambda = p.levels[0].start
                let x = Self.optimum(p, level: 1, [lambda, p.levels[1].start])
                let h = p.hessian(1, [lambda, x])
                let eig = Self.eigenvalues(h)
                let (low, high) = (eig.min()!, eig.max()!)
                p.levels[1].start = x.map(\.rounded32)
                p.levels[1].unroll = 1
                if method == .neumann {
                    // α ≤ 1/λmax < 2/λmax; the contraction factor q = 1 − αλmin; K terms leave (I − αH)^(K+1) H⁻¹v.
                    let alpha = Double(Float(helper.float(0.5, 1.0) / high))
                    let q = 1 - alpha * low
                    let target = helper.pick([1e-3, 1e-6])
                    p.levels[1].neumannAlpha = alpha
                    p.levels[1].neumannIterations = Swift.min(300, Int((Foundation.log(target) / Foundation.log(q)).rounded(.up)))
                } else {
                    p.levels[1].cgIterations = p.levels[1].dim + helper.int(0...1)
                }
                optimumState = (x, h)
            }
            let engine = try Self.engine(p, recorder: recorder)
            try engine.run(iterations: p.levels[1].unroll)
            guard let got = recorder.top else {
                Issue.record("\(p)\nthe upper did not step")
                continue
            }
            stats.ran += 1
            #expect(engine.lastHypergradient(of: "upper")?.first?.scalars.map(Double.init) == got.gradient, "\(p)")
            switch method {
            case .reverse:
                let expected = Self.centralDifference(at: p.levels[0].start) { lambda in
                    let x = Self.lift([lambda, p.levels[1].start])
                    return p.value(0, [x[0], p.sgdWindow(1, steps: p.levels[1].unroll, from: x[1], x)]).v
                }
                Self.check(got.gradient, expected, relative: Self.reverseTolerance, toleranceText: "1e-4 relative",
                           key: "2 levels, reverse vs nested unrolled objective", "upper's total gradient", p, stats: stats)
            case .neumann, .cg:
                let (x, h) = optimumState!
                let lambda = p.levels[0].start
                let state = [lambda, x]
                let v = p.gradient(0, wrt: 1, state)
                let u = Self.solveLinear(h, v)
                let direct = p.gradient(0, wrt: 0, state)
                let path = Self.scale(-1, p.mixed(1, wrt: 0, along: u, state))
                let ift = Self.add(direct, path)
                let nested = Self.centralDifference(at: lambda) { lambda in
                    p.value(0, Self.lift([lambda, Self.optimum(p, level: 1, [lambda, x])])).v
                }
                Self.selfCheck(ift, nested, p, stats: stats)
                var truncation = 0.0
                var key = "2 levels, cg at the optimum vs IFT"
                if method == .neumann {
                    // |J (I − αH)^(K+1) H⁻¹v| ≤ |J|_F q^(K+1) |H⁻¹v|, J = ∂²L/∂λ∂x.
                    let eig = Self.eigenvalues(h)
                    let alpha = p.levels[1].neumannAlpha
                    let q = Swift.max(Swift.abs(1 - alpha * eig.min()!), Swift.abs(1 - alpha * eig.max()!))
                    let jacobian = (0..<x.count).map { j in p.mixed(1, wrt: 0, along: (0..<x.count).map { $0 == j ? 1.0 : 0 }, state) }
                    let frobenius = Self.norm(jacobian.flatMap { $0 })
                    let power = Foundation.pow(q, Double(p.levels[1].neumannIterations + 1))
                    truncation = frobenius * power * Self.norm(u)
                    key = "2 levels, neumann at the optimum vs IFT, q^(K+1) " + (power > 1e-5 ? "≈ 1e-3" : "≤ 1e-6")
                }
                Self.check(got.gradient, ift, relative: Self.implicitTolerance, extra: truncation,
                           toleranceText: "\(Self.implicitTolerance) of the parts" + (method == .neumann ? " + the truncation bound" : ""),
                           key: key, "upper's total gradient", p, stats: stats,
                           parts: [("direct", direct), ("path", path)])
            case .darts, .sama:
                let parts = Self.overLower(p, upper: 0, lower: 1, got.values, adam: got.adam[1])
                let expected = Self.sum(parts)
                Self.check(got.gradient, expected, relative: Self.formulaTolerance,
                           toleranceText: "\(Self.formulaTolerance) of the parts", key: "2 levels, \(method.rawValue) vs its formula",
                           "upper's total gradient", p, stats: stats, parts: parts)
            }
        }
        stats.report("HypergradientPropertyTests, two levels", seconds: (ContinuousClock.now - clock) / .seconds(1))
    }

    @Test func dartsIsExactWhereTheLowerHessianIsTheIdentity() throws {
        let clock = ContinuousClock.now
        let stats = Stats()
        for index in 0..<Self.identityHessianCount {
            var p = Self.identityHessian(index: index)
            let lambda = p.levels[0].start
            let x = Self.optimum(p, level: 1, [lambda, p.levels[1].start])
            p.levels[1].start = x.map(\.rounded32)
            let recorder = Recorder()
            let engine = try Self.engine(p, recorder: recorder)
            try engine.run(iterations: 1)
            guard let got = recorder.top else {
                Issue.record("\(p)\nthe upper did not step")
                continue
            }
            stats.ran += 1
            let state = [lambda, x]
            // H = I: the IFT hypergradient is ∂L_U/∂λ − (∂²L/∂λ∂x) v, darts' own formula.
            let v = p.gradient(0, wrt: 1, state)
            let parts = [("direct", p.gradient(0, wrt: 0, state)), ("path", Self.scale(-1, p.mixed(1, wrt: 0, along: v, state)))]
            let ift = Self.sum(parts)
            let nested = Self.centralDifference(at: lambda) { lambda in
                p.value(0, Self.lift([lambda, Self.optimum(p, level: 1, [lambda, x])])).v
            }
            Self.selfCheck(ift, nested, p, stats: stats)
            // ∂L/∂λ is linear in x, so darts' central difference is exact up to Float32 rounding.
            Self.check(got.gradient, nested, relative: Self.formulaTolerance,
                       toleranceText: "\(Self.formulaTolerance) of the parts", key: "2 levels, darts with H = I vs nested optimum",
                       "upper's total gradient", p, stats: stats, parts: parts)
        }
        stats.report("HypergradientPropertyTests, identity Hessian", seconds: (ContinuousClock.now - clock) / .seconds(1))
    }

    /// Runs one three-level program and checks what it computed; records an issue for anything else.
    static func runThreeLevel(_ p: Program, stats: Stats) throws {
        let (m, b) = (p.levels[1].method, p.levels[2].method)
        let recorder = Recorder()
        let engine = try Self.engine(p, recorder: recorder)
        let refusal = Self.documentedRefusal(p)
        var failure: EngineError?
        do {
            try engine.run(iterations: p.levels[2].unroll * p.levels[1].unroll)
        } catch {
            failure = error
        }
        // An implicit middle's latest step (also before a refusal): its total gradient over the bottom.
        if let middle = recorder.middle {
            let middleParts = Self.overLower(p, upper: 1, lower: 2, middle.values, adam: middle.adam[2])
            let middleExpected = Self.sum(middleParts)
            Self.check(middle.gradient, middleExpected, relative: Self.formulaTolerance,
                       toleranceText: "\(Self.formulaTolerance) of the parts", key: "3 levels, \(m.rawValue) middle over a \(b.rawValue) bottom",
                       "middle's total gradient", p, stats: stats, parts: middleParts)
            if b == .reverse {
                // The window the engine recorded ends where the Double window ends.
                let end = Self.windowVJP(p, 2, prev: 1, v: Array(repeating: 0, count: p.levels[2].dim), middle.values).end
                #expect(Self.norm(Self.sub(end, middle.values[2])) <= 1e-5 * (1 + Self.norm(end)),
                        "\(p)\nthe bottom's window ends at \(middle.values[2]) in the engine, \(end) in Double")
            }
        }
        if let failure {
            if let refusal, Self.isDocumented(failure, p) {
                stats.refused[refusal, default: 0] += 1
            } else {
                Issue.record("\(p)\nrefused with an error that is not a documented refusal: \(failure)")
            }
            return
        }
        if let refusal {
            Issue.record("\(p)\nran, but the engine documents a refusal (\(refusal)): the test needs a reference for it")
            return
        }
        guard let top = recorder.top else {
            Issue.record("\(p)\nthe top did not step")
            return
        }
        stats.ran += 1
        #expect(engine.lastHypergradient(of: "top")?.first?.scalars.map(Double.init) == top.gradient, "\(p)")
        let methods = "middle \(m.rawValue), bottom \(b.rawValue)"
        if m == .reverse {
            let expected = Self.centralDifference(at: p.levels[0].start) { Self.nestedThreeLevel(p, tau: $0) }
            Self.check(top.gradient, expected, relative: Self.reverseTolerance, toleranceText: "1e-4 relative",
                       key: "3 levels, \(methods), top vs nested unrolled objective", "top's total gradient", p, stats: stats)
            return
        }
        guard let middle = recorder.middle else {
            Issue.record("\(p)\nthe middle did not step")
            return
        }
        let parts = Self.topOverImplicitMiddle(p, top.values, muWindow: middle.values[1], adam: top.adam)
        let expected = Self.sum(parts)
        Self.check(top.gradient, expected, relative: Self.formulaTolerance,
                   toleranceText: "\(Self.formulaTolerance) of the parts", key: "3 levels, \(methods), top vs the methods' formulas",
                   "top's total gradient", p, stats: stats, parts: parts)
    }

    @Test func threeLevelProgramsMatchTheirReferencesOrAreRefusedAsDocumented() throws {
        let clock = ContinuousClock.now
        let stats = Stats()
        for index in 0..<Self.threeLevelCount {
            try Self.runThreeLevel(Self.threeLevel(index: index), stats: stats)
        }
        stats.report("HypergradientPropertyTests, three levels", seconds: (ContinuousClock.now - clock) / .seconds(1))
    }

    // MARK: Minimal programs of the three defects this test found (fixed)

    /// top τ: (μ − 0.3)² + τ² [+ w²]; middle μ: μ² + (w − 1)² + τμ; bottom w: (w − μ)²; every level SGD lr
    /// 0.1, unroll 1 but the middle's; u2l top: [middle], middle: [bottom].
    static func scalarEngine(middle: ProblemConfig.Method, bottom: ProblemConfig.Method, topReadsBottom: Bool,
                             middleUnroll: Int = 1) throws -> Engine {
        let data = try Dataset(x: Tensor.ones([1, 1]), y: Tensor.zeros([1]))
        func level(_ name: String, _ start: Float, _ method: ProblemConfig.Method, unroll: Int = 1,
                   _ loss: @escaping (Problem) throws -> Tensor) throws -> Problem {
            let module = ParameterTensor(Tensor([start]))
            var config = ProblemConfig()
            config.type = method
            config.unrollSteps = unroll
            return Problem(name: name, module: module, optimizer: SGD(module.parameters, learningRate: 0.1),
                           data: [try DataLoader(data, batchSize: 1)], config: config) { p, _ in try loss(p) }
        }
        let top = try level("top", 0.5, .darts) { p in
            let (tau, mu) = (p.parameters[0], p["middle"].parameters[0])
            var loss = try ((mu - 0.3) * (mu - 0.3) + tau * tau).sum()
            if topReadsBottom { loss = try loss + (p["bottom"].parameters[0] * p["bottom"].parameters[0]).sum() }
            return loss
        }
        let mid = try level("middle", 0.2, middle, unroll: middleUnroll) { p in
            let (mu, w, tau) = (p.parameters[0], p["bottom"].parameters[0], p["top"].parameters[0])
            return try (mu * mu + (w - 1) * (w - 1) + tau * mu).sum()
        }
        let bot = try level("bottom", 0, bottom) { p in
            let (w, mu) = (p.parameters[0], p["middle"].parameters[0])
            return try ((w - mu) * (w - mu)).sum()
        }
        return try Engine(problems: [top, mid, bot], u2l: ["top": ["middle"], "middle": ["bottom"]],
                          l2u: ["bottom": topReadsBottom ? ["middle", "top"] : ["middle"], "middle": ["top"]])
    }

    static func expectRuns(_ engine: Engine, iterations: Int) {
        do {
            try engine.run(iterations: iterations)
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func anImplicitMiddleStepsUnderTheBottomsOpenWindow() throws {
        // darts middle, reverse bottom, the top reads the bottom: the middle's step changed, in place,
        // parameters the bottom's open window had saved, and the top's backward pass through it failed.
        let engine = try Self.scalarEngine(middle: .darts, bottom: .reverse, topReadsBottom: true)
        Self.expectRuns(engine, iterations: 1)
    }

    @Test func aFiniteDifferenceStopsAtTheBottomsWindow() throws {
        // darts middle, reverse bottom, a chain: the finite difference back-propagated through the
        // bottom's window and freed it.
        let engine = try Self.scalarEngine(middle: .darts, bottom: .reverse, topReadsBottom: false)
        Self.expectRuns(engine, iterations: 1)
    }

    @Test func aWindowClosesOnlyAfterEveryUpperItTriggersStepped() throws {
        // Every level reverse mode, the top reads the bottom, unroll 1 everywhere: one global step.
        // (With the middle's unroll 2 the same program runs: the top steps before the middle's window closes.)
        // The middle's window closed before the top (triggered later by the bottom) stepped through it.
        let engine = try Self.scalarEngine(middle: .reverse, bottom: .reverse, topReadsBottom: true)
        Self.expectRuns(engine, iterations: 1)
        let unrollTwo = try Self.scalarEngine(middle: .reverse, bottom: .reverse, topReadsBottom: true, middleUnroll: 2)
        Self.expectRuns(unrollTwo, iterations: 2)
    }
}

private extension Double {
    /// The nearest Float, back in Double: every constant the engine and the reference share.
    var rounded32: Double { Double(Float(self)) }
}
