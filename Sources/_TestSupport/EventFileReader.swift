/// A small reader of TensorBoard event files for tests, written from the format's description and
/// sharing no code with the library's writer: its CRC-32C is computed bit by bit, and the protobuf
/// fields are decoded by wire type, so an encoding slip on either side shows as a mismatch.
public struct EventFileReader {
    public struct Event: Equatable {
        public var wallTime: Double?
        public var step: Int64 = 0
        public var fileVersion: String?
        public var values: [Value] = []

        public init(wallTime: Double? = nil, step: Int64 = 0, fileVersion: String? = nil, values: [Value] = []) {
            self.wallTime = wallTime
            self.step = step
            self.fileVersion = fileVersion
            self.values = values
        }
    }

    public struct Value: Equatable {
        public var tag: String
        public var value: Float

        public init(tag: String, value: Float) {
            self.tag = tag
            self.value = value
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The events of one file, in order; every length and CRC is checked.
    public static func events(_ bytes: [UInt8]) throws -> [Event] {
        var events: [Event] = []
        var at = 0
        while at < bytes.count {
            guard bytes.count - at >= 12 else { throw Failure(description: "a truncated record header at byte \(at)") }
            let header = Array(bytes[at..<(at + 8)])
            let length = Int(littleEndian(header, as: UInt64.self))
            guard littleEndian(Array(bytes[(at + 8)..<(at + 12)]), as: UInt32.self) == maskedCRC(header) else {
                throw Failure(description: "the length CRC of the record at byte \(at) does not match")
            }
            guard bytes.count - at - 12 >= length + 4 else { throw Failure(description: "a truncated record at byte \(at)") }
            let data = Array(bytes[(at + 12)..<(at + 12 + length)])
            guard littleEndian(Array(bytes[(at + 12 + length)..<(at + 16 + length)]), as: UInt32.self) == maskedCRC(data) else {
                throw Failure(description: "the data CRC of the record at byte \(at) does not match")
            }
            events.append(try event(data))
            at += 16 + length
        }
        return events
    }

    /// Every scalar of `events` by tag, in file order: (step, value).
    public static func scalars(_ events: [Event]) -> [String: [(step: Int64, value: Float)]] {
        var result: [String: [(step: Int64, value: Float)]] = [:]
        for e in events {
            for v in e.values { result[v.tag, default: []].append((e.step, v.value)) }
        }
        return result
    }

    /// CRC-32C straight from its definition (reflected polynomial 0x82F63B78), one bit at a time,
    /// masked as TFRecord does.
    public static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        crc = ~crc
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    // MARK: - Protobuf

    private struct Fields {
        var bytes: [UInt8]
        var at = 0

        /// The next field's number and value: an integer for wire types 0, 1 and 5, bytes for 2.
        mutating func next() throws -> (field: Int, integer: UInt64, data: [UInt8])? {
            guard at < bytes.count else { return nil }
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: return (field, try varint(), [])
            case 1: return (field, try fixed(8), [])
            case 5: return (field, try fixed(4), [])
            case 2:
                let n = Int(try varint())
                guard bytes.count - at >= n else { throw Failure(description: "a length-delimited field runs past its message") }
                defer { at += n }
                return (field, 0, Array(bytes[at..<(at + n)]))
            default: throw Failure(description: "wire type \(key & 7) is not used by these messages")
            }
        }

        mutating func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard at < bytes.count, shift < 64 else { throw Failure(description: "a truncated varint") }
                let byte = bytes[at]
                at += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }

        mutating func fixed(_ n: Int) throws -> UInt64 {
            guard bytes.count - at >= n else { throw Failure(description: "a truncated fixed-width field") }
            var value: UInt64 = 0
            for i in 0..<n { value |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
            at += n
            return value
        }
    }

    /// tensorboard.Event: wall_time 1 (double), step 2 (int64), file_version 3 (string), summary 5.
    private static func event(_ data: [UInt8]) throws -> Event {
        var e = Event()
        var fields = Fields(bytes: data)
        while let f = try fields.next() {
            switch f.field {
            case 1: e.wallTime = Double(bitPattern: f.integer)
            case 2: e.step = Int64(bitPattern: f.integer)
            case 3: e.fileVersion = String(decoding: f.data, as: UTF8.self)
            case 5:
                // Summary: repeated Value value = 1.
                var summary = Fields(bytes: f.data)
                while let v = try summary.next() {
                    guard v.field == 1 else { throw Failure(description: "unexpected Summary field \(v.field)") }
                    e.values.append(try value(v.data))
                }
            default: throw Failure(description: "unexpected Event field \(f.field)")
            }
        }
        return e
    }

    /// Summary.Value: tag 1 (string), simple_value 2 (float).
    private static func value(_ data: [UInt8]) throws -> Value {
        var tag: String?
        var x: Float?
        var fields = Fields(bytes: data)
        while let f = try fields.next() {
            switch f.field {
            case 1: tag = String(decoding: f.data, as: UTF8.self)
            case 2: x = Float(bitPattern: UInt32(f.integer))
            default: throw Failure(description: "unexpected Summary.Value field \(f.field)")
            }
        }
        guard let tag, let x else { throw Failure(description: "a Summary.Value without a tag or a simple_value") }
        return Value(tag: tag, value: x)
    }

    private static func littleEndian<T: FixedWidthInteger>(_ bytes: [UInt8], as: T.Type) -> T {
        var value: T = 0
        for (i, b) in bytes.enumerated() { value |= T(b) << (8 * i) }
        return value
    }
}
