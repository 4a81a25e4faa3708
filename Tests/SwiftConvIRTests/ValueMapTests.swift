import SwiftConvIR
import Testing

@Test func valueMapJSONRoundTripsAndStoresPerFormat() throws {
    var map = ValueMap()
    map.set("conv/out", ValueMap.Entry(source: "a\"b\\c\n", perm: [0, 3, 1, 2]))
    map.set("y", ValueMap.Entry(source: "y"))
    let back = try ValueMap(json: map.json)
    #expect(back == map)
    #expect(back.names == ["conv/out", "y"])
    #expect(try ValueMap(json: #"{"x": {"source": "\u00e9", "perm": null, "later": [1, "a"]}}"#)["x"] == ValueMap.Entry(source: "é"))

    var onnx = Model(format: .onnx, graph: Graph(), opsetImports: [])
    map.store(in: &onnx)
    #expect(onnx.metadata.map(\.key) == [ValueMap.metadataKey])
    #expect(try ValueMap(model: onnx) == map)
    var tflite = Model(format: .tflite, graph: Graph(), opsetImports: [])
    map.store(in: &tflite)
    #expect(tflite.metadata.map(\.key) == [ValueMap.tfliteMetadataKey])
    #expect(try ValueMap(model: tflite) == map)
    #expect(try ValueMap(model: Model(format: .onnx, graph: Graph(), opsetImports: [])) == nil)
}

@Test func valueMapRejectsMalformedJSON() {
    for bad in [#"{"x": {"perm": [0]}}"#, #"{"x": {"source": "s", "perm": [0, 0]}}"#, #"{"x": "s"}"#, "{", #"{"x": {"source": "s"}} x"#] {
        #expect(throws: SwiftConvError.self, "\(bad)") { try ValueMap(json: bad) }
    }
}

/// derive composes permutations: new = transpose(old, p) with old = transpose(s, q).
@Test func valueMapDeriveComposesPermutations() {
    var map = ValueMap()
    map.set("nhwc", ValueMap.Entry(source: "src"))
    map.derive("nchw", from: "nhwc", perm: [0, 3, 1, 2])
    #expect(map["nchw"] == ValueMap.Entry(source: "src", perm: [0, 3, 1, 2]))
    map.derive("back", from: "nchw", perm: [0, 2, 3, 1])
    #expect(map["back"] == ValueMap.Entry(source: "src"))
    map.derive("copy", from: "unknown")
    #expect(map["copy"] == nil)
    map.filter { $0 != "nhwc" }
    #expect(map.names == ["nchw", "back"])
}
