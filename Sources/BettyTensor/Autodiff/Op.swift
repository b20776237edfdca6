/// The operation that produced a tensor, with what its backward rule needs besides the inputs.
///
/// Plain data in one enum, not closures or a class per operation: recording an operation is one
/// allocation, and the backward rules live together in `Backward.swift`.
@usableFromInline
enum Op: Equatable {
    case leaf
    /// A result of a step plan's replay (`StepPlan`): it took part in the graph when the step was
    /// recorded, but the replay keeps no graph, so nothing differentiates through it.
    case replayed
    // Elementwise, broadcasting.
    case add, sub, mul, div
    // With a scalar.
    case addScalar, mulScalar(Float), rsubScalar, rdivScalar(Float), powScalar(Float)
    // Elementwise, one input.
    // sin keeps cos(x) as `extra[0]`, cos keeps sin(x), softplus keeps sigmoid(x).
    case neg, exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu, softplus
    case clamp(lower: Float, upper: Float)
    case select  // where(condition, a, b); the condition is saved as `extra[0]`
    // Linear algebra.
    case matmul(transposeA: Bool, transposeB: Bool)
    // Reductions.
    case sum(axes: [Int], keepDims: Bool)
    case mean(axes: [Int], keepDims: Bool, count: Int)
    case max(axes: [Int], keepDims: Bool)
    case sumTo(Shape)
    case broadcastTo(Shape)
    // Shape and indexing.
    case reshape
    case permute([Int])
    case concat(axis: Int, sizes: [Int])
    case slice(axis: Int, start: Int)
    case padSlice(axis: Int, start: Int, size: Int)
    case indexSelect(axis: Int, indices: [Int])
    case indexAdd(axis: Int, indices: [Int], size: Int)
    case gather(axis: Int)       // index tensor saved as `extra[0]`
    case scatterAdd(axis: Int, size: Int)  // index tensor saved as `extra[0]`
    // Sliding windows (im2col) and their adjoint.
    case unfold(WindowGeometry, inputShape: Shape)
    case fold(WindowGeometry, imageShape: Shape)
    // Normalisation along an axis.
    case softmax(axis: Int)
    case logSoftmax(axis: Int)
    // Fused losses.
    case sigmoidCrossEntropy(scale: Float)  // sigmoid(x) saved as `extra[0]`

    var name: String {
        switch self {
        case .leaf: "leaf"
        case .replayed: "replayed"
        case .add: "add"
        case .sub: "sub"
        case .mul: "mul"
        case .div: "div"
        case .addScalar: "addScalar"
        case .mulScalar: "mulScalar"
        case .rsubScalar: "rsubScalar"
        case .rdivScalar: "rdivScalar"
        case .powScalar: "pow"
        case .neg: "neg"
        case .exp: "exp"
        case .log: "log"
        case .sqrt: "sqrt"
        case .abs: "abs"
        case .sin: "sin"
        case .cos: "cos"
        case .tanh: "tanh"
        case .sigmoid: "sigmoid"
        case .relu: "relu"
        case .softplus: "softplus"
        case .clamp: "clamp"
        case .select: "where"
        case .matmul: "matmul"
        case .sum: "sum"
        case .mean: "mean"
        case .max: "max"
        case .sumTo: "sumTo"
        case .broadcastTo: "broadcastTo"
        case .reshape: "reshape"
        case .permute: "permute"
        case .concat: "concat"
        case .slice: "slice"
        case .padSlice: "padSlice"
        case .indexSelect: "indexSelect"
        case .indexAdd: "indexAdd"
        case .gather: "gather"
        case .scatterAdd: "scatterAdd"
        case .unfold: "unfold"
        case .fold: "fold"
        case .softmax: "softmax"
        case .logSoftmax: "logSoftmax"
        case .sigmoidCrossEntropy: "sigmoidCrossEntropy"
        }
    }

    /// Equal, with scalars compared bit for bit (0 and -0 differ, a NaN is itself): a step plan
    /// replays a backward rule only for the very scalars it was recorded with.
    func isIdentical(to other: Op) -> Bool {
        switch (self, other) {
        case let (.mulScalar(a), .mulScalar(b)), let (.rdivScalar(a), .rdivScalar(b)),
             let (.powScalar(a), .powScalar(b)), let (.sigmoidCrossEntropy(a), .sigmoidCrossEntropy(b)):
            return a.bitPattern == b.bitPattern
        case let (.clamp(l1, u1), .clamp(l2, u2)):
            return l1.bitPattern == l2.bitPattern && u1.bitPattern == u2.bitPattern
        default:
            return self == other
        }
    }
}
