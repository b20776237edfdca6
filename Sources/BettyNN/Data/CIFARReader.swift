import BettyTensor
import Foundation

/// CIFAR-10 and CIFAR-100 in their binary distribution (`cifar-10-batches-bin/data_batch_1.bin`,
/// `cifar-100-binary/train.bin`): fixed-size records, each the label byte (CIFAR-10) or the coarse
/// and the fine label bytes (CIFAR-100), then 3072 pixel bytes: the red plane, then green, then
/// blue, each 32 rows of 32 (channel-major, as PyTorch's `[N, C, H, W]`).
///
/// x is `[N, 3, 32, 32]` with the pixel bytes as they are, 0 to 255 (as `IDXReader` gives raw
/// values: `scale=1/255` for [0, 1]); y is `[N]` class labels. Several files are one data set, in
/// the order given. A file that is not a whole number of records, or with a label past the
/// variant's classes (the other variant's file), is refused naming the file; every file is checked,
/// and the memory for all of them, before anything is allocated.
public enum CIFARReader {
    public enum Labels: String, Sendable, CaseIterable {
        /// CIFAR-100's 100 classes (the record's second byte).
        case fine
        /// CIFAR-100's 20 superclasses (the record's first byte).
        case coarse
    }

    public enum Variant: Sendable, Equatable {
        case cifar10
        case cifar100(labels: Labels)

        var name: String { self == .cifar10 ? "CIFAR-10" : "CIFAR-100" }
        /// Label bytes before each record's pixels.
        var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        var recordSize: Int { labelBytes + CIFARReader.pixels }
        var other: String { self == .cifar10 ? "a CIFAR-100 file (cifar100)" : "a CIFAR-10 file (cifar10)" }
    }

    public static let pixels = 3 * 32 * 32

    public static func read(paths: [String], _ variant: Variant) throws(DataError) -> Dataset {
        guard !paths.isEmpty else { throw .invalidArgument("CIFARReader.read: no files given") }
        // Every file's size first: a truncated last file refuses the set before the first is read.
        var sizes: [Int] = []
        for path in paths {
            let size = try DataFile.size(at: path)
            try checkWhole(size, variant, path: path)
            sizes.append(size)
        }
        let records = sizes.reduce(0) { $0 + $1 / variant.recordSize }
        var x = try allocate(records: records, purpose: paths.count == 1 ? paths[0] : "\(paths.count) \(variant.name) files")
        var y = Tensor.zeros([records])
        var first = 0
        for (path, size) in zip(paths, sizes) {
            let data = try DataFile.bytes(at: path)
            guard data.count == size else { throw .malformed(path: path, reason: "changed while it was read (\(size) bytes, then \(data.count))") }
            try fill(&x, &y, from: data, at: first, variant, path: path)
            first += size / variant.recordSize
        }
        do { return try Dataset(x: x, y: y) } catch { preconditionFailure("x and y are made with one count: \(error)") }
    }

    public static func parse(_ data: Data, _ variant: Variant, path: String = "<memory>") throws(DataError) -> Dataset {
        try checkWhole(data.count, variant, path: path)
        let records = data.count / variant.recordSize
        var x = try allocate(records: records, purpose: path)
        var y = Tensor.zeros([records])
        try fill(&x, &y, from: data, at: 0, variant, path: path)
        do { return try Dataset(x: x, y: y) } catch { preconditionFailure("x and y are made with one count: \(error)") }
    }

    private static func checkWhole(_ size: Int, _ variant: Variant, path: String) throws(DataError) {
        let record = variant.recordSize
        let layout = "\(record)-byte \(variant.name) records (\(variant.labelBytes == 1 ? "a label byte" : "2 label bytes") and \(pixels) pixel bytes)"
        guard size > 0 else { throw .malformed(path: path, reason: "is empty: no \(layout)") }
        guard size % record == 0 else {
            let whole = size / record == 1 ? "1 record" : "\(size / record) records"
            throw .malformed(path: path, reason: "is \(size) bytes, not a whole number of \(layout): \(whole) and \(size % record) bytes over (a truncated file, or not \(variant.name))")
        }
    }

    private static func allocate(records: Int, purpose: String) throws(DataError) -> Tensor {
        let dims = [records, 3, 32, 32]
        try DataShape.validate(dims, path: purpose)
        try DataError.checkMemory(floats: MemoryBudget.product([records, pixels + 1]), for: "\(purpose): x \(dims) and y [\(records)]")
        return Tensor.zeros(Shape(dims))
    }

    /// Converts the records of `data` into samples `first...` of x and y, checking each label.
    private static func fill(_ x: inout Tensor, _ y: inout Tensor, from data: Data, at first: Int, _ variant: Variant,
                             path: String) throws(DataError) {
        let records = data.count / variant.recordSize
        // The label kept: CIFAR-100's fine label is the second byte.
        let labelOffset = variant == .cifar100(labels: .fine) ? 1 : 0
        // Both label bytes of CIFAR-100 are checked, whichever is kept.
        let checks: [(offset: Int, classes: Int, name: String)] = variant == .cifar10
            ? [(0, 10, "label")] : [(0, 20, "coarse label"), (1, 100, "fine label")]
        let fault: (record: Int, label: Int, classes: Int, name: String)? = data.withUnsafeBytes { raw in
            for r in 0..<records {
                for check in checks where Int(raw[r * variant.recordSize + check.offset]) >= check.classes {
                    return (r, Int(raw[r * variant.recordSize + check.offset]), check.classes, check.name)
                }
            }
            return nil
        }
        if let fault {
            throw .malformed(path: path, reason: "record \(fault.record + 1) has \(fault.name) \(fault.label), but \(variant.name)'s \(fault.name)s are 0 to \(fault.classes - 1): is it \(variant.other)?")
        }
        data.withUnsafeBytes { raw in
            x.withUnsafeMutableBufferPointer { xs in
                y.withUnsafeMutableBufferPointer { ys in
                    for r in 0..<records {
                        let record = r * variant.recordSize
                        ys[first + r] = Float(raw[record + labelOffset])
                        let pixels = record + variant.labelBytes
                        let out = (first + r) * Self.pixels
                        for i in 0..<Self.pixels { xs[out + i] = Float(raw[pixels + i]) }
                    }
                }
            }
        }
    }
}
