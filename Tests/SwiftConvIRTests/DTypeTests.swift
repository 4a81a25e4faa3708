import SwiftConvIR
import Testing

@Test func codesAreONNXNumberingWithoutGaps() {
    #expect(DType.allCases.map(\.rawValue) == Array(0...28))
    for dtype in DType.allCases { #expect(DType(rawValue: dtype.rawValue) == dtype) }
    #expect(DType(rawValue: 29) == nil)
    #expect(DType(rawValue: -1) == nil)
}

@Test func namesAreDistinctAndSpellTheHeaderEnumerators() {
    #expect(Set(DType.allCases.map(\.name)).count == DType.allCases.count)
    #expect(Set(DType.allCases.map(\.numpyName)).count == DType.allCases.count)
    #expect(DType.float32.name == "float32" && DType.float32.onnxTypeName == "float")
    #expect(DType.float64.name == "float64" && DType.float64.onnxTypeName == "double")
    #expect(DType.float8e4m3fn.name == "float8e4m3fn" && DType.float8e4m3fn.numpyName == "float8_e4m3fn")
    #expect(DType.string.numpyName == "object")
}

@Test func packedByteCountsRoundUpAndRefuseOverflow() {
    #expect(DType.int4.byteCount(elements: 3) == 2)
    #expect(DType.uint2.byteCount(elements: 5) == 2)
    #expect(DType.float6e2m3.byteCount(elements: 4) == 3)
    #expect(DType.complex128.byteCount(elements: 2) == 32)
    #expect(DType.string.byteCount(elements: 7) == 0)
    #expect(DType.float32.byteCount(elements: Int.max / 2) == nil)
    #expect(DType.float32.byteCount(elements: -1) == nil)
}

@Test func kindsDoNotOverlap() {
    for dtype in DType.allCases {
        #expect(!(dtype.isFloatingPoint && dtype.isInteger), "\(dtype)")
        if dtype.isSigned { #expect(dtype.isFloatingPoint || dtype.isInteger, "\(dtype)") }
    }
}
