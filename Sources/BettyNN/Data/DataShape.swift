import BettyTensor

/// The checks every reader makes on the shape a file's header declares, before trusting it.
enum DataShape {
    /// The largest dimension a `Shape` holds.
    static let maxDimension = Int(Int32.max)

    /// Refuses a dimension that is zero (no samples to train on), negative, or above what a `Shape`
    /// holds, naming the file and the shape as declared.
    static func validate(_ dims: [Int], path: String) throws(DataError) {
        if let d = dims.first(where: { $0 > maxDimension }) {
            throw .unsupported(path: path, reason: "header declares shape \(dims): dimension \(d) is above \(maxDimension), the largest supported")
        }
        if dims.contains(where: { $0 < 0 }) {
            throw .malformed(path: path, reason: "header declares shape \(dims) with a negative dimension")
        }
        if dims.contains(0) {
            throw .malformed(path: path, reason: "header declares shape \(dims), which holds no elements")
        }
    }

    /// `"24 bytes"`, or what an overflowing count means.
    static func describe(bytes: Int?) -> String {
        bytes.map { "\($0) bytes" } ?? "more than 2^63 bytes"
    }
}
