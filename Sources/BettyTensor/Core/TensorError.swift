/// Errors from tensor operations on arguments a user can get wrong (shapes, axes, indices, graphs).
///
/// Each message names the operation, the offending shapes or axis, and says how to fix the call.
public enum TensorError: Error, Equatable, CustomStringConvertible, Sendable {
    case shapeMismatch(op: String, shapes: [Shape], hint: String)
    case axisOutOfRange(op: String, axis: Int, rank: Int)
    case indexOutOfRange(op: String, index: Int, bound: Int)
    case invalidArgument(op: String, message: String)
    case notDifferentiable(message: String)
    /// A replayed step (`StepPlan`) did something else than the step recorded, and then asked for a
    /// gradient the replay cannot give: the caller undoes the step and records it again.
    case stepChanged(reason: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, shapes, hint):
            let list = shapes.map(\.description).joined(separator: " and ")
            return "\(op): incompatible shapes \(list); \(hint)"
        case let .axisOutOfRange(op, axis, rank):
            return "\(op): axis \(axis) is out of range for a tensor of rank \(rank) (valid: \(-rank)..<\(rank))"
        case let .indexOutOfRange(op, index, bound):
            return "\(op): index \(index) is out of range 0..<\(bound)"
        case let .invalidArgument(op, message):
            return "\(op): \(message)"
        case let .notDifferentiable(message):
            return "grad: \(message)"
        case let .stepChanged(reason):
            return "compiled step: the step changed since it was recorded (\(reason)); record it again"
        }
    }
}

extension Shape {
    /// Resolves a possibly negative axis (`-1` is the last) against this rank.
    func normalize(axis: Int, op: String) throws(TensorError) -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else { throw .axisOutOfRange(op: op, axis: axis, rank: rank) }
        return a
    }

    /// Resolves a list of axes, sorted and without duplicates.
    func normalize(axes: [Int], op: String) throws(TensorError) -> [Int] {
        var out: [Int] = []
        for axis in axes {
            let a = try normalize(axis: axis, op: op)
            guard !out.contains(a) else {
                throw .invalidArgument(op: op, message: "axis \(axis) is listed twice")
            }
            out.append(a)
        }
        return out.sorted()
    }
}
