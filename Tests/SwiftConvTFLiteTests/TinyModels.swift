import SwiftConvFlatBuffers
import SwiftConvIR
import SwiftConvTFLite
import TFLiteSchema

/// Small .tflite files written field by field with the FlatBuffers builder (not with the
/// exporter under test), so that tests can put any index, size or cycle into them.
struct TinyModel {
    struct TensorSpec {
        var name: String
        var shape: [Int32]
        var type: TensorType = .FLOAT32
        var buffer: UInt32 = 0
        var signature: [Int32]? = nil
        var scale: [Float]? = nil
        var zeroPoint: [Int64]? = nil
        var axis: Int32 = 0
    }
    struct OpSpec {
        var opcode: UInt32
        var inputs: [Int32]
        var outputs: [Int32]
        /// For WHILE: (cond, body) subgraph indices.
        var whileSubgraphs: (Int32, Int32)? = nil
        /// For ADD: the fused activation (an ActivationFunctionType value).
        var addActivation: Int8? = nil
    }
    struct SubgraphSpec {
        var tensors: [TensorSpec]
        var inputs: [Int32]
        var outputs: [Int32]
        var ops: [OpSpec]
    }
    var opcodes: [(code: Int32, custom: String?)] = [(BuiltinOperator.ADD.rawValue, nil)]
    var buffers: [[UInt8]] = [[]]
    var subgraphs: [SubgraphSpec]
    var version: UInt32 = 3

    /// y = x + c with c = [1, 2] constant (buffer 1), fused RELU.
    static func add() -> TinyModel {
        let c: [Float] = [1, 2]
        return TinyModel(
            buffers: [[], c.withUnsafeBytes { Array($0) }],
            subgraphs: [
                SubgraphSpec(
                    tensors: [
                        TensorSpec(name: "x", shape: [1, 2], signature: [-1, 2]), TensorSpec(name: "c", shape: [2], buffer: 1),
                        TensorSpec(name: "y", shape: [1, 2]),
                    ],
                    inputs: [0], outputs: [2], ops: [OpSpec(opcode: 0, inputs: [0, 1], outputs: [2], addActivation: 1)])
            ])
    }

    func bytes() throws -> [UInt8] {
        var b = FlatBufferBuilder()
        var subgraphOffsets: [FBOffset] = []
        for sg in subgraphs {
            var tensors: [FBOffset] = []
            for t in sg.tensors {
                let shape = b.createVector(t.shape)
                let signature = t.signature.map { b.createVector($0) }
                let name = b.createString(t.name)
                var quant: FBOffset?
                if let scale = t.scale {
                    let s = b.createVector(scale)
                    let z = b.createVector(t.zeroPoint ?? [])
                    b.startTable(fieldCount: QuantizationParameters.slotCount)
                    b.add(field: 2, offset: s)
                    b.add(field: 3, offset: z)
                    b.add(field: 6, t.axis, default: 0)
                    quant = b.endTable()
                }
                b.startTable(fieldCount: TFLiteSchema.Tensor.slotCount)
                b.add(field: 0, offset: shape)
                b.add(field: 1, t.type.rawValue, default: 0)
                b.add(field: 2, t.buffer, default: 0)
                b.add(field: 3, offset: name)
                if let quant { b.add(field: 4, offset: quant) }
                if let signature { b.add(field: 7, offset: signature) }
                tensors.append(b.endTable())
            }
            var ops: [FBOffset] = []
            for op in sg.ops {
                var options: (UInt8, FBOffset)?
                if let (cond, body) = op.whileSubgraphs {
                    b.startTable(fieldCount: 2)
                    b.add(field: 0, cond, default: 0)
                    b.add(field: 1, body, default: 0)
                    options = (BuiltinOptions.WhileOptions.rawValue, b.endTable())
                } else if let act = op.addActivation {
                    b.startTable(fieldCount: 2)
                    b.add(field: 0, act, default: 0)
                    options = (BuiltinOptions.AddOptions.rawValue, b.endTable())
                }
                let inputs = b.createVector(op.inputs)
                let outputs = b.createVector(op.outputs)
                b.startTable(fieldCount: Operator.slotCount)
                b.add(field: 0, op.opcode, default: 0)
                b.add(field: 1, offset: inputs)
                b.add(field: 2, offset: outputs)
                if let options {
                    b.add(field: 3, options.0, default: 0)
                    b.add(field: 4, offset: options.1)
                }
                ops.append(b.endTable())
            }
            let tv = b.createVector(offsets: tensors)
            let iv = b.createVector(sg.inputs)
            let ov = b.createVector(sg.outputs)
            let opv = b.createVector(offsets: ops)
            b.startTable(fieldCount: SubGraph.slotCount)
            b.add(field: 0, offset: tv)
            b.add(field: 1, offset: iv)
            b.add(field: 2, offset: ov)
            b.add(field: 3, offset: opv)
            subgraphOffsets.append(b.endTable())
        }
        let codes = opcodes.map { c -> FBOffset in
            let custom = c.custom.map { b.createString($0) }
            b.startTable(fieldCount: OperatorCode.slotCount)
            b.add(field: 0, Int8(clamping: min(c.code, 127)), default: 0)
            if let custom { b.add(field: 1, offset: custom) }
            b.add(field: 3, c.code, default: 0)
            return b.endTable()
        }
        let buffers = self.buffers.map { data -> FBOffset in
            let v = data.isEmpty ? nil : data.withUnsafeBytes { b.createBytes($0, alignment: 16) }
            b.startTable(fieldCount: TFLiteSchema.Buffer.slotCount)
            if let v { b.add(field: 0, offset: v) }
            return b.endTable()
        }
        let cv = b.createVector(offsets: codes)
        let sv = b.createVector(offsets: subgraphOffsets)
        let bv = b.createVector(offsets: buffers)
        b.startTable(fieldCount: TFLiteSchema.Model.slotCount)
        b.add(field: 0, version, default: 0)
        b.add(field: 1, offset: cv)
        b.add(field: 2, offset: sv)
        b.add(field: 4, offset: bv)
        let root = b.endTable()
        return try b.finish(root: root, fileIdentifier: "TFL3")
    }

    /// The imported model, or the error the importer gives.
    func load() throws -> SwiftConvIR.Model {
        let data = try bytes()
        return try TFLiteModelLoading.load(data)
    }
}

enum TFLiteModelLoading {
    static func load(_ data: [UInt8]) throws -> SwiftConvIR.Model {
        try data.withUnsafeBytes { try TFLiteImporter.load(bytes: $0, owner: Box(data)) }
    }
}
