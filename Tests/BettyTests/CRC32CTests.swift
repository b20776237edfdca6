import Betty
import Testing

/// CRC-32C one bit at a time, straight from its definition (reflected polynomial 0x82F63B78), to
/// check the library's table-driven one against.
func bitwiseCRC32C(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

@Suite struct CRC32CTests {
    /// The check value every CRC catalogue lists for CRC-32C (iSCSI).
    @Test func theStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    /// RFC 3720 (iSCSI), appendix B.4: 32 bytes of zeros, of 0xFF, ascending and descending.
    @Test func theISCSITestVectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    /// The eight-bytes-at-a-time loop against the definition, for every length up to three blocks
    /// plus a tail and at every alignment within a block.
    @Test func slicingAgreesWithTheBitwiseDefinition() {
        let bytes = (0..<97).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        for start in 0..<8 {
            for end in start...bytes.count {
                let slice = Array(bytes[start..<end])
                #expect(CRC32C.checksum(slice) == bitwiseCRC32C(slice), "bytes \(start)..<\(end)")
            }
        }
    }

    @Test func updatesInPiecesGiveTheChecksumOfTheWhole() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var crc = CRC32C()
        for cut in stride(from: 0, to: bytes.count, by: 13) {
            bytes[cut..<min(cut + 13, bytes.count)].withUnsafeBytes { crc.update($0) }
        }
        #expect(crc.value == CRC32C.checksum(bytes))
    }
}
