import BettyTensor
import Foundation

/// Reads numeric CSV files into a `[rows, columns]` tensor, with an optional header line.
public enum CSVReader {
    public struct Table: Sendable {
        public var header: [String]?
        public var values: Tensor
    }

    /// `hasHeader: nil` treats the first line as a header when any of its fields is not a number;
    /// `firstNonNumericField(_:)` says which.
    public static func read(path: String, hasHeader: Bool? = nil, delimiter: Character = ",") throws(DataError) -> Table {
        let data = try DataFile.bytes(at: path)
        guard let text = String(data: data, encoding: .utf8) else {
            throw .malformed(path: path, reason: "is not UTF-8 text")
        }
        return try parse(text, path: path, hasHeader: hasHeader, delimiter: delimiter)
    }

    /// The first field of `row` that is not a number, with its (zero-based) column: what makes a
    /// first row a header when the header is detected.
    public static func firstNonNumericField(_ row: [String]) -> (column: Int, text: String)? {
        row.enumerated().first { Float($0.element) == nil }.map { ($0.offset, $0.element) }
    }

    public static func parse(_ text: String, path: String = "<memory>", hasHeader: Bool? = nil,
                             delimiter: Character = ",") throws(DataError) -> Table {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .enumerated().filter { !$0.element.trimmingCharacters(in: .whitespaces).isEmpty }
        guard let first = lines.first else { throw .malformed(path: path, reason: "is empty") }
        let firstFields = first.element.split(separator: delimiter, omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let header = hasHeader ?? (firstNonNumericField(firstFields) != nil)
        var names: [String]? = nil
        if header {
            names = firstFields
            lines.removeFirst()
        }
        guard !lines.isEmpty else { throw .malformed(path: path, reason: "has a header row but no data rows") }
        let width = firstFields.count
        let count = MemoryBudget.product([lines.count, width])
        try DataError.checkMemory(floats: count, for: "\(path): \(lines.count) rows of \(width) fields")
        var values: [Float] = []
        values.reserveCapacity(count ?? 0)
        for (number, line) in lines {
            let fields = line.split(separator: delimiter, omittingEmptySubsequences: false)
            guard fields.count == width else {
                throw .malformed(path: path, reason: "line \(number + 1) has \(fields.count) fields but the first line has \(width)")
            }
            for (column, field) in fields.enumerated() {
                let t = field.trimmingCharacters(in: .whitespaces)
                guard let v = Float(t) else {
                    // A text first row read as data is most likely a header the caller said is not one.
                    let hint = number == first.offset ? " (the first row is read as data, not as a header)" : ""
                    throw .malformed(path: path, reason: "line \(number + 1), column \(column + 1): '\(t)' is not a number\(hint)")
                }
                values.append(v)
            }
        }
        do {
            return Table(header: names, values: try Tensor(shape: [lines.count, width], scalars: values))
        } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
    }
}

extension Dataset {
    /// A dataset from a numeric CSV file: `labelColumn` (default the last) becomes `y`, the rest `x`.
    public static func csv(path: String, labelColumn: Int = -1, hasHeader: Bool? = nil) throws(DataError) -> Dataset {
        try Dataset(csv: CSVReader.read(path: path, hasHeader: hasHeader), labelColumn: labelColumn, path: path)
    }

    /// A dataset from a table read by `CSVReader`: `labelColumn` (negative counts from the end)
    /// becomes `y`, the other columns `x`; `path` names the file in errors.
    public init(csv table: CSVReader.Table, labelColumn: Int = -1, path: String) throws(DataError) {
        let width = table.values.shape[1]
        let label = labelColumn < 0 ? width + labelColumn : labelColumn
        guard label >= 0, label < width, width >= 2 else {
            throw .invalidArgument("\(path): label column \(labelColumn) is not one of the \(width) columns (and at least one feature column must remain)")
        }
        let features = (0..<width).filter { $0 != label }
        let x: Tensor, y: Tensor
        do throws(TensorError) {
            x = try table.values.indexSelect(axis: 1, indices: features)
            y = try table.values.indexSelect(axis: 1, indices: [label]).reshaped(to: [-1])
        } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
        try self.init(x: x, y: y)
    }
}
