import Testing
@testable import BettyTensor

@Suite struct MemoryBudgetTests {
    // MARK: - Byte counts

    @Test func byteCountsParseDecimalAndBinaryUnits() {
        #expect(ByteCount.parse("512MB") == 512_000_000)
        #expect(ByteCount.parse("2GB") == 2_000_000_000)
        #expect(ByteCount.parse("1.5GiB") == 1_610_612_736)
        #expect(ByteCount.parse("1 KiB") == 1024)
        #expect(ByteCount.parse("512mb") == 512_000_000)
        #expect(ByteCount.parse("3e9") == 3_000_000_000)
        #expect(ByteCount.parse("3e9B") == 3_000_000_000)
        #expect(ByteCount.parse("1024") == 1024)
        #expect(ByteCount.parse("1_000") == 1000)
    }

    @Test func byteCountsRefuseWhatIsNotASize() {
        for text in ["", "MB", "-1GB", "12XB", "two GB", "1e30", "nan", "inf"] {
            #expect(ByteCount.parse(text) == nil, "\(text)")
        }
    }

    @Test func byteCountsPrintInDecimalUnitsWithOneDecimal() {
        #expect(ByteCount.format(512) == "512 B")
        #expect(ByteCount.format(8000) == "8.0 KB")
        #expect(ByteCount.format(21_349_000_000) == "21.3 GB")
        #expect(ByteCount.format(4_000_000_000_000_000) == "4.0 PB")
        #expect(ByteCount.format(Int.max) == "9.2 EB")
    }

    @Test func elementCountsPrintExactlyBelowAMillionElseWithAnExponent() {
        #expect(ByteCount.formatCount(999_999) == "999999")
        #expect(ByteCount.formatCount(1_000_000) == "1e6")
        #expect(ByteCount.formatCount(1_000_000_000_000_000) == "1e15")
        #expect(ByteCount.formatCount(2_500_000_000) == "2.5e9")
        #expect(ByteCount.formatCount(1_234_567) == "1.23e6")
        #expect(ByteCount.formatCount(1_050_000) == "1.05e6")
        // Rounding to three digits can carry into the exponent.
        #expect(ByteCount.formatCount(9_999_999) == "1e7")
    }

    // MARK: - Checked arithmetic

    @Test func productsAndSumsReportOverflowAsNil() {
        #expect(MemoryBudget.product([100_000, 100_000, 100_000]) == 1_000_000_000_000_000)
        #expect(MemoryBudget.product([Int(Int32.max), Int(Int32.max), Int(Int32.max)]) == nil)
        #expect(MemoryBudget.product([Int]()) == 1)
        #expect(MemoryBudget.sum([1, 2, 3]) == 6)
        #expect(MemoryBudget.sum([Int.max, 1]) == nil)
        #expect(MemoryBudget.sum([1, nil]) == nil)
    }

    // MARK: - The verdict

    private let roomy = { (bound: MemoryBudget.Bound.available(bytes: 1_000_000), bytes: 1_000_000) }

    @Test func aRequestFitsUnderTheLimitAndTheAvailableMemory() {
        #expect(MemoryBudget.refusal(bytes: 1000, limit: nil, inUse: 0, system: roomy) == nil)
        #expect(MemoryBudget.refusal(bytes: 1000, limit: 2000, inUse: 1000, system: roomy) == nil)
    }

    @Test func theLimitCountsTheTensorsAlreadyAlive() {
        #expect(MemoryBudget.refusal(bytes: 1001, limit: 2000, inUse: 1000, system: roomy) == .limit(bytes: 2000, inUse: 1000))
    }

    @Test func withoutALimitTheAvailableMemoryBounds() {
        #expect(MemoryBudget.refusal(bytes: 1_000_001, limit: nil, inUse: 0, system: roomy) == .available(bytes: 1_000_000))
        // A limit above the available memory does not create memory.
        #expect(MemoryBudget.refusal(bytes: 1_000_001, limit: 5_000_000, inUse: 0, system: roomy) == .available(bytes: 1_000_000))
    }

    @Test func anOverflowedRequestNeverFits() {
        #expect(MemoryBudget.refusal(bytes: nil, limit: nil, inUse: 0, system: roomy) == .available(bytes: 1_000_000))
        #expect(MemoryBudget.refusal(bytes: nil, limit: 10, inUse: 0, system: roomy) == .limit(bytes: 10, inUse: 0))
    }

    @Test func theSystemCannotGiveAnExabyte() {
        #expect(throws: MemoryBudget.Exceeded.self) {
            try MemoryBudget.check(floats: 1 << 60, for: "an exabyte")
        }
        // And gives a kilobyte.
        #expect((try? MemoryBudget.check(floats: 256, for: "a kilobyte")) != nil)
    }

    @Test func theMessageSaysWhatAskedHowMuchAndTheBound() {
        let available = MemoryBudget.Exceeded(purpose: "logistic data", bytes: 4_000_000_000_000_000, floats: 1_000_000_000_000_000,
                                              bound: .available(bytes: 21_300_000_000))
        #expect(available.description == "logistic data needs 4.0 PB (1e15 floats), more than the 21.3 GB available")
        let limited = MemoryBudget.Exceeded(purpose: "x", bytes: 8000, floats: 2000, bound: .limit(bytes: 1000, inUse: 0))
        #expect(limited.description(limitName: "engine memory_limit") == "x needs 8.0 KB (2000 floats), more than the 1.0 KB engine memory_limit")
        let crowded = MemoryBudget.Exceeded(purpose: "x", bytes: 800, bound: .limit(bytes: 1000, inUse: 500))
        #expect(crowded.description == "x needs 800 B, more than the 1.0 KB memory limit leaves beside the 500 B of tensors alive")
        let overflowed = MemoryBudget.Exceeded(purpose: "x", bytes: nil, bound: .physical(bytes: 8_000_000_000))
        #expect(overflowed.description == "x needs more than 9.2 EB (its size overflows a 64-bit count), more than the 8.0 GB of physical memory")
    }

    @Test func theGlobalLimitIsConsultedAndCanBeLifted() throws {
        defer { MemoryBudget.limit = nil }
        MemoryBudget.limit = MemoryStats.liveBytes + 4096
        #expect(throws: MemoryBudget.Exceeded.self) { try MemoryBudget.check(floats: 2048, for: "8 KB") }
        MemoryBudget.limit = nil
        try MemoryBudget.check(floats: 2048, for: "8 KB")
    }
}
