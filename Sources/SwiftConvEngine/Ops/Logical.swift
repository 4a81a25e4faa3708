import SwiftConvIR

/// Comparisons, boolean logic, IsNaN and IsInf: every output is bool.
enum LogicalKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("Equal", since: [1, 7, 11, 13, 19]) { _ in CompareKernel(op: .equal) }
        r.register("Less", since: [1, 7, 9, 13]) { _ in CompareKernel(op: .less) }
        r.register("Greater", since: [1, 7, 9, 13]) { _ in CompareKernel(op: .greater) }
        r.register("LessOrEqual", since: [12, 16]) { _ in CompareKernel(op: .lessOrEqual) }
        r.register("GreaterOrEqual", since: [12, 16]) { _ in CompareKernel(op: .greaterOrEqual) }
        for (op, fn) in [("And", BooleanKernel.Op.and), ("Or", .or), ("Xor", .xor)] {
            r.register(op, since: [1, 7]) { _ in BooleanKernel(op: fn) }
        }
        r.register("Not", since: [1]) { _ in BooleanKernel(op: .not) }
        r.register("IsNaN", since: [9, 13, 20]) { _ in FloatClassKernel(detectNaN: true, positive: false, negative: false) }
        r.register("IsInf", since: [10, 20]) { ctx in
            FloatClassKernel(
                detectNaN: false, positive: ctx.int("detect_positive", default: 1) != 0,
                negative: ctx.int("detect_negative", default: 1) != 0)
        }
    }
}

/// Equal, Less, Greater, LessOrEqual, GreaterOrEqual with broadcasting; Equal also takes
/// bool and string inputs.
struct CompareKernel: Kernel {
    enum Op { case equal, less, greater, lessOrEqual, greaterOrEqual }
    let op: Op

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var a = try inputs.tensor(0), b = try inputs.tensor(1)
        guard a.dtype == b.dtype else { throw kernelError("input types differ: \(a.dtype) and \(b.dtype)") }
        let threads = context.threads
        if a.dtype == .string {
            guard op == .equal else { throw kernelError("strings can only be compared with Equal") }
            let shape = try broadcastShapes(a.shape, b.shape)
            let layout = BroadcastLayout(outShape: shape, inputShapes: [a.shape, b.shape])
            let out = try Tensor.allocate(.bool, shape)
            let last = layout.shape.count - 1
            out.withMutableElements(as: Bool.self) { po in
                for r in 0..<layout.rows {
                    let ia = layout.offset(row: r, input: 0), ib = layout.offset(row: r, input: 1)
                    for k in 0..<layout.inner {
                        po[r * layout.inner + k] =
                            a.strings[ia + k * layout.strides[0][last]]
                            == b.strings[ib + k * layout.strides[1][last]]
                    }
                }
            }
            return [.tensor(out)]
        }
        if a.dtype == .bool {
            return [.tensor(try compare(a, b, UInt8.self, threads))]
        }
        if a.dtype == .bfloat16 {
            a = try widenedBFloat16(a)
            b = try widenedBFloat16(b)
        }
        struct Visit: NumericVisitor {
            let a: Tensor, b: Tensor, kernel: CompareKernel, threads: ThreadPool
            func visit<T: NumericScalar>(_: T.Type) throws -> Tensor { try kernel.compare(a, b, T.self, threads) }
        }
        guard let out = try dispatchNumeric(a.dtype, Visit(a: a, b: b, kernel: self, threads: threads)) else {
            throw kernelUnsupported("unsupported input type \(a.dtype)")
        }
        return [.tensor(out)]
    }

    func compare<T: Comparable>(_ a: Tensor, _ b: Tensor, _: T.Type, _ threads: ThreadPool) throws -> Tensor {
        switch op {
        case .equal: return try binaryMap(a, b, T.self, T.self, .bool, threads) { (x: T, y: T) -> Bool in x == y }
        case .less: return try binaryMap(a, b, T.self, T.self, .bool, threads) { (x: T, y: T) -> Bool in x < y }
        case .greater: return try binaryMap(a, b, T.self, T.self, .bool, threads) { (x: T, y: T) -> Bool in x > y }
        case .lessOrEqual: return try binaryMap(a, b, T.self, T.self, .bool, threads) { (x: T, y: T) -> Bool in x <= y }
        case .greaterOrEqual: return try binaryMap(a, b, T.self, T.self, .bool, threads) { (x: T, y: T) -> Bool in x >= y }
        }
    }
}

/// And, Or, Xor (broadcasting) and Not on bool tensors.
struct BooleanKernel: Kernel {
    enum Op { case and, or, xor, not }
    let op: Op

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try inputs.tensor(0)
        guard a.dtype == .bool else { throw kernelError("input must be bool, got \(a.dtype)") }
        let threads = context.threads
        if op == .not {
            return [.tensor(try unaryMap(a, Bool.self, .bool, threads) { !$0 })]
        }
        let b = try inputs.tensor(1)
        guard b.dtype == .bool else { throw kernelError("input must be bool, got \(b.dtype)") }
        switch op {
        case .and: return [.tensor(try binaryMap(a, b, Bool.self, Bool.self, .bool, threads) { $0 && $1 })]
        case .or: return [.tensor(try binaryMap(a, b, Bool.self, Bool.self, .bool, threads) { $0 || $1 })]
        case .xor, .not: return [.tensor(try binaryMap(a, b, Bool.self, Bool.self, .bool, threads) { $0 != $1 })]
        }
    }
}

/// IsNaN, and IsInf with its detect_positive/detect_negative switches.
struct FloatClassKernel: Kernel {
    let detectNaN: Bool
    let positive: Bool
    let negative: Bool

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        struct Visit: FloatLaneVisitor {
            let x: Tensor, kernel: FloatClassKernel, threads: ThreadPool
            func visit<L: FloatLane>(_: L.Type) throws -> Tensor {
                if kernel.detectNaN {
                    return try unaryMap(x, L.Storage.self, .bool, threads) { (s: L.Storage) -> Bool in L.load(s).isNaN }
                }
                let (p, n) = (kernel.positive, kernel.negative)
                return try unaryMap(x, L.Storage.self, .bool, threads) { (s: L.Storage) -> Bool in
                    let v = L.load(s)
                    return v.isInfinite && (v > 0 ? p : n)
                }
            }
        }
        if let out = try dispatchFloatLane(x.dtype, Visit(x: x, kernel: self, threads: context.threads)) {
            return [.tensor(out)]
        }
        if let format = DTypeConversion.smallFloatFormat(x.dtype), x.dtype != .float4e2m1 {
            // float8: decode each code through the format's table.
            let table = format.decodeTable
            let (nan, p, n) = (detectNaN, positive, negative)
            return [
                .tensor(
                    try unaryMap(x, UInt8.self, .bool, context.threads) { (c: UInt8) -> Bool in
                        let v = table[Int(c)]
                        return nan ? v.isNaN : v.isInfinite && (v > 0 ? p : n)
                    })
            ]
        }
        throw kernelUnsupported("unsupported input type \(x.dtype)")
    }
}
