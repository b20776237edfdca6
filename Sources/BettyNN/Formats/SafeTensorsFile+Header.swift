import BettyTensor

extension SafeTensorsFile {
    /// The length and the header: keys in tensor order, metadata keys sorted (so equal inputs give
    /// equal bytes), each tensor's checksum beside the caller's metadata, padded with spaces so that
    /// the data starts 8-byte aligned.
    static func header(tensors: [(String, Tensor)], metadata: [String: String]) throws(SafeTensorsError) -> [UInt8] {
        var seen = Set<String>()
        var duplicates: [String] = []
        for (name, _) in tensors where !seen.insert(name).inserted { duplicates.append(name) }
        guard duplicates.isEmpty else {
            throw .invalidContents(reason: "tensor names must be unique; repeated: \(duplicates.map { "'\($0)'" }.joined(separator: ", "))")
        }
        guard !seen.contains(metadataKey) else {
            throw .invalidContents(reason: "'\(metadataKey)' is the format's metadata entry and cannot name a tensor")
        }
        if let key = metadata.keys.sorted().first(where: { $0.hasPrefix(checksumPrefix) }) {
            throw .invalidContents(reason: "metadata key '\(key)' is reserved: keys starting with '\(checksumPrefix)' hold the tensors' checksums")
        }
        var all = metadata
        all[checksumPrefix + metadataKey] = checksumText(metadataChecksum(metadata))
        for (name, tensor) in tensors {
            all[checksumPrefix + name] = checksumText(withLittleEndianBytes(tensor) { CRC32C.checksum($0) })
        }
        var header = "{" + jsonString(metadataKey) + ":{"
        header += all.sorted { $0.key < $1.key }.map { jsonString($0.key) + ":" + jsonString($0.value) }.joined(separator: ",")
        header += "}"
        var offset = 0
        for (name, tensor) in tensors {
            let end = offset + tensor.count * MemoryLayout<Float>.size
            let dims = tensor.shape.map(String.init).joined(separator: ",")
            header += "," + jsonString(name) + ":{\"dtype\":\"F32\",\"shape\":[\(dims)],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var json = Array(header.utf8)
        json += [UInt8](repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
    }

    /// The CRC-32C of the caller's metadata (a checkpoint's engine state: counters, loader positions,
    /// the graph), taken over the sorted keys and values each ended by a NUL, so no two maps collide.
    /// Stored under `crc32c.__metadata__`: no tensor may be named `__metadata__`.
    static func metadataChecksum(_ metadata: [String: String]) -> UInt32 {
        var bytes: [UInt8] = []
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            bytes += Array(key.utf8) + [0] + Array(value.utf8) + [0]
        }
        return bytes.withUnsafeBytes { CRC32C.checksum($0) }
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
