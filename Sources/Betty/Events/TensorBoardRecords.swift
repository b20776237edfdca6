import BettyNN
/// The bytes of a TensorBoard event file, encoded by hand: the TFRecord framing around each record,
/// and the few fields of the `Event` and `Summary` protocol-buffer messages a scalar needs
/// (tensorboard/compat/proto/event.proto and summary.proto). DECISIONS.md says why no protobuf library.
public enum TensorBoardRecords {
    /// The version string TensorBoard expects in a file's first event: version 2 files are purged
    /// only on an explicit restart record, never because a step goes back.
    public static let fileVersion = "brain.Event:2"

    /// One TFRecord: the data's length (little-endian UInt64), the masked CRC-32C of those eight
    /// bytes, the data, and the masked CRC-32C of the data.
    public static func framed(_ data: [UInt8]) -> [UInt8] {
        var record: [UInt8] = []
        record.reserveCapacity(data.count + 16)
        appendLittleEndian(UInt64(data.count), to: &record)
        appendLittleEndian(maskedCRC(record), to: &record)
        record += data
        appendLittleEndian(maskedCRC(data), to: &record)
        return record
    }

    /// TFRecord's masked CRC-32C: the checksum rotated right by 15 bits plus a constant, so that a
    /// CRC stored inside checksummed data does not checksum to a fixed value.
    public static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        let crc = CRC32C.checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// `Event{wall_time, file_version}`: the first record of every event file.
    public static func fileVersionEvent(wallTime: Double) -> [UInt8] {
        var event = ProtobufEncoder()
        event.double(field: 1, wallTime)
        event.bytes(field: 3, Array(fileVersion.utf8))
        return event.bytes
    }

    /// `Event{wall_time, step, summary: Summary{value: [Value{tag, simple_value}]}}`.
    public static func scalarEvent(wallTime: Double, step: Int, _ values: [(tag: String, value: Float)]) -> [UInt8] {
        var summary = ProtobufEncoder()
        for (tag, value) in values {
            var entry = ProtobufEncoder()
            entry.bytes(field: 1, Array(tag.utf8))
            entry.float(field: 2, value)
            summary.bytes(field: 1, entry.bytes)
        }
        var event = ProtobufEncoder()
        event.double(field: 1, wallTime)
        event.varint(field: 2, UInt64(bitPattern: Int64(step)))
        event.bytes(field: 5, summary.bytes)
        return event.bytes
    }

    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}

/// The four protocol-buffer wire types a scalar event uses. A field is its key (field number and
/// wire type as a varint) followed by its value; fields are written in the order given.
struct ProtobufEncoder {
    private(set) var bytes: [UInt8] = []

    /// Wire type 0, an integer in base-128 groups, low group first (a negative int64 takes ten bytes).
    mutating func varint(field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        appendVarint(value)
    }

    /// Wire type 1, eight little-endian bytes.
    mutating func double(field: Int, _ value: Double) {
        key(field, wireType: 1)
        TensorBoardRecords.appendLittleEndian(value.bitPattern, to: &bytes)
    }

    /// Wire type 2: a length, then the bytes (a string as UTF-8, or an embedded message).
    mutating func bytes(field: Int, _ value: [UInt8]) {
        key(field, wireType: 2)
        appendVarint(UInt64(value.count))
        bytes += value
    }

    /// Wire type 5, four little-endian bytes.
    mutating func float(field: Int, _ value: Float) {
        key(field, wireType: 5)
        TensorBoardRecords.appendLittleEndian(value.bitPattern, to: &bytes)
    }

    private mutating func key(_ field: Int, wireType: UInt64) {
        appendVarint(UInt64(field) << 3 | wireType)
    }

    private mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
}
