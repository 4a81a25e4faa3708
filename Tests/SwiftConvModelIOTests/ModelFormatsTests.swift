import SwiftConvIR
import SwiftConvModelIO
import SwiftConvONNX
import SwiftConvTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private final class Owner {}

/// A one-node ONNX model: y = Relu(x).
private func reluModel() -> Model {
    makeModel(
        [Node(name: "act", opType: "Relu", inputs: ["x"], outputs: ["y"])],
        inputs: [tensorInfo("x", .float32, [d(2), d(3)])], outputs: ["y"])
}

/// The first bytes of a TFLite FlatBuffer: a root offset, then the file identifier.
private let tfliteHeader: [UInt8] = [0x1c, 0, 0, 0] + Array("TFL3".utf8) + [UInt8](repeating: 0, count: 24)

private func modelFormatMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as SwiftConvError where error.kind == .modelFormat {
        return error.message
    } catch {
        return "unexpected \(error)"
    }
}

private func temporaryDirectory() throws -> String {
    var template = Array("/tmp/swiftconv-modelio-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        throw SwiftConvError.io("mkdtemp failed")
    }
    return String(cString: template.map { UInt8(bitPattern: $0) })
}

@Test func everyFormatRegistersOnceAndOneFormatIsTheFallback() throws {
    for format in ModelFormat.allCases {
        #expect(ModelFormats.registered.filter { $0.format == format }.count == 1, "\(format)")
        #expect(try ModelFormats.codec(for: format).format == format)
    }
    #expect(ModelFormats.registered.filter { $0.signature == nil }.map(\.format) == [.onnx])
}

@Test func formatsAreDetectedByMagicBytesNotBySuffix() throws {
    #expect(try tfliteHeader.withUnsafeBytes { try ModelFormats.detect($0) }.format == .tflite)
    let onnx = try ONNXWriter.serialize(reluModel())
    #expect(try onnx.withUnsafeBytes { try ModelFormats.detect($0) }.format == .onnx)
    // Too short to hold the identifier: not TFLite, whatever its first bytes.
    let short: [UInt8] = [0x1c, 0, 0, 0, 0x54, 0x46, 0x4c]
    #expect(try short.withUnsafeBytes { try ModelFormats.detect($0) }.format == .onnx)
    #expect(MagicBytes(offset: Int.max, "TFL3").matches(UnsafeRawBufferPointer(start: nil, count: 0)) == false)
}

@Test func suffixesNameTheirFormat() {
    #expect(ModelFormats.codec(forPath: "out/model.tflite")?.format == .tflite)
    #expect(ModelFormats.codec(forPath: "MODEL.ONNX")?.format == .onnx)
    #expect(ModelFormats.codec(forPath: "model.bin") == nil)
}

@Test func aMalformedTFLiteFileIsAModelFormatErrorNamingTheFormat() {
    let message = modelFormatMessage {
        _ = try tfliteHeader.withUnsafeBytes { try ModelFormats.load(bytes: $0, owner: Owner(), baseDirectory: nil) }
    }
    #expect(message?.hasPrefix("TFLite: ") == true)
}

@Test func aModelIsWrittenByItsOwnFormat() throws {
    let model = reluModel()
    let bytes = try ModelFormats.serialize(model)
    #expect(bytes == (try ONNXWriter.serialize(model)))
    let back = try bytes.withUnsafeBytes { try ModelFormats.load(bytes: $0, owner: Owner(), baseDirectory: nil) }
    #expect(back.format == .onnx)
    #expect(back.graph.nodes.map(\.opType) == ["Relu"])

    // The TFLite writer takes only tflite-domain nodes, and names the others.
    var tflite = model
    tflite.format = .tflite
    #expect {
        _ = try ModelFormats.serialize(tflite)
    } throws: { error in
        guard let e = error as? SwiftConvError, e.kind == .unsupportedOp else { return false }
        return e.message.contains("TFLite") && e.message.contains("Relu")
    }
}

@Test func saveReplacesTheFileWholeAndAFailedSaveLeavesItAlone() throws {
    let dir = try temporaryDirectory()
    let path = dir + "/m.onnx"
    defer {
        unlink(path)
        rmdir(dir)
    }
    try ModelFormats.save(reluModel(), to: path)
    let loaded = try ModelFormats.load(path: path)
    #expect(loaded.graph.nodes.map(\.name) == ["act"])
    let before = try FileBuffer(path: path).bytes.count

    var tflite = reluModel()
    tflite.format = .tflite
    #expect(modelFormatMessage { try ModelFormats.save(tflite, to: path) } != nil)
    #expect(try FileBuffer(path: path).bytes.count == before)
}
