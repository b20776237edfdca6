import BettyTensor
import Foundation

/// Reads numeric CSV files into a `[rows, columns]` tensor, with an optional header line.
public enum CSVReader {
    public struct Table: Sendable {
        public var header: [String]?
        public var values: Tensor
    }

    /// `hasHeader: nil` treats the first line as a header when any of its fields is not a number.
    public static func read(path: String, hasHeader: Bool? = nil, delimiter: Character = ",") throws(DataError) -> Table {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path: path) }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .malformed(path: path, reason: "is not UTF-8 text")
        }
        return try parse(text, path: path, hasHeader: hasHeader, delimiter: delimiter)
    }

    public static func parse(_ text: String, path: String = "<memory>", hasHeader: Bool? = nil,
                             delimiter: Character = ",") throws(DataError) -> Table {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .enumerated().filter { !$0.element.trimmingCharacters(in: .whitespaces).isEmpty }
        guard let first = lines.first else { throw .malformed(path: path, reason: "is empty") }
        let firstFields = first.element.split(separator: delimiter, omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let header = hasHeader ?? firstFields.contains { Float($0) == nil }
        var names: [String]? = nil
        if header {
            names = firstFields
            lines.removeFirst()
        }
        let width = firstFields.count
        var values: [Float] = []
        values.reserveCapacity(lines.count * width)
        for (number, line) in lines {
            let fields = line.split(separator: delimiter, omittingEmptySubsequences: false)
            guard fields.count == width else {
                throw .malformed(path: path, reason: "line \(number + 1) has \(fields.count) fields but the first line has \(width)")
            }
            for (column, field) in fields.enumerated() {
                let t = field.trimmingCharacters(in: .whitespaces)
                guard let v = Float(t) else {
                    throw .malformed(path: path, reason: "line \(number + 1), column \(column + 1): '\(t)' is not a number")
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
        let table = try CSVReader.read(path: path, hasHeader: hasHeader)
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
        return try Dataset(x: x, y: y)
    }
}
