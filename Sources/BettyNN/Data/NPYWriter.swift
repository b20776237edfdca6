import BettyTensor

/// Writes a tensor as NumPy's `.npy` (format 1.0, `<f4`, C order, the header padded to 64 bytes as
/// `np.save` pads it), so `np.load` gives the same float32 values bit for bit. The file is replaced
/// by rename (`FileReplacement`): an error leaves what was there before.
public enum NPYWriter {
    /// The file's bytes: magic, version, header, then the elements little-endian in row-major order.
    public static func bytes(of tensor: Tensor) -> [UInt8] {
        let shape = Array(tensor.shape)
        let tuple = shape.count == 1 ? "(\(shape[0]),)" : "(\(shape.map(String.init).joined(separator: ", ")))"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(tuple), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + 4 * tensor.count)
        tensor.withUnsafeBufferPointer { values in
            for v in values {
                let bits = v.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    public static func write(_ tensor: Tensor, to path: String) throws(FileIOError) {
        try FileIO.write(bytes(of: tensor), to: path)
    }
}
