import SwiftConvIR

#if canImport(Glibc)
    import Glibc
#endif

/// TFLite arithmetic, math, comparison, logical and selection builtins, through the
/// engine's elementwise, logical and cast kernels: numpy broadcasting, the arithmetic ones
/// with their `fused_activation_function`.
enum TFLiteElementwiseKernels {
    static func register(into r: inout KernelRegistry) {
        for (op, fn) in [("ADD", BinaryArithmetic.Op.add), ("SUB", .sub), ("MUL", .mul), ("DIV", .div)] {
            r.registerTFLite(op) { ctx in
                try ctx.requireUnquantizedInputs()
                let act = try TFLiteFusedActivation(ctx)
                return TFLiteKernel { inputs, context in
                    let (a, b) = try sameTypePair(inputs)
                    return [.tensor(try act.apply(BinaryArithmetic.apply(fn, a, b, context.threads), context.threads))]
                }
            }
        }
        r.registerTFLite("SQUARED_DIFFERENCE") { ctx in
            try ctx.requireUnquantizedInputs()
            return TFLiteKernel { inputs, context in
                let (a, b) = try sameTypePair(inputs)
                let d = try BinaryArithmetic.apply(.sub, a, b, context.threads)
                return [.tensor(try BinaryArithmetic.apply(.mul, d, d, context.threads))]
            }
        }
        for (op, fn) in [("MAXIMUM", VariadicKernel.Op.max), ("MINIMUM", .min)] {
            r.registerTFLite(op) { ctx in
                try ctx.requireUnquantizedInputs()
                let k = VariadicKernel(op: fn)
                return TFLiteKernel { inputs, context in
                    let (a, b) = try sameTypePair(inputs)
                    return try k.run([.tensor(a), .tensor(b)], context)
                }
            }
        }
        r.registerTFLite("POW") { ctx in
            try ctx.requireUnquantizedInputs()
            let k = PowKernel()
            return TFLiteKernel { inputs, context in
                let (a, b) = try sameTypePair(inputs)
                return try k.run([.tensor(a), .tensor(b)], context)
            }
        }
        r.registerTFLite("FLOOR_DIV") { ctx in
            try ctx.requireUnquantizedInputs()
            return TFLiteKernel { inputs, context in
                let (a, b) = try sameTypePair(inputs)
                return [.tensor(try floorDivide(a, b, context.threads))]
            }
        }
        // TFLite's FLOOR_MOD is Python's %: the remainder takes the divisor's sign.
        r.registerTFLite("FLOOR_MOD") { ctx in
            try ctx.requireUnquantizedInputs()
            let k = ModKernel(fmod: false)
            return TFLiteKernel { inputs, context in
                let (a, b) = try sameTypePair(inputs)
                return try k.run([.tensor(a), .tensor(b)], context)
            }
        }

        for (op, fn) in [("ABS", SignedUnaryOp.abs), ("NEG", .neg), ("SIGN", .sign)] {
            r.registerTFLite(op) { ctx in
                try ctx.requireUnquantizedInputs()
                return SignedUnaryKernel(op: fn)
            }
        }
        // TFLite's ROUND rounds half to even, like ONNX's Round.
        let floatOps: [(String, FloatUnaryOp)] = [
            ("SQRT", .sqrt), ("EXP", .exp), ("LOG", .log), ("SIN", .sin), ("COS", .cos), ("FLOOR", .floor),
            ("CEIL", .ceil), ("ROUND", .round),
        ]
        for (op, fn) in floatOps {
            r.registerTFLite(op) { ctx in
                try ctx.requireUnquantizedInputs()
                return TFLiteActivationKernels.floatUnary(FloatUnaryKernel(op: fn))
            }
        }
        r.registerTFLite("RSQRT") { ctx in
            try ctx.requireUnquantizedInputs()
            return TFLiteKernel { inputs, context in
                [.tensor(try unaryFloat32(TFLiteActivationKernels.floatInput(inputs), context.threads) { 1 / $0.squareRoot() })]
            }
        }
        r.registerTFLite("SQUARE") { ctx in
            try ctx.requireUnquantizedInputs()
            return TFLiteKernel { inputs, context in
                let x = try inputs.tensor(0)
                return [.tensor(try BinaryArithmetic.apply(.mul, x, x, context.threads))]
            }
        }
        r.registerTFLite("CAST") { ctx in
            // The declared output type is the file's; `out_data_type` is the fallback.
            guard
                let to = ctx.outputTypes.first??.tensorElementType.flatMap({ $0 == .undefined ? nil : $0 })
                    ?? TFLiteTensorType.dtype(ctx.string("out_data_type", default: ""))
            else { throw ctx.invalid("CAST needs a known output type") }
            return TFLiteKernel { inputs, context in
                [.tensor(try castTensor(inputs.tensor(0), to: to, threads: context.threads))]
            }
        }

        let comparisons: [(String, CompareKernel.Op)] = [
            ("EQUAL", .equal), ("LESS", .less), ("LESS_EQUAL", .lessOrEqual), ("GREATER", .greater),
            ("GREATER_EQUAL", .greaterOrEqual),
        ]
        for (op, fn) in comparisons {
            r.registerTFLite(op) { ctx in
                try ctx.requireUnquantizedInputs()
                return CompareKernel(op: fn)
            }
        }
        r.registerTFLite("NOT_EQUAL") { ctx in
            try ctx.requireUnquantizedInputs()
            let equal = CompareKernel(op: .equal), not = BooleanKernel(op: .not)
            return TFLiteKernel { inputs, context in try not.run(equal.run(inputs, context).map { $0 }, context) }
        }
        r.registerTFLite("LOGICAL_AND") { _ in BooleanKernel(op: .and) }
        r.registerTFLite("LOGICAL_OR") { _ in BooleanKernel(op: .or) }
        r.registerTFLite("LOGICAL_NOT") { _ in BooleanKernel(op: .not) }

        r.registerTFLite("SELECT_V2") { _ in WhereKernel() }
        // SELECT (v1): a 1-D condition over a higher-rank x picks whole slices along axis 0.
        r.registerTFLite("SELECT") { _ in
            let k = WhereKernel()
            return TFLiteKernel { inputs, context in
                var c = try inputs.tensor(0)
                let x = try inputs.tensor(1), y = try inputs.tensor(2)
                guard x.shape == y.shape else { throw kernelError("SELECT: x \(x.shape) and y \(y.shape) differ in shape") }
                if c.shape != x.shape {
                    guard c.rank == 1, x.rank >= 1, c.shape[0] == x.shape[0] else {
                        throw kernelError("SELECT: condition \(c.shape) fits neither x \(x.shape) nor its first axis")
                    }
                    c = c.reshaped([c.shape[0]] + Array(repeating: 1, count: x.rank - 1))
                }
                return try k.run([.tensor(c), .tensor(x), .tensor(y)], context)
            }
        }
        r.registerTFLite("ADD_N") { ctx in
            try ctx.requireUnquantizedInputs()
            let k = VariadicKernel(op: .sum)
            return TFLiteKernel { inputs, context in
                let ts = try (0..<inputs.count).map { try inputs.tensor($0) }
                guard let first = ts.first, ts.allSatisfy({ $0.shape == first.shape }) else {
                    throw kernelError("ADD_N: inputs must all have one shape")
                }
                return try k.run(inputs, context)
            }
        }
    }

    /// Inputs 0 and 1, which must share an element type (TFLite does not promote).
    static func sameTypePair(_ inputs: [Value?]) throws -> (Tensor, Tensor) {
        let a = try inputs.tensor(0), b = try inputs.tensor(1)
        guard a.dtype == b.dtype else { throw kernelError("input types differ: \(a.dtype) and \(b.dtype)") }
        return (a, b)
    }

    /// `floor(a / b)`: floats divide then floor (TFLite's FloorDiv); integers round toward
    /// negative infinity, and a zero divisor is an error (TFLite refuses it too).
    static func floorDivide(_ a: Tensor, _ b: Tensor, _ threads: ThreadPool) throws -> Tensor {
        switch a.dtype {
        case .float32:
            return try binaryMap(a, b, Float.self, Float.self, .float32, threads) { (x: Float, y: Float) -> Float in (x / y).rounded(.down)
            }
        case .int32: return try integerFloorDivide(a, b, Int32.self, threads)
        case .int64: return try integerFloorDivide(a, b, Int64.self, threads)
        case .int16: return try integerFloorDivide(a, b, Int16.self, threads)
        case .int8: return try integerFloorDivide(a, b, Int8.self, threads)
        default: throw kernelUnsupported("FLOOR_DIV on \(a.dtype)")
        }
    }

    static func integerFloorDivide<T: FixedWidthInteger & SignedInteger>(
        _ a: Tensor, _ b: Tensor, _: T.Type, _ threads: ThreadPool
    ) throws -> Tensor {
        let zero = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
        zero.initialize(to: false)
        defer { zero.deallocate() }
        let out = try binaryMap(a, b, T.self, T.self, a.dtype, threads) { (x: T, y: T) -> T in
            if y == 0 {
                zero.pointee = true
                return 0
            }
            let q = x.dividedReportingOverflow(by: y).partialValue
            let r = x.remainderReportingOverflow(dividingBy: y).partialValue
            return r != 0 && (r < 0) != (y < 0) ? q &- 1 : q
        }
        if zero.pointee { throw kernelError("FLOOR_DIV: integer division by zero") }
        return out
    }
}
