import CZlib

/// The system zlib, for zip archives: raw inflate into a buffer of the size the archive declares,
/// and CRC-32. The only file that imports CZlib.
enum Zlib {
    /// zlib counts bytes in 32-bit integers: larger buffers go through in pieces of this size.
    private static let piece = 1 << 30

    /// The CRC-32 (ISO 3309, as zip and gzip use it) of `bytes`.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return UInt32(crc) }
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, piece)
            crc = CZlib.crc32(crc, base + offset, uInt(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// How a raw deflate stream ended.
    enum Inflated: Equatable {
        /// The stream ended after `consumed` input bytes, having produced `produced` bytes.
        case ended(consumed: Int, produced: Int)
        /// It produces more than the output holds.
        case overflows
        /// The input ran out before the stream's last block ended (`produced` bytes so far).
        case unterminated(produced: Int)
        /// zlib refused the data, with its reason.
        case corrupt(String)
    }

    /// Inflates the raw deflate stream in `input` (no zlib or gzip wrapper, as a zip member holds it)
    /// into `output`. Nothing is allocated beyond zlib's own 32 KB window.
    static func inflateRaw(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Inflated {
        var stream = z_stream()
        guard betty_inflate_init_raw(&stream) == Z_OK else { return .corrupt("zlib could not start inflating (out of memory)") }
        defer { inflateEnd(&stream) }
        var fed = 0, room = 0
        let inBase = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        let outBase = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        while true {
            if stream.avail_in == 0, fed < input.count, let inBase {
                let n = min(input.count - fed, piece)
                stream.next_in = inBase + fed
                stream.avail_in = uInt(n)
                fed += n
            }
            if stream.avail_out == 0, room < output.count, let outBase {
                let n = min(output.count - room, piece)
                stream.next_out = outBase + room
                stream.avail_out = uInt(n)
                room += n
            }
            let code = inflate(&stream, Z_NO_FLUSH)
            switch code {
            case Z_STREAM_END:
                return .ended(consumed: Int(stream.total_in), produced: Int(stream.total_out))
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress: either the output is full or the input is spent.
                if stream.avail_out == 0, room == output.count { return .overflows }
                if stream.avail_in == 0, fed == input.count { return .unterminated(produced: Int(stream.total_out)) }
                // Room on both sides and still no progress: never seen, but not a loop either.
                if stream.avail_in > 0, stream.avail_out > 0 { return .corrupt("inflate made no progress") }
                continue
            case Z_NEED_DICT:
                return .corrupt("the stream asks for a preset dictionary, which zip members never use")
            case Z_MEM_ERROR:
                return .corrupt("zlib ran out of memory")
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(code)"
                return .corrupt(message)
            }
        }
    }
}
