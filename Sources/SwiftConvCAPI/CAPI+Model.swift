import CSwiftConv
import SwiftConvIR
import SwiftConvModelIO

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The object behind `sc_model *`. Only `sc_model_infer_shapes` mutates `model`,
/// and the header forbids running it concurrently with other calls on the handle.
final class ModelBox: @unchecked Sendable {
    var model: Model
    let format: UnsafeMutablePointer<CChar>

    init(_ model: Model) {
        self.model = model
        format = cString(model.format.rawValue)
    }

    deinit { free(format) }
}

private func cPath(_ path: UnsafePointer<CChar>?) throws -> String {
    let path = try required(path, "path")
    let text = String(cString: path)
    guard !text.isEmpty else { throw SwiftConvError.invalidArgument("path must not be empty") }
    return text
}

@_cdecl("sc_model_load_file")
public func scModelLoadFile(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let out = try required(out, "out")
        let path = try cPath(path)
        // Read once (a regular file only, so a FIFO cannot block us); the registry sniffs that buffer.
        let model = try ModelFormats.load(path: path)
        out.pointee = retainedHandle(ModelBox(model))
    }
}

@_cdecl("sc_model_load_bytes")
public func scModelLoadBytes(
    _ data: UnsafeRawPointer?, _ size: Int, _ owner: UnsafeMutableRawPointer?,
    _ release: sc_release_fn?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    let borrowed = BorrowedRelease(release, owner: owner)
    return withStatus {
        let out = try required(out, "out")
        guard size == 0 || data != nil else { throw SwiftConvError.invalidArgument("data must not be NULL") }
        let raw = UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
        // Borrowed bytes stay alive through the storage, which releases them when the last weight goes.
        let storage =
            release == nil
            ? TensorStorage(copying: raw) : TensorStorage(external: raw, release: borrowed.take())
        let model = try ModelFormats.load(bytes: storage.bytes, owner: storage, baseDirectory: nil)
        out.pointee = retainedHandle(ModelBox(model))
    }
}

@_cdecl("sc_model_release")
public func scModelRelease(_ model: OpaquePointer?) {
    releaseHandle(model, as: ModelBox.self)
}

@_cdecl("sc_model_format")
public func scModelFormat(_ model: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let model else { return nil }
    return UnsafePointer(object(model, as: ModelBox.self).format)
}

/// Runs `body` on the model behind a handle, producing a buffer handle in `out`.
private func bufferResult(
    _ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
    _ body: (Model) throws -> [UInt8]
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let out = try required(out, "out")
        let bytes = try body(box.model)
        out.pointee = retainedHandle(BufferBox(bytes))
    }
}

@_cdecl("sc_model_info_json")
public func scModelInfoJSON(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    bufferResult(model, out) { ModelInfo.json($0) }
}

@_cdecl("sc_model_serialize")
public func scModelSerialize(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    bufferResult(model, out) { try ModelFormats.serialize($0) }
}

@_cdecl("sc_model_save")
public func scModelSave(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let path = try cPath(path)
        try ModelFormats.save(box.model, to: path)
    }
}

@_cdecl("sc_model_check")
public func scModelCheck(_ model: OpaquePointer?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        try ModelChecker.check(box.model)
    }
}

@_cdecl("sc_model_summary")
public func scModelSummary(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    bufferResult(model, out) { Array(ModelText.summary($0).utf8) }
}

@_cdecl("sc_model_printable_graph")
public func scModelPrintableGraph(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    bufferResult(model, out) { Array(ModelText.printableGraph($0).utf8) }
}

@_cdecl("sc_model_get_initializer")
public func scModelGetInitializer(
    _ model: OpaquePointer?, _ name: UnsafePointer<CChar>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let name = String(cString: try required(name, "name"))
        let out = try required(out, "out")
        guard let tensor = box.model.graph.initializer(named: name) else {
            throw SwiftConvError.invalidArgument("[get_initializer] no initializer named '\(name)'")
        }
        // The tensor shares the storage (and so the file buffer) with the model; no copy.
        out.pointee = retainedHandle(TensorBox(tensor))
    }
}

@_cdecl("sc_model_infer_shapes")
public func scModelInferShapes(_ model: OpaquePointer?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        var copy = box.model
        try ShapeInference.infer(&copy)
        // Only a successful inference replaces the model, so a failure leaves it as it was.
        box.model = copy
    }
}
