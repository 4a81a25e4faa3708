import RealModule
import SwiftConvIR

/// Arithmetic and math on tensors: Add..Pow, unary math, Min/Max/Sum/Mean, Clip, Where, bitwise.
enum ElementwiseKernels {
    static func register(into r: inout KernelRegistry) {
        for (op, fn) in [("Add", BinaryArithmetic.Op.add), ("Sub", .sub), ("Mul", .mul), ("Div", .div)] {
            r.register(op, since: [7, 13, 14]) { _ in BinaryArithmetic(op: fn) }
        }
    }
}

/// Add, Sub, Mul, Div with numpy broadcasting, for every numeric dtype.
/// Integer division truncates toward zero; division by zero is left to the hardware for floats.
struct BinaryArithmetic: Kernel {
    enum Op { case add, sub, mul, div }
    let op: Op

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try inputs.tensor(0), b = try inputs.tensor(1)
        guard a.dtype == b.dtype else { throw kernelError("input types differ: \(a.dtype) and \(b.dtype)") }
        if op == .div {
            struct FloatDiv: FloatVisitor {
                let a: Tensor, b: Tensor
                func visit<T: FloatScalar>(_ type: T.Type) throws -> Tensor {
                    try broadcastBinary(a, b, T.self, T.self, T.self) { $0 / $1 }
                }
            }
            struct IntDiv: IntegerVisitor {
                let a: Tensor, b: Tensor
                func visit<T: IntegerScalar>(_ type: T.Type) throws -> Tensor {
                    var zero = false
                    let t = try broadcastBinary(a, b, T.self, T.self, T.self) { x, y in
                        if y == 0 { zero = true; return 0 }
                        return x.dividedReportingOverflow(by: y).partialValue
                    }
                    if zero { throw kernelError("integer division by zero") }
                    return t
                }
            }
            if let out = try dispatchFloat(a.dtype, FloatDiv(a: a, b: b)) ?? dispatchInteger(a.dtype, IntDiv(a: a, b: b)) {
                return [.tensor(out)]
            }
            throw kernelError("unsupported input type \(a.dtype)")
        }
        struct Visit: NumericVisitor {
            let a: Tensor, b: Tensor, op: Op
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor {
                switch op {
                case .add: return try broadcastBinary(a, b, T.self, T.self, T.self) { $0 + $1 }
                case .sub: return try broadcastBinary(a, b, T.self, T.self, T.self) { $0 - $1 }
                case .mul, .div: return try broadcastBinary(a, b, T.self, T.self, T.self) { $0 * $1 }
                }
            }
        }
        guard let out = try dispatchNumeric(a.dtype, Visit(a: a, b: b, op: op)) else {
            throw kernelError("unsupported input type \(a.dtype)")
        }
        return [.tensor(out)]
    }
}
