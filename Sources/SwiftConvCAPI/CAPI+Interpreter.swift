import CSwiftConv
import SwiftConvIR

/// The model metadata key the TFLite importer writes the signature defs under (JSON).
private let signatureDefsKey = "tflite.signature_defs"

@_cdecl("sc_interpreter_tensors_json")
public func scInterpreterTensorsJSON(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let out = try required(out, "out")
        let signatures = box.model.metadata.last { $0.key == signatureDefsKey }?.value
        let bytes = InterpreterTensors(box.model).json(signatureDefs: signatures)
        out.pointee = retainedHandle(BufferBox(bytes))
    }
}

@_cdecl("sc_interpreter_model_create")
public func scInterpreterModelCreate(
    _ model: OpaquePointer?, _ inputCount: Int, _ inputNames: UnsafePointer<UnsafePointer<CChar>?>?,
    _ ranks: UnsafePointer<Int>?, _ dims: UnsafePointer<Int64>?, _ preserveAllTensors: Int32,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> OpaquePointer? {
    withStatus {
        let box = object(try required(model, "model"), as: ModelBox.self)
        let out = try required(out, "out")
        guard inputCount >= 0 else { throw SwiftConvError.invalidArgument("n_inputs must be >= 0, not \(inputCount)") }
        guard inputCount == 0 || (inputNames != nil && ranks != nil) else {
            throw SwiftConvError.invalidArgument("input_names and ranks must not be NULL when n_inputs > 0")
        }
        var shapes = [(String, [Int])]()
        var offset = 0
        for i in 0..<inputCount {
            let name = String(cString: try required(inputNames![i], "input_names[\(i)]"))
            let rank = ranks![i]
            let (end, overflow) = offset.addingReportingOverflow(rank)
            guard rank >= 0, !overflow else { throw SwiftConvError.invalidArgument("ranks[\(i)] is \(rank)") }
            guard rank == 0 || dims != nil else { throw SwiftConvError.invalidArgument("dims must not be NULL") }
            var shape = [Int]()
            shape.reserveCapacity(min(rank, 64))
            for k in offset..<end {
                guard let d = Int(exactly: dims![k]) else { throw SwiftConvError.invalidArgument("dims[\(k)] is too large") }
                shape.append(d)
            }
            shapes.append((name, shape))
            offset = end
        }
        let prepared = try InterpreterModel.prepare(box.model, shapes: shapes, preserveAllTensors: preserveAllTensors != 0)
        out.pointee = retainedHandle(ModelBox(prepared))
    }
}
