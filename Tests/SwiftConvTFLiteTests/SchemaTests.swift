import SwiftConvFlatBuffers
import TFLiteSchema
import Testing

/// The generated descriptors agree with schema.fbs on a few known facts.
@Test func generatedDescriptorsKnowConv2D() throws {
    let conv = try #require(BuiltinOptionsTables.table(forOperator: BuiltinOperator.CONV_2D.rawValue))
    #expect(conv.name == "Conv2DOptions")
    #expect(conv.fields.map(\.name).first == "padding")
    let pool = try #require(BuiltinOptionsTables.table(forOperator: BuiltinOperator.MAX_POOL_2D.rawValue))
    #expect(pool.name == "Pool2DOptions")
    #expect(BuiltinOperator(rawValue: 1_000_000).name == nil)
    #expect(BuiltinOperator(name: "WHILE") == .WHILE)
}
