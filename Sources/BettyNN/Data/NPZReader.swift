import BettyTensor
import Foundation

/// A NumPy `.npz` archive (`np.savez`, members stored; `np.savez_compressed`, members deflated):
/// a zip archive whose members are `.npy` files, each read by `NPYReader` with the same element
/// types and the same checks.
///
/// Opening reads the file and checks the archive's directory (`ZipArchive`); `array(_:)` inflates
/// one member, checks its CRC-32 and parses it, so only the arrays asked for are loaded. Every
/// refusal is a `DataError` naming the archive, and the member when it is about one.
public struct NPZArchive: Sendable {
    public let path: String
    private let zip: ZipArchive

    public init(path: String) throws(DataError) {
        try self.init(data: DataFile.bytes(at: path), path: path)
    }

    public init(data: Data, path: String = "<memory>") throws(DataError) {
        self.path = path
        zip = try ZipArchive(data: data, path: path)
    }

    /// The arrays' names, in the archive's order, as NumPy lists them (`NpzFile.files`): `x` for the
    /// member `x.npy`, any other member by its whole name.
    public var names: [String] {
        zip.members.map { $0.name.hasSuffix(".npy") ? String($0.name.dropLast(4)) : $0.name }
    }

    /// The member `name` stands for, as NumPy looks it up: the member of that exact name, else `name.npy`.
    private func member(_ name: String) -> ZipArchive.Member? {
        zip.members.first { $0.name == name } ?? zip.members.first { $0.name == name + ".npy" }
    }

    public func contains(_ name: String) -> Bool { member(name) != nil }

    /// The array `name` (`x` or `x.npy`).
    public func array(_ name: String) throws(DataError) -> Tensor {
        guard let member = member(name) else {
            let held = names.isEmpty ? "the archive holds no arrays" : "its arrays: \(names.joined(separator: ", "))"
            throw .malformed(path: path, reason: "has no array '\(name)'; \(held)")
        }
        let contents = try zip.contents(of: member)
        // NumPy tells an array from other bytes by the magic, whatever the member's name.
        guard contents.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) else {
            throw .unsupported(path: path, reason: "member \(member.name) is not a .npy array (it does not start with NumPy's magic bytes)")
        }
        do {
            return try NPYReader.parse(contents, path: member.name)
        } catch {
            // The member's own errors, told as the archive's.
            switch error {
            case let .malformed(_, reason): throw .malformed(path: path, reason: "member \(member.name): \(reason)")
            case let .unsupported(_, reason): throw .unsupported(path: path, reason: "member \(member.name): \(reason)")
            case var .tooLarge(exceeded):
                exceeded.purpose = "\(path): member \(exceeded.purpose)"
                throw .tooLarge(exceeded)
            case .fileNotFound, .invalidArgument: throw error
            }
        }
    }
}

public enum NPZReader {
    /// Every array of the archive at `path`, by name.
    public static func read(path: String) throws(DataError) -> [String: Tensor] {
        let archive = try NPZArchive(path: path)
        var arrays: [String: Tensor] = [:]
        for name in archive.names { arrays[name] = try archive.array(name) }
        return arrays
    }
}
