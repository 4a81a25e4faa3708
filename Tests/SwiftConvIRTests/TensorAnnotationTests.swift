import SwiftConvIR
import Testing

// A tensor's docString, metadata, external-data reference and quantization live in one
// shared box that is copied before a write: copies must still behave as independent values.

private func small() -> Tensor { Tensor(name: "w", dtype: .float32, shape: [2], values: [Float(1), 2]) }

@Test func annotationsDefaultToEmpty() {
    let t = small()
    #expect(t.docString.isEmpty)
    #expect(t.metadata.isEmpty)
    #expect(t.externalData == nil)
    #expect(t.quantization == nil)
}

@Test func annotationsAreSetAndRead() {
    var t = small()
    t.docString = "weights"
    t.metadata.append(MetadataEntry("k", "v"))
    t.externalData = ExternalDataReference(location: "w.bin", offset: 16, length: 8)
    t.quantization = QuantParams(scale: 0.5, zeroPoint: 3, storageType: .uint8)
    #expect(t.docString == "weights")
    #expect(t.metadata == [MetadataEntry("k", "v")])
    #expect(t.externalData == ExternalDataReference(location: "w.bin", offset: 16, length: 8))
    #expect(t.quantization == QuantParams(scale: 0.5, zeroPoint: 3, storageType: .uint8))
    t.quantization = nil
    #expect(t.quantization == nil)
    #expect(t.docString == "weights")
}

@Test func writingACopysAnnotationsLeavesTheOriginal() {
    var a = small()
    a.docString = "a"
    a.metadata = [MetadataEntry("k", "a")]
    var b = a
    b.docString = "b"
    b.metadata.append(MetadataEntry("k2", "b"))
    b.quantization = QuantParams(scale: 2, zeroPoint: 0, storageType: .int8)
    #expect(a.docString == "a")
    #expect(a.metadata == [MetadataEntry("k", "a")])
    #expect(a.quantization == nil)
    #expect(b.docString == "b")
    #expect(b.metadata == [MetadataEntry("k", "a"), MetadataEntry("k2", "b")])
    // The other way round: the original written after the copy.
    var c = b
    b.externalData = ExternalDataReference(location: "x")
    #expect(c.externalData == nil)
    c.docString = ""
    #expect(b.docString == "b")
}
