import Testing

@testable import SwiftConvIR

@Test func checkedSizesRejectOverflowNegativeAndNaN() throws {
    #expect(try checkedElementCount([2, 3, 4]) == 24)
    #expect(try checkedElementCount([0, Int.max]) == 0)
    // Empty, but its strides would overflow: refused, as numpy refuses it.
    #expect(throws: SwiftConvError.self) { try checkedElementCount([0, Int.max, Int.max]) }
    #expect(throws: SwiftConvError.self) { try checkedElementCount([1 << 31, 1 << 31, 1 << 31]) }
    #expect(throws: SwiftConvError.self) { try checkedElementCount([4, -1]) }
    // 2^61 float32 elements fit in Int, their byte count does not.
    #expect(throws: SwiftConvError.self) { try checkedByteCount(.float32, [1 << 61]) }
    #expect(try checkedByteCount(.int4, [3]) == 2)
    #expect(throws: SwiftConvError.self) { try Checked.int(Float.nan) }
    #expect(throws: SwiftConvError.self) { try Checked.int(Double.infinity) }
    #expect(throws: SwiftConvError.self) { try Checked.int(Float(1e38)) }
    #expect(try Checked.int(-3.7) == -3)
    #expect(try Checked.clampedInt(Float(1e30), 0...9) == 9)
    #expect(throws: SwiftConvError.self) { try Checked.clampedInt(Float.nan, 0...9) }
    #expect(throws: SwiftConvError.self) { try Checked.add(Int.max, 1) }
}

@Test func allocationBudgetCapsOneTensorAndLiveBytes() throws {
    let budget = AllocationBudget(maxTensorBytes: 1000, maxTotalBytes: 1500)
    try AllocationBudget.withCurrent(budget) {
        #expect(throws: SwiftConvError.self) { try TensorStorage(zeroedByteCount: 1001) }
        var a: TensorStorage? = try TensorStorage(zeroedByteCount: 800)
        #expect(budget.liveBytes == 800)
        #expect(throws: SwiftConvError.self) { try TensorStorage(uninitializedByteCount: 800) }
        a = nil
        #expect(budget.liveBytes == 0)
        let b = try TensorStorage(uninitializedByteCount: 800)
        #expect(b.bytes.count == 800 && budget.liveBytes == 800)
        withExtendedLifetime(a) {}
    }
    #expect(budget.liveBytes == 0)
    // Outside any budget only the default per-tensor cap applies; memory the system
    // refuses is an error rather than a crash.
    #expect(throws: SwiftConvError.self) { try TensorStorage(zeroedByteCount: Int.max - 10) }
    #expect(throws: SwiftConvError.self) { try TensorStorage(zeroedByteCount: -1) }
}
