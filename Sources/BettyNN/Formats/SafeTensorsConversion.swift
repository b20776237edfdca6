/// The dtypes other frameworks save that `SafeTensorsFile` converts to `Float` on load, all from
/// little-endian bytes:
/// - F16 (IEEE binary16) through Swift's `Float16` (available on Linux, and on every Apple platform
///   but Intel macOS, where the same conversion is done on the bits), exact: every half value,
///   subnormals, ±infinity and NaN included, is a float value;
/// - BF16 (bfloat16) is the top 16 bits of a binary32, so the bits shifted up are the float, exact;
/// - F64 rounds to the nearest float (values beyond Float's range become ±infinity, as NumPy's
///   and PyTorch's casts do).
public enum SafeTensorsConversion {
    /// Fills `destination` from `source`, which holds `destination.count` elements of `dtype`
    /// (one of `SafeTensorsFile.convertibleDTypes`; the caller checked the sizes).
    static func convert(_ source: UnsafeRawBufferPointer, dtype: String, into destination: UnsafeMutableBufferPointer<Float>) {
        switch dtype {
        case "F32":
            #if _endian(little)
            UnsafeMutableRawBufferPointer(destination).copyMemory(from: source)
            #else
            for i in destination.indices { destination[i] = Float(bitPattern: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
            #endif
        case "F16":
            for i in destination.indices { destination[i] = float(half: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
        case "BF16":
            for i in destination.indices { destination[i] = float(bfloat16: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
        case "F64":
            for i in destination.indices { destination[i] = Float(Double(bitPattern: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
        default:
            preconditionFailure("SafeTensorsConversion: \(dtype) is not a convertible dtype")
        }
    }

    /// The binary16 value with these bits, as a float (exact).
    public static func float(half bits: UInt16) -> Float {
        #if os(macOS) && arch(x86_64)
        return floatFromHalfBits(bits)
        #else
        return Float(Float16(bitPattern: bits))
        #endif
    }

    /// The same conversion on the bits, where `Float16` is unavailable (tests compare the two on
    /// all 65536 patterns): sign, a 5-bit exponent biased by 15 and a 10-bit fraction; exponent 0
    /// is zero or a subnormal (fraction × 2^-24, exact in a float), 31 is infinity or NaN (the
    /// payload kept, in the fraction's top bits).
    static func floatFromHalfBits(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let fraction = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            let magnitude = Float(fraction) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | fraction << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | fraction << 13)
        }
    }

    /// The bfloat16 value with these bits, as a float (exact: they are its top 16 bits).
    public static func float(bfloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
