import BettyNN
import BettyTensor

/// A keyword argument's value, fixed when the expression is compiled (`axis=1`, `reduction=none`).
enum Constant: CustomStringConvertible {
    case number(Float)
    case word(String)

    /// As written, for "not ..." in a message.
    var description: String {
        switch self {
        case let .number(x): formatNumber(x)
        case let .word(w): "'\(w)'"
        }
    }
}

/// The functions a loss or metric expression can call.
enum Functions {
    static let help: [(name: String, usage: String)] = [
        ("exp", "exp(x)"), ("log", "log(x)"), ("sqrt", "sqrt(x)"), ("abs", "abs(x)"), ("sin", "sin(x)"), ("cos", "cos(x)"),
        ("tanh", "tanh(x)"), ("sigmoid", "sigmoid(x)"), ("relu", "relu(x)"), ("softplus", "softplus(x)"),
        ("square", "square(x)"), ("detach", "detach(x): a constant, no gradient flows through it"),
        ("sum", "sum(x, axis=k)"), ("mean", "mean(x, axis=k)"), ("max", "max(x, axis=k)"), ("norm", "norm(x): sqrt(sum(x^2))"),
        ("softmax", "softmax(x, axis=-1)"), ("log_softmax", "log_softmax(x, axis=-1)"),
        ("reshape", "reshape(x, d1, d2, ...): -1 infers one size"), ("flatten", "flatten(x): [N, ...] -> [N, -1]"),
        ("transpose", "transpose(x): swap the two axes of a matrix"), ("clamp", "clamp(x, min=a, max=b)"),
        ("pow", "pow(x, p)"),
        ("cross_entropy", "cross_entropy(logits, labels, reduction=mean|sum|none, smoothing=0)"),
        ("nll", "nll(log_probabilities, labels, reduction=mean|sum|none)"),
        ("bce_logits", "bce_logits(logits, targets, reduction=mean|sum|none)"),
        ("mse", "mse(prediction, target, reduction=mean|sum|none)"), ("l1", "l1(prediction, target, reduction=...)"),
        ("huber", "huber(prediction, target, delta=1, reduction=...)"),
        ("accuracy", "accuracy(logits, labels): fraction of rows whose argmax is the label"),
    ]
    static let names = help.map(\.name)

    private static let unary: [String: @Sendable (Tensor) -> Tensor] = [
        "exp": { exp($0) }, "log": { log($0) }, "sqrt": { sqrt($0) }, "abs": { abs($0) },
        "sin": { sin($0) }, "cos": { cos($0) }, "tanh": { tanh($0) }, "sigmoid": { sigmoid($0) },
        "relu": { relu($0) }, "softplus": { softplus($0) }, "detach": { $0.detached() },
        "square": { pow($0, 2) },
    ]

    /// Losses of (prediction, target) whose only keyword is `reduction`.
    private static let losses: [String: @Sendable (Tensor, Tensor, Reduction) throws(TensorError) -> Tensor] = [
        "nll": { (a, b, r) throws(TensorError) in try nllLoss(a, b, reduction: r) },
        "bce_logits": { (a, b, r) throws(TensorError) in try binaryCrossEntropyWithLogits(a, b, reduction: r) },
        "mse": { (a, b, r) throws(TensorError) in try mseLoss(a, b, reduction: r) },
        "l1": { (a, b, r) throws(TensorError) in try l1Loss(a, b, reduction: r) },
    ]

    /// The compiled call, with arguments already compiled and keywords fixed.
    static func build(_ name: String, _ args: [Node], _ keywords: [String: (Constant, SourceLocation)],
                      at location: SourceLocation) throws(ScriptError) -> Node {
        var keywords = keywords
        /// The keywords this function reads, for the message about one it does not.
        var accepted: [String] = []
        func arity(_ n: ClosedRange<Int>) throws(ScriptError) {
            guard n.contains(args.count) else {
                let usage = help.first { $0.name == name }?.usage ?? name
                throw ScriptError("\(name) takes \(n.lowerBound == n.upperBound ? "\(n.lowerBound)" : "\(n.lowerBound) to \(n.upperBound)") argument\(n.upperBound == 1 ? "" : "s"), got \(args.count); usage: \(usage)", at: location)
            }
        }
        func number(_ key: String, default value: Float?) throws(ScriptError) -> Float? {
            accepted.append(key)
            guard let (c, loc) = keywords.removeValue(forKey: key) else { return value }
            guard case let .number(x) = c else { throw ScriptError("\(key) must be a number, not \(c)", at: loc) }
            return x
        }
        func integer(_ key: String) throws(ScriptError) -> Int? {
            let written = keywords[key]?.1 ?? location
            guard let x = try number(key, default: nil) else { return nil }
            // Int(exactly:) also refuses what an Int cannot hold (axis=1e30), which Int(_:) traps on.
            guard let k = Int(exactly: x) else { throw ScriptError("\(key) must be an integer, not \(formatNumber(x))", at: written) }
            return k
        }
        func reduction() throws(ScriptError) -> Reduction {
            accepted.append("reduction")
            guard let (c, loc) = keywords.removeValue(forKey: "reduction") else { return .mean }
            guard case let .word(w) = c, let r = Reduction(rawValue: w) else {
                let guess = if case let .word(w) = c { didYouMean(w, in: ["mean", "sum", "none"]) } else { "" }
                throw ScriptError("reduction must be mean, sum or none, not \(c)\(guess)", at: loc)
            }
            return r
        }
        func checkKeywords() throws(ScriptError) {
            if let (key, (_, loc)) = keywords.min(by: { $0.value.1.column < $1.value.1.column }) {
                let takes = accepted.isEmpty ? "it takes no keyword arguments" : "it takes \(accepted.joined(separator: ", "))"
                throw ScriptError("\(name) has no argument '\(key)'\(didYouMean(key, in: accepted)); \(takes)", at: loc)
            }
        }
        /// Sizes so large that their product overflows are refused here: counting the elements of
        /// such a shape traps inside the tensor library.
        func checkElementCount(_ sizes: [Int]) throws(ScriptError) {
            var product = 1
            for size in sizes where size > 0 {
                let (next, overflow) = product.multipliedReportingOverflow(by: size)
                guard !overflow else { throw ScriptError("reshape: sizes \(sizes) hold more elements than a tensor can", at: location) }
                product = next
            }
        }
        /// A function of one tensor.
        func finish(_ body: @escaping (Tensor) throws(TensorError) -> Tensor) throws(ScriptError) -> Node {
            try checkKeywords()
            let first = args[0].tensorCode
            return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in
                let a = try first(&env)
                return try located(location) { () throws(TensorError) in try body(a) }
            }
        }
        /// A function of two tensors.
        func finish(_ body: @escaping (Tensor, Tensor) throws(TensorError) -> Tensor) throws(ScriptError) -> Node {
            try checkKeywords()
            let first = args[0].tensorCode, second = args[1].tensorCode
            return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in
                let a = try first(&env), b = try second(&env)
                return try located(location) { () throws(TensorError) in try body(a, b) }
            }
        }

        if let f = unary[name] {
            try arity(1...1)
            return try finish { a in f(a) }
        }
        if let loss = losses[name] {
            try arity(2...2)
            let r = try reduction()
            return try finish { (a, b) throws(TensorError) in try loss(a, b, r) }
        }
        switch name {
        case "sum", "mean", "max":
            try arity(1...1)
            // Chosen here, once, not by name on every evaluation.
            let reduce: (Tensor) throws(TensorError) -> Tensor
            switch (name, try integer("axis")) {
            case ("sum", nil): reduce = { $0.sum() }
            case ("mean", nil): reduce = { $0.mean() }
            case (_, nil): reduce = { $0.max() }
            case let ("sum", k?): reduce = { (a) throws(TensorError) in try a.sum(axis: k) }
            case let ("mean", k?): reduce = { (a) throws(TensorError) in try a.mean(axis: k) }
            case let (_, k?): reduce = { (a) throws(TensorError) in try a.max(axis: k) }
            }
            return try finish(reduce)
        case "norm":
            try arity(1...1)
            return try finish { a in euclideanNorm(a) }
        case "softmax", "log_softmax":
            try arity(1...1)
            let axis = try integer("axis") ?? -1
            if name == "softmax" {
                return try finish { (a) throws(TensorError) in try softmax(a, axis: axis) }
            }
            return try finish { (a) throws(TensorError) in try logSoftmax(a, axis: axis) }
        case "flatten":
            try arity(1...1)
            return try finish { (a) throws(TensorError) in try a.reshaped(to: [a.shape.first ?? 1, -1]) }
        case "transpose":
            try arity(1...1)
            return try finish { (a) throws(TensorError) in try a.transposed() }
        case "clamp":
            try arity(1...1)
            let lower = try number("min", default: -.infinity)!, upper = try number("max", default: .infinity)!
            // As the problem line `clamp min=... max=...` refuses it.
            guard lower <= upper else { throw ScriptError("clamp: min must not exceed max, got min=\(formatNumber(lower)) max=\(formatNumber(upper))", at: location) }
            return try finish { a in BettyTensor.clamp(a, min: lower, max: upper) }
        case "pow":
            try arity(2...2)
            let x = args[0].tensorCode, p = args[1].compiled
            return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in
                let base = try x(&env)
                guard let exponent = try p(&env).scalar else { throw ScriptError("pow: the exponent must be a number", at: location) }
                return BettyTensor.pow(base, exponent)
            }
        case "reshape":
            guard args.count >= 2 else { throw ScriptError("reshape takes a tensor and its new sizes", at: location) }
            let x = args[0].tensorCode
            // Sizes are usually constants: then the shape is fixed here, once.
            let constantSizes = args.dropFirst().compactMap { node -> Int? in
                if case let .number(d) = node { return Int(exactly: d) }
                return nil
            }
            if constantSizes.count == args.count - 1 {
                try checkElementCount(constantSizes)
                return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in
                    let t = try x(&env)
                    return try located(location) { () throws(TensorError) in try t.reshaped(to: constantSizes) }
                }
            }
            let sizes = args.dropFirst().map(\.compiled)
            return .tensor { (env: inout Env) throws(ScriptError) -> Tensor in
                let t = try x(&env)
                var dims: [Int] = []
                for s in sizes {
                    guard let d = try s(&env).scalar, let size = Int(exactly: d) else {
                        throw ScriptError("reshape: sizes must be integers", at: location)
                    }
                    dims.append(size)
                }
                try checkElementCount(dims)
                return try located(location) { () throws(TensorError) in try t.reshaped(to: dims) }
            }
        case "cross_entropy":
            try arity(2...2)
            let r = try reduction(), smoothing = try number("smoothing", default: 0)!
            return try finish { (a, b) throws(TensorError) in try crossEntropy(a, b, reduction: r, labelSmoothing: smoothing) }
        case "huber":
            try arity(2...2)
            let r = try reduction(), delta = try number("delta", default: 1)!
            return try finish { (a, b) throws(TensorError) in try huberLoss(a, b, delta: delta, reduction: r) }
        case "accuracy":
            try arity(2...2)
            try checkKeywords()
            let logits = args[0].tensorCode, labels = args[1].tensorCode
            return .value { (env: inout Env) throws(ScriptError) -> Value in
                let a = try logits(&env), b = try labels(&env)
                return .number(try located(location) { () throws(TensorError) in try accuracy(a.detached(), b) })
            }
        default:
            throw ScriptError("unknown function '\(name)'\(didYouMean(name, in: names))", at: location)
        }
    }
}
