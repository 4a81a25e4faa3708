import SwiftConvIR

/// TFLite layout builtins through the engine's shape machinery. They move elements of any
/// dtype as they are, so quantized int8 tensors keep their bytes (and the declared
/// quantization of the output value describes them).
enum TFLiteShapeKernels {
    static func register(into r: inout KernelRegistry) {
        // The shape input wins when it is a 1-D tensor; `new_shape` serves models without it.
        // Unlike ONNX, 0 is a real zero-sized dimension; one -1 is inferred.
        r.registerTFLite("RESHAPE") { ctx in
            let option = ctx.ints("new_shape")?.map { Int(truncatingIfNeeded: $0) }
            return TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                let spec: [Int]
                if let t = inputs.optionalTensor(1), t.rank == 1 || option == nil {
                    spec = try intValues(t, "shape")
                } else if let option {
                    spec = option
                } else {
                    throw kernelError("RESHAPE needs a shape input or new_shape")
                }
                return [.tensor(x.reshaped(try reshapeTarget(x.shape, spec, allowZero: true)))]
            }
        }
        r.registerTFLite("TRANSPOSE") { _ in
            TFLiteKernel { inputs, context in
                let perm = try intValues(inputs.tensor(1), "perm")
                return try TransposeKernel(perm: perm).run([inputs[0]], context)
            }
        }
        r.registerTFLite("CONCATENATION") { ctx in
            try ctx.requireSharedQuantization()
            let act = try TFLiteFusedActivation(ctx)
            let k = ConcatKernel(axis: ctx.int("axis", default: 0))
            return TFLiteKernel { inputs, context in
                let out = try k.run(inputs, context).outputTensor(0)
                return [.tensor(try act.apply(out, context.threads))]
            }
        }
        // An empty squeeze_dims drops every size-1 dimension.
        r.registerTFLite("SQUEEZE") { ctx in
            let dims = (ctx.ints("squeeze_dims") ?? []).map { Int(truncatingIfNeeded: $0) }
            return SqueezeKernel(constAxes: dims.isEmpty ? nil : dims, axesInput: false)
        }
        r.registerTFLite("EXPAND_DIMS") { _ in
            TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                let axis = try intValues(inputs.tensor(1), "axis")
                guard axis.count == 1 else { throw kernelError("EXPAND_DIMS: axis must hold one value") }
                let a = try normalizeAxis(Int64(axis[0]), rank: x.rank + 1)
                var shape = x.shape
                shape.insert(1, at: a)
                return [.tensor(x.reshaped(shape))]
            }
        }
        r.registerTFLite("PACK") { ctx in
            try ctx.requireSharedQuantization()
            let axis = ctx.int("axis", default: 0)
            return TFLiteKernel { inputs, _ in
                let ts = try (0..<inputs.count).map { try inputs.tensor($0) }
                guard let first = ts.first else { throw kernelError("PACK needs at least one input") }
                let a = try normalizeAxis(axis, rank: first.rank + 1)
                for t in ts where t.shape != first.shape {
                    throw kernelError("PACK: input shapes \(first.shape) and \(t.shape) differ")
                }
                var unit = first.shape
                unit.insert(1, at: a)
                return [.tensor(try concatenate(ts.map { $0.reshaped(unit) }, axis: a))]
            }
        }
        r.registerTFLite("UNPACK") { ctx in
            let axis = ctx.int("axis", default: 0)
            let outputs = ctx.node.outputs.count
            return TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                let a = try normalizeAxis(axis, rank: x.rank)
                guard x.shape[a] == outputs else {
                    throw kernelError("UNPACK: axis \(a) has \(x.shape[a]) entries for \(outputs) outputs")
                }
                var shape = x.shape
                shape.remove(at: a)
                return try (0..<outputs).map { i in .tensor(try sliceAlongAxis(x, axis: a, start: i, count: 1).reshaped(shape)) }
            }
        }
        // SPLIT's axis is input 0 and the tensor input 1; the outputs share it evenly.
        r.registerTFLite("SPLIT") { ctx in
            let outputs = ctx.node.outputs.count
            return TFLiteKernel { inputs, _ in
                let axis = try intValues(inputs.tensor(0), "axis"), x = try inputs.tensor(1)
                guard axis.count == 1 else { throw kernelError("SPLIT: axis must hold one value") }
                let a = try normalizeAxis(Int64(axis[0]), rank: x.rank)
                guard outputs > 0, x.shape[a] % outputs == 0 else {
                    throw kernelError("SPLIT: axis \(a) of size \(x.shape[a]) does not split into \(outputs) equal parts")
                }
                return try splitTensor(x, axis: a, sizes: Array(repeating: x.shape[a] / outputs, count: outputs))
            }
        }
        // SPLIT_V: sizes (one may be -1: the rest) then axis.
        r.registerTFLite("SPLIT_V") { ctx in
            let outputs = ctx.node.outputs.count
            return TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                var sizes = try intValues(inputs.tensor(1), "size_splits")
                let axis = try intValues(inputs.tensor(2), "axis")
                guard axis.count == 1 else { throw kernelError("SPLIT_V: axis must hold one value") }
                let a = try normalizeAxis(Int64(axis[0]), rank: x.rank)
                guard sizes.count == outputs, sizes.filter({ $0 == -1 }).count <= 1, sizes.allSatisfy({ $0 >= -1 }) else {
                    throw kernelError("SPLIT_V: size_splits \(sizes) does not fit \(outputs) outputs")
                }
                let known = try sizes.filter { $0 >= 0 }.reduce(0) { try Checked.add($0, $1, "size_splits") }
                if let i = sizes.firstIndex(of: -1) { sizes[i] = x.shape[a] - known }
                guard sizes.allSatisfy({ $0 >= 0 }), try sizes.reduce(0, { try Checked.add($0, $1, "size_splits") }) == x.shape[a] else {
                    throw kernelError("SPLIT_V: size_splits \(sizes) do not add up to \(x.shape[a])")
                }
                return try splitTensor(x, axis: a, sizes: sizes)
            }
        }
        r.registerTFLite("SHAPE") { ctx in
            let declared = ctx.outputTypes.first??.tensorElementType
            let wide = declared == .int64 || (declared != .int32 && TFLiteTensorType.dtype(ctx.string("out_type", default: "")) == .int64)
            return TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                if wide { return [.tensor(Tensor.from(x.shape.map { Int64($0) }))] }
                guard x.shape.allSatisfy({ $0 <= Int(Int32.max) }) else { throw kernelError("SHAPE: a dimension does not fit int32") }
                return [.tensor(Tensor.from(x.shape.map { Int32($0) }))]
            }
        }
        r.registerTFLite("FILL") { _ in
            TFLiteKernel { inputs, _ in
                let dims = try intValues(inputs.tensor(0), "dims"), value = try inputs.tensor(1)
                guard value.elementCount == 1 else { throw kernelError("FILL: value must be a scalar") }
                guard dims.allSatisfy({ $0 >= 0 }) else { throw kernelError("FILL: negative dimension in \(dims)") }
                let out = try Tensor.allocate(value.dtype, dims)
                try fillElements(out, with: value)
                return [.tensor(out)]
            }
        }
        r.registerTFLite("ZEROS_LIKE") { _ in
            TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                return [.tensor(try Tensor.zeros(x.dtype, x.shape))]
            }
        }
        r.registerTFLite("ONES_LIKE") { _ in
            TFLiteKernel { inputs, _ in
                let x = try inputs.tensor(0)
                let out = try Tensor.allocate(x.dtype, x.shape)
                try fillElements(out, with: scalarTensor(x.dtype, 1))
                return [.tensor(out)]
            }
        }
        // BROADCAST_TO goes one way: the result has exactly the target shape.
        r.registerTFLite("BROADCAST_TO") { _ in
            TFLiteKernel { inputs, context in
                let target = try intValues(inputs.tensor(1), "shape")
                let out = try ExpandKernel(constShape: target).run([inputs[0]], context).outputTensor(0)
                guard out.shape == target else {
                    throw kernelError("BROADCAST_TO: cannot broadcast \(try inputs.tensor(0).shape) to \(target)")
                }
                return [.tensor(out)]
            }
        }
        r.registerTFLite("TILE") { _ in
            TFLiteKernel { inputs, context in
                try TileKernel(constRepeats: intValues(inputs.tensor(1), "multiples")).run([inputs[0]], context)
            }
        }
        r.registerTFLite("RANGE") { _ in RangeKernel() }
    }

    /// `x` cut along `axis` into consecutive parts of `sizes` (which add up to the axis).
    static func splitTensor(_ x: Tensor, axis a: Int, sizes: [Int]) throws -> [Value] {
        var start = 0
        return try sizes.map { n in
            defer { start += n }
            return .tensor(try sliceAlongAxis(x, axis: a, start: start, count: n))
        }
    }
}
