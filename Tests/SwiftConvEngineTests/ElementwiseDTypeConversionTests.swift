import SwiftConvIR
import Testing

@testable import SwiftConvEngine

/// Every finite code decodes to a value that encodes back to the same code.
@Test(arguments: [DType.float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float4e2m1])
func smallFloatCodesRoundTrip(dtype: DType) throws {
    let format = try #require(DTypeConversion.smallFloatFormat(dtype))
    for code in 0..<(1 << format.bitWidth) {
        let v = DTypeConversion.float(smallFloat: UInt8(code), format)
        guard v.isFinite else { continue }
        let back = DTypeConversion.smallFloatBits(v, format, saturate: false)
        #expect(back == UInt8(code) || (v == 0 && back & 0x7F == 0), "code \(code) value \(v) came back as \(back)")
    }
}

/// Expected codes from ml_dtypes (what the onnx reference uses).
@Test func smallFloatEdgeCasesMatchReference() {
    let x: [Float] = [.nan, .infinity, -.infinity, 0.25, 0.26, 0.75, 5, 7, 100, -0.0, 3e-8]
    let e4m3fn: [UInt8] = [127, 126, 254, 40, 40, 52, 74, 78, 108, 128, 0]
    let e5m2Sat: [UInt8] = [126, 123, 251, 52, 52, 58, 69, 71, 86, 128, 0]
    let e2m1: [UInt8] = [8, 7, 15, 0, 1, 2, 6, 7, 7, 8, 0]
    for i in 0..<x.count {
        #expect(DTypeConversion.smallFloatBits(x[i], .e4m3fn, saturate: true) == e4m3fn[i], "e4m3fn \(x[i])")
        #expect(DTypeConversion.smallFloatBits(x[i], .e5m2, saturate: true) == e5m2Sat[i], "e5m2 \(x[i])")
        #expect(DTypeConversion.smallFloatBits(x[i], .e2m1, saturate: true) == e2m1[i], "e2m1 \(x[i])")
    }
    // Without saturation: e4m3fn overflows to NaN, e5m2 to infinity, fnuz to their NaN 0x80.
    #expect(DTypeConversion.smallFloatBits(Float(1e6), .e4m3fn, saturate: false) == 0x7F)
    #expect(DTypeConversion.smallFloatBits(Float(-1e6), .e5m2, saturate: false) == 0xFC)
    #expect(DTypeConversion.smallFloatBits(Float(1e6), .e4m3fnuz, saturate: false) == 0x80)
    #expect(DTypeConversion.smallFloatBits(Float(-1e6), .e4m3fnuz, saturate: true) == 0xFF)
    // 464 is halfway between 448 and the NaN code: ties to even keeps 448.
    #expect(DTypeConversion.smallFloatBits(Float(464), .e4m3fn, saturate: false) == 0x7E)
}

@Test func bfloat16RoundsToNearestEven() {
    #expect(DTypeConversion.bfloat16Bits(0.47892547) == 0x3EF5)
    #expect(DTypeConversion.bfloat16Bits(.nan) == 0x7FC0)
    #expect(DTypeConversion.bfloat16Bits(-.infinity) == 0xFF80)
    #expect(DTypeConversion.float(bfloat16: 0x3F80) == 1)
}

@Test func float8E8M0FollowsRoundingMode() {
    let x: [Float] = [0, 0.124, 0.25, 0.5, 1.1, 2, 4, 8]
    let up: [UInt8] = [0x00, 0x7C, 0x7D, 0x7E, 0x80, 0x80, 0x81, 0x82]
    for i in 0..<x.count {
        #expect(DTypeConversion.float8E8M0Bits(x[i], saturate: true, rounding: .up) == up[i])
    }
    #expect(DTypeConversion.float(float8E8M0: 0x7F) == 1)
    #expect(DTypeConversion.float(float8E8M0: 0xFF).isNaN)
}

@Test func subByteIntegersWrapAndPack() throws {
    let values: [Float] = [-9, -8, -7, 7, 8, 14]
    let t = try #require(try values.withUnsafeBufferPointer { try DTypeConversion.tensor(from: $0, dtype: .int4, shape: [6]) })
    #expect(Array(t.storage.bytes) == [0x87, 0x79, 0xE8])
    #expect(DTypeConversion.floats(t) == [7, -8, -7, 7, -8, -2])
}
