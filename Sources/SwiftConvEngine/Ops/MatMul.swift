import SwiftConvIR
import SwiftConvKernels

/// MatMul, Gemm, Einsum, Attention, RotaryEmbedding.
enum MatMulKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("MatMul", since: [1, 9, 13]) { ctx in try MatMulKernel(ctx) }
        r.register("Gemm", since: [1, 6, 7, 9, 11, 13]) { ctx in try GemmKernel(ctx) }
        r.register("Einsum", since: [12, 28]) { ctx in try EinsumKernel(ctx) }
        r.register("Det", since: [11, 22]) { _ in DetKernel() }
        r.register("Attention", since: [23, 24, 25]) { ctx in AttentionKernel(ctx) }
        r.register("RotaryEmbedding", since: [23]) { ctx in RotaryEmbeddingKernel(ctx) }
    }
}

/// Shapes of a numpy-style MatMul: 1-D operands promoted to matrices (and the added
/// dimension dropped from the result), batch dimensions broadcast.
struct MatMulGeometry {
    let m: Int, k: Int, n: Int
    let aBatch: [Int], bBatch: [Int], batch: [Int]
    let outShape: [Int]

    init(_ aShape: [Int], _ bShape: [Int]) throws {
        var ash = aShape, bsh = bShape
        let aVec = ash.count == 1, bVec = bsh.count == 1
        if aVec { ash = [1, ash[0]] }
        if bVec { bsh = [bsh[0], 1] }
        guard ash.count >= 2, bsh.count >= 2 else { throw kernelError("MatMul inputs must have rank >= 1") }
        m = ash[ash.count - 2]
        k = ash[ash.count - 1]
        n = bsh[bsh.count - 1]
        guard k == bsh[bsh.count - 2] else { throw kernelError("MatMul inner dimensions differ: \(aShape) x \(bShape)") }
        aBatch = Array(ash.dropLast(2))
        bBatch = Array(bsh.dropLast(2))
        batch = try broadcastShapes(aBatch, bBatch)
        var shape = batch
        if !aVec { shape.append(m) }
        if !bVec { shape.append(n) }
        outShape = shape
    }

    /// Element offsets into A and B of each product of the broadcast batch, in output order.
    func batchOffsets() -> [(a: Int, b: Int)] {
        let count = batch.reduce(1, *)
        let sa = broadcastStrides(aBatch, to: batch), sb = broadcastStrides(bBatch, to: batch)
        var idx = [Int](repeating: 0, count: batch.count)
        var offsets: [(a: Int, b: Int)] = []
        offsets.reserveCapacity(count)
        for _ in 0..<count {
            var oa = 0, ob = 0
            for d in 0..<batch.count {
                oa += idx[d] * sa[d]
                ob += idx[d] * sb[d]
            }
            offsets.append((oa * m * k, ob * k * n))
            var d = batch.count - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < batch[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
        return offsets
    }
}

/// Batched matrix products `[batch] x M x K` times `[batch] x K x N` on raw float32 storage;
/// batch offsets come from numpy-broadcast batch shapes.
func batchedMatMul(_ a: Tensor, _ b: Tensor, packedB: FloatBuffer?, _ context: ExecutionContext) throws -> Tensor {
    let g = try MatMulGeometry(a.shape, b.shape)
    let (m, k, n, bBatch, batch, outShape) = (g.m, g.k, g.n, g.bBatch, g.batch, g.outShape)
    let out = try Tensor.allocate(a.dtype, outShape)
    let count = batch.reduce(1, *)
    if count == 0 || m == 0 || n == 0 { return out }
    let pa = a.floatPointer, pb = b.floatPointer, pc = out.mutableFloatPointer
    let par = context.parallel
    // B shared by every batch and A contiguous: one product with the batch folded into M.
    if bBatch.reduce(1, *) == 1 {
        let rows = count * m
        Gemm.sgemm(
            m: rows, n: n, k: k, a: MatrixView(pa, rowStride: k, colStride: 1),
            packedA: nil, b: packedB == nil ? MatrixView(pb, rowStride: n, colStride: 1) : nil,
            packedB: packedB.map { UnsafePointer($0.pointer) }, c: pc, ldc: n, parallel: par)
        return out
    }
    let offsets = g.batchOffsets()
    if m * n * k <= smallMatMulWork {
        // Many tiny products (attention heads): one parallel loop over the batch, each
        // product a direct loop, instead of packing and a parallel region per product.
        context.threads.parallelFor(count, grain: max(1, smallMatMulWork / max(m * n * k, 1))) { range in
            for bi in range {
                smallMatMul(pa + offsets[bi].0, pb + offsets[bi].1, pc + bi * m * n, m: m, n: n, k: k)
            }
        }
        return out
    }
    for (bi, (oa, ob)) in offsets.enumerated() {
        Gemm.sgemm(
            m: m, n: n, k: k, a: MatrixView(pa + oa, rowStride: k, colStride: 1),
            b: MatrixView(pb + ob, rowStride: n, colStride: 1),
            c: pc + bi * m * n, ldc: n, parallel: par)
    }
    return out
}

/// Multiply-adds below which a product skips sgemm's packing for `smallMatMul`.
let smallMatMulWork = 32768

/// `c = a * b` for small row-major float32 matrices, through the kernel table.
func smallMatMul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int) {
    KernelTable.best.smallMatMul(a, b, c, m, n, k)
}

/// Batched MatMul for non-float32 numeric types: a plain loop (integer math wraps).
func genericMatMul<T: NumericScalar>(_ a: Tensor, _ b: Tensor, _: T.Type, mul: (T, T) -> T, add: (T, T) -> T) throws -> Tensor {
    let g = try MatMulGeometry(a.shape, b.shape)
    let (m, k, n) = (g.m, g.k, g.n)
    let out = try Tensor.allocate(T.dtype, g.outShape)
    let offsets = g.batchOffsets()
    a.withElements(as: T.self) { pa in
        b.withElements(as: T.self) { pb in
            out.withMutableElements(as: T.self) { pc in
                for (bi, (oa, ob)) in offsets.enumerated() {
                    let oc = bi * m * n
                    for i in 0..<m {
                        for j in 0..<n { pc[oc + i * n + j] = T.zero }
                        for p in 0..<k {
                            let av = pa[oa + i * k + p]
                            for j in 0..<n { pc[oc + i * n + j] = add(pc[oc + i * n + j], mul(av, pb[ob + p * n + j])) }
                        }
                    }
                }
            }
        }
    }
    return out
}

/// Runs a MatMul for any numeric dtype.
func anyMatMul(_ a: Tensor, _ b: Tensor, packedB: FloatBuffer?, _ context: ExecutionContext) throws -> Tensor {
    guard a.dtype == b.dtype else { throw kernelError("input types differ: \(a.dtype) and \(b.dtype)") }
    switch a.dtype {
    case .float32: return try batchedMatMul(a, b, packedB: packedB, context)
    case .float16:
        return try convertFromFloat32(try batchedMatMul(convertToFloat32(a), convertToFloat32(b), packedB: nil, context), to: .float16)
    case .bfloat16:
        let af = Tensor.from(try floatValues(a), shape: a.shape), bf = Tensor.from(try floatValues(b), shape: b.shape)
        let y = try batchedMatMul(af, bf, packedB: nil, context)
        return try encodeFloats(y.values(as: Float.self), .bfloat16, y.shape)
    default:
        struct F: FloatVisitor {
            let a: Tensor, b: Tensor
            func visit<T: FloatScalar>(_ type: T.Type) throws -> Tensor { try genericMatMul(a, b, T.self, mul: *, add: +) }
        }
        struct I: IntegerVisitor {
            let a: Tensor, b: Tensor
            func visit<T: IntegerScalar>(_ type: T.Type) throws -> Tensor { try genericMatMul(a, b, T.self, mul: (&*), add: (&+)) }
        }
        if let t = try dispatchFloat(a.dtype, F(a: a, b: b)) ?? dispatchInteger(a.dtype, I(a: a, b: b)) { return t }
        throw kernelUnsupported("unsupported input type \(a.dtype)")
    }
}

struct MatMulKernel: Kernel {
    /// B packed once when it is a constant 2-D float32 matrix.
    let packedB: FloatBuffer?
    let packedShape: [Int]

    init(_ ctx: KernelBuildContext) throws {
        (packedB, packedShape) = packConstantB(ctx.constant(1), transposed: false)
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try inputs.tensor(0), b = try inputs.tensor(1)
        let usePacked = packedB != nil && b.shape == packedShape && a.rank >= 2
        return [.tensor(try anyMatMul(a, b, packedB: usePacked ? packedB : nil, context))]
    }
}

/// Packs a constant float32 2-D B operand once for sgemm (MatMul and Gemm weights);
/// returns the panels and the shape they were packed from, or (nil, []) when B is not such a constant.
func packConstantB(_ b: Tensor?, transposed: Bool) -> (FloatBuffer?, [Int]) {
    guard let b, b.dtype == .float32, b.rank == 2, b.shape[0] > 0, b.shape[1] > 0 else { return (nil, []) }
    let k = transposed ? b.shape[1] : b.shape[0], n = transposed ? b.shape[0] : b.shape[1]
    let view = transposed ? MatrixView(b.floatPointer, rowStride: 1, colStride: k) : MatrixView(b.floatPointer, rowStride: n, colStride: 1)
    let buf = FloatBuffer(count: Gemm.packedBSize(k: k, n: n))
    Gemm.pack(b: view, k: k, n: n, into: buf.pointer)
    return (buf, b.shape)
}

/// Gemm: `alpha * op(A) * op(B) + beta * C`, C broadcast to M x N (optional from opset 11).
struct GemmKernel: Kernel {
    let transA: Bool, transB: Bool
    let alpha: Float, beta: Float
    let packedB: FloatBuffer?
    let packedShape: [Int]
    /// Zeros for `rowDots`' bias operand, one per output column (constant float B with transB).
    let zeroRow: FloatBuffer?

    init(_ ctx: KernelBuildContext) throws {
        transA = ctx.int("transA", default: 0) != 0
        transB = ctx.int("transB", default: 0) != 0
        alpha = ctx.float("alpha", default: 1)
        beta = ctx.float("beta", default: 1)
        (packedB, packedShape) = packConstantB(ctx.constant(1), transposed: transB)
        if transB, let b = ctx.constant(1), b.dtype == .float32, b.rank == 2, b.shape[0] > 0 {
            zeroRow = FloatBuffer.zeros(b.shape[0])
        } else {
            zeroRow = nil
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try inputs.tensor(0), b = try inputs.tensor(1)
        let c = inputs.optionalTensor(2)
        guard a.rank == 2, b.rank == 2 else { throw kernelError("Gemm inputs must be 2-D, got \(a.shape) and \(b.shape)") }
        guard a.dtype == b.dtype else { throw kernelError("input types differ: \(a.dtype) and \(b.dtype)") }
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
        guard k == kb else { throw kernelError("Gemm inner dimensions differ: \(a.shape) x \(b.shape)") }
        if let c = c {
            guard c.dtype == a.dtype else { throw kernelError("C type \(c.dtype) differs from \(a.dtype)") }
            guard try broadcastShapes(c.shape, [m, n]) == [m, n] else {
                throw kernelError("C shape \(c.shape) does not broadcast to [\(m), \(n)]")
            }
        }
        if a.dtype == .float32 {
            return [.tensor(try runFloat(a, b, c, m, n, k, context))]
        }
        if a.dtype == .float16 {
            let out = try runFloat(
                try convertToFloat32(a), try convertToFloat32(b), try c.map(convertToFloat32), m, n, k, context, allowPacked: false)
            return [.tensor(try convertFromFloat32(out, to: .float16))]
        }
        struct V: NumericVisitor {
            let g: GemmKernel, a: Tensor, b: Tensor, c: Tensor?, m: Int, n: Int, k: Int
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor { try g.runGeneric(a, b, c, m, n, k, T.self) }
        }
        guard let out = try dispatchNumeric(a.dtype, V(g: self, a: a, b: b, c: c, m: m, n: n, k: k)) else {
            throw kernelUnsupported("unsupported input type \(a.dtype)")
        }
        return [.tensor(out)]
    }

    func runFloat(
        _ a: Tensor, _ b: Tensor, _ c: Tensor?, _ m: Int, _ n: Int, _ k: Int, _ context: ExecutionContext,
        allowPacked: Bool = true
    ) throws -> Tensor {
        let out = try Tensor.allocate(.float32, [m, n])
        let po = out.mutableFloatPointer
        var bt: Float = 0
        if let c = c, beta != 0, m * n > 0 {
            let cs = broadcastStrides(c.shape, to: [m, n])
            let pc = c.floatPointer
            for i in 0..<m { for j in 0..<n { po[i * n + j] = pc[i * cs[0] + j * cs[1]] } }
            bt = beta
        }
        if m == 1 && !transA && transB && alpha == 1, let zeros = zeroRow, b.dtype == .float32, b.shape[0] == n {
            // One row of A against B's stored rows: a dot product per output, reading each
            // weight once in order. The packed tile streamed the same weights 16 columns at a
            // time for the single row (1.75-2.07x onnxruntime's time). `po` holds C when given.
            if bt != 0 && bt != 1 {
                for j in 0..<n { po[j] *= bt }
            }
            let zp = UnsafePointer(zeros.pointer)
            parallelRowDots(
                b.floatPointer, rows: n, k: k, x: a.floatPointer, add: bt == 0 ? zp : UnsafePointer(po), bias: zp, out: po,
                context.parallel)
            return out
        }
        let ak = a.shape[1], bn = b.shape[1]
        let av = transA ? MatrixView(a.floatPointer, rowStride: 1, colStride: ak) : MatrixView(a.floatPointer, rowStride: ak, colStride: 1)
        let usePacked = allowPacked && packedB != nil && b.shape == packedShape
        let bv = transB ? MatrixView(b.floatPointer, rowStride: 1, colStride: bn) : MatrixView(b.floatPointer, rowStride: bn, colStride: 1)
        Gemm.sgemm(
            m: m, n: n, k: k, alpha: alpha, a: av, b: usePacked ? nil : bv,
            packedB: usePacked ? UnsafePointer(packedB!.pointer) : nil, beta: bt, c: po, ldc: n, parallel: context.parallel)
        return out
    }

    func runGeneric<T: NumericScalar>(_ a: Tensor, _ b: Tensor, _ c: Tensor?, _ m: Int, _ n: Int, _ k: Int, _: T.Type) throws -> Tensor {
        let out = try Tensor.allocate(T.dtype, [m, n])
        let al = T(fromDouble: Double(alpha)), be = T(fromDouble: Double(beta))
        let isInt = !T.dtype.isFloatingPoint
        let ak = a.shape[1], bn = b.shape[1]
        a.withElements(as: T.self) { pa in
            b.withElements(as: T.self) { pb in
                out.withMutableElements(as: T.self) { po in
                    let cs = c.map { broadcastStrides($0.shape, to: [m, n]) }
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = T.zero
                            for p in 0..<k {
                                let x = transA ? pa[p * ak + i] : pa[i * ak + p]
                                let y = transB ? pb[j * bn + p] : pb[p * bn + j]
                                s = isInt ? T(fromDouble: s.asDouble + x.asDouble * y.asDouble) : s + x * y
                            }
                            var v = isInt ? T(fromDouble: s.asDouble * Double(alpha)) : al * s
                            if let c = c, let cs = cs {
                                let cv = c.withElements(as: T.self) { $0[i * cs[0] + j * cs[1]] }
                                v = isInt ? T(fromDouble: v.asDouble + Double(beta) * cv.asDouble) : v + be * cv
                            }
                            po[i * n + j] = v
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Einsum by a direct loop over every label: the output labels outermost, the summed ones inside.
struct EinsumKernel: Kernel {
    let inputTerms: [[Character]]
    let hasEllipsis: [Bool]
    let outputTerm: [Character]?
    let outputEllipsis: Bool

    init(_ ctx: KernelBuildContext) throws {
        let eq = ctx.string("equation", default: "").filter { $0 != " " }
        let parts = eq.components("->")
        func parseTerm(_ s: Substring) -> ([Character], Bool) {
            var chars: [Character] = []
            var ell = false
            var rest = s[...]
            while !rest.isEmpty {
                if rest.hasPrefix("...") {
                    ell = true
                    chars.append(".")
                    rest = rest.dropFirst(3)
                } else {
                    chars.append(rest.first!)
                    rest = rest.dropFirst()
                }
            }
            return (chars, ell)
        }
        let lhs = parts[0].split(separator: ",", omittingEmptySubsequences: false)
        var terms: [[Character]] = [], ells: [Bool] = []
        for t in lhs {
            let (c, e) = parseTerm(t)
            terms.append(c)
            ells.append(e)
        }
        inputTerms = terms
        hasEllipsis = ells
        if parts.count > 1 {
            let (c, e) = parseTerm(parts[1])
            outputTerm = c
            outputEllipsis = e
        } else {
            outputTerm = nil
            outputEllipsis = false
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        var ts = try (0..<inputTerms.count).map { try inputs.tensor($0) }
        if ts.first?.dtype == .bfloat16 {
            ts = try ts.map { Tensor.from(try floatValues($0), shape: $0.shape) }
            guard case .tensor(let y)? = try run(ts.map { Value.tensor($0) }, context).first else { throw kernelError("Einsum failed") }
            return [.tensor(try encodeFloats(y.values(as: Float.self), .bfloat16, y.shape))]
        }
        guard let dtype = ts.first?.dtype, ts.allSatisfy({ $0.dtype == dtype }) else {
            throw kernelError("Einsum inputs must share one type")
        }
        // Resolve labels to ids; ellipsis dimensions get ids 1000+.
        var ellRank = 0
        for (i, t) in ts.enumerated() where hasEllipsis[i] {
            ellRank = max(ellRank, t.rank - (inputTerms[i].count - 1))
        }
        var sizes: [Int: Int] = [:]
        var termIds: [[Int]] = []
        for (i, t) in ts.enumerated() {
            var ids: [Int] = []
            for ch in inputTerms[i] {
                if ch == "." {
                    let r = t.rank - (inputTerms[i].count - 1)
                    guard r >= 0 else { throw kernelError("Einsum term rank mismatch") }
                    for e in 0..<r { ids.append(1000 + ellRank - r + e) }
                } else {
                    ids.append(Int(ch.asciiValue ?? 0))
                }
            }
            guard ids.count == t.rank else { throw kernelError("Einsum term \(i) has \(ids.count) labels for rank \(t.rank)") }
            for (d, id) in ids.enumerated() {
                let s = t.shape[d]
                if let old = sizes[id], old != s {
                    if old == 1 { sizes[id] = s } else if s != 1 { throw kernelError("Einsum label size mismatch") }
                } else if sizes[id] == nil {
                    sizes[id] = s
                }
            }
            termIds.append(ids)
        }
        var outIds: [Int] = []
        if let o = outputTerm {
            for ch in o {
                if ch == "." {
                    for e in 0..<ellRank { outIds.append(1000 + e) }
                } else {
                    let id = Int(ch.asciiValue ?? 0)
                    guard sizes[id] != nil else { throw kernelError("Einsum output label \(ch) does not appear in the inputs") }
                    outIds.append(id)
                }
            }
        } else {
            for e in 0..<ellRank { outIds.append(1000 + e) }
            var counts: [Int: Int] = [:]
            for ids in termIds { for id in ids where id < 1000 { counts[id, default: 0] += 1 } }
            outIds += counts.filter { $0.value == 1 }.keys.sorted()
        }
        let sumIds = sizes.keys.filter { !outIds.contains($0) }.sorted()
        let all = outIds + sumIds
        let dims = all.map { sizes[$0]! }
        // Per-input stride of each label (repeated labels add up: diagonals).
        var strides: [[Int]] = []
        for (i, t) in ts.enumerated() {
            let cs = contiguousStrides(t.shape)
            var s = [Int](repeating: 0, count: all.count)
            for (d, id) in termIds[i].enumerated() where t.shape[d] != 1 {
                s[all.firstIndex(of: id)!] += cs[d]
            }
            strides.append(s)
        }
        let outShape = outIds.map { sizes[$0]! }
        struct V: NumericVisitor {
            let ts: [Tensor], dims: [Int], strides: [[Int]], outShape: [Int], nOut: Int
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor {
                let out = try Tensor.allocate(T.dtype, outShape)
                let outCount = outShape.reduce(1, *)
                let innerCount = dims[nOut...].reduce(1, *)
                let ptrs = ts.map { $0.storage.bytes.baseAddress?.assumingMemoryBound(to: T.self) }
                if ptrs.contains(where: { $0 == nil }) && innerCount > 0 && outCount > 0 { return out }
                out.withMutableElements(as: T.self) { po in
                    var idx = [Int](repeating: 0, count: dims.count)
                    var offs = [Int](repeating: 0, count: ts.count)
                    for o in 0..<outCount {
                        var acc = T.zero
                        for _ in 0..<innerCount {
                            var p = T(fromDouble: 1)
                            for k in 0..<ptrs.count { p = p * ptrs[k]![offs[k]] }
                            acc = acc + p
                            // advance the summed labels
                            var d = dims.count - 1
                            while d >= nOut {
                                idx[d] += 1
                                for k in 0..<offs.count { offs[k] += strides[k][d] }
                                if idx[d] < dims[d] { break }
                                for k in 0..<offs.count { offs[k] -= strides[k][d] * dims[d] }
                                idx[d] = 0
                                d -= 1
                            }
                        }
                        po[o] = acc
                        var d = nOut - 1
                        while d >= 0 {
                            idx[d] += 1
                            for k in 0..<offs.count { offs[k] += strides[k][d] }
                            if idx[d] < dims[d] { break }
                            for k in 0..<offs.count { offs[k] -= strides[k][d] * dims[d] }
                            idx[d] = 0
                            d -= 1
                        }
                    }
                }
                return out
            }
        }
        guard let out = try dispatchNumeric(dtype, V(ts: ts, dims: dims, strides: strides, outShape: outShape, nOut: outIds.count)) else {
            throw kernelUnsupported("unsupported input type \(dtype)")
        }
        return [.tensor(out)]
    }
}

fileprivate extension String {
    /// Splits on a multi-character separator. Written out rather than with `firstRange(of:)`,
    /// whose one use would link the standard library's string-processing and regex modules
    /// (about 0.8 MB of libswiftconv.so).
    func components(_ sep: String) -> [Substring] {
        let separator = Array(sep.utf8)
        guard !separator.isEmpty else { return [self[...]] }
        let bytes = Array(utf8)
        var out: [Substring] = []
        var start = 0, i = 0
        while i + separator.count <= bytes.count {
            if bytes[i..<i + separator.count].elementsEqual(separator) {
                out.append(self[utf8Index(start)..<utf8Index(i)])
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        out.append(self[utf8Index(start)...])
        return out
    }

    private func utf8Index(_ offset: Int) -> String.Index { utf8.index(utf8.startIndex, offsetBy: offset) }
}

/// Decodes any float-like tensor (float16, bfloat16, float64...) to Float values.
func floatValues(_ t: Tensor) throws -> [Float] {
    if t.dtype == .float32 { return t.values(as: Float.self) }
    guard let v = DTypeConversion.floats(t) else { throw kernelUnsupported("unsupported input type \(t.dtype)") }
    return v
}

/// Encodes Float values as a tensor of `dtype`.
func encodeFloats(_ v: [Float], _ dtype: DType, _ shape: [Int]) throws -> Tensor {
    if dtype == .float32 { return Tensor.from(v, shape: shape) }
    guard let t = try v.withUnsafeBufferPointer({ try DTypeConversion.tensor(from: $0, dtype: dtype, shape: shape) }) else {
        throw kernelUnsupported("unsupported output type \(dtype)")
    }
    return t
}

/// Scaled dot-product attention (opset 23/24): heads, GQA, past/present cache, masks, causal, softcap.
struct AttentionKernel: Kernel {
    let scale: Float?
    let isCausal: Bool
    let qHeads: Int?
    let kvHeads: Int?
    let softcap: Float
    let qkMode: Int
    let leftWindow: Int
    let rightWindow: Int

    init(_ ctx: KernelBuildContext) {
        leftWindow = Int(ctx.int("left_window_size", default: -1))
        rightWindow = Int(ctx.int("right_window_size", default: -1))
        scale = ctx.node.attribute("scale")?.float
        isCausal = ctx.int("is_causal", default: 0) != 0
        qHeads = ctx.node.attribute("q_num_heads")?.int.map { Int($0) }
        kvHeads = ctx.node.attribute("kv_num_heads")?.int.map { Int($0) }
        softcap = ctx.float("softcap", default: 0)
        qkMode = Int(ctx.int("qk_matmul_output_mode", default: 0))
    }

    /// A [B, S, H*D] or [B, H, S, D] input as [B, H, S, D] floats.
    func heads(_ t: Tensor, _ h: Int?) throws -> ([Float], [Int]) {
        let v = try floatValues(t)
        if t.rank == 4 { return (v, t.shape) }
        guard t.rank == 3, let h = h, h > 0, t.shape[2] % h == 0 else {
            throw kernelError("3-D inputs need q_num_heads/kv_num_heads dividing the hidden size")
        }
        let b = t.shape[0], s = t.shape[1], d = t.shape[2] / h
        var out = [Float](repeating: 0, count: v.count)
        for bi in 0..<b {
            for si in 0..<s {
                for hi in 0..<h {
                    for di in 0..<d {
                        out[((bi * h + hi) * s + si) * d + di] = v[((bi * s + si) * h + hi) * d + di]
                    }
                }
            }
        }
        return (out, [b, h, s, d])
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let qT = try inputs.tensor(0), kT = try inputs.tensor(1), vT = try inputs.tensor(2)
        let dtype = qT.dtype
        let (q, qs) = try heads(qT, qHeads)
        var (k, ks) = try heads(kT, kvHeads)
        var (v, vs) = try heads(vT, kvHeads)
        let b = qs[0], hq = qs[1], sq = qs[2], d = qs[3]
        guard ks[0] == b, vs[0] == b, ks[1] == vs[1], ks[3] == d, ks[2] == vs[2] else {
            throw kernelError("Q \(qs), K \(ks), V \(vs) do not fit")
        }
        let hkv = ks[1], dv = vs[3]
        guard hkv > 0, hq % hkv == 0 else { throw kernelError("q heads \(hq) not a multiple of kv heads \(hkv)") }
        var pastLen = 0
        if let pk = inputs.optionalTensor(4), let pv = inputs.optionalTensor(5) {
            guard pk.rank == 4, pk.shape[0] == b, pk.shape[1] == hkv, pk.shape[3] == d, pv.shape[2] == pk.shape[2], pv.shape[3] == dv else {
                throw kernelError("past_key \(pk.shape) / past_value \(pv.shape) do not fit")
            }
            pastLen = pk.shape[2]
            let pkv = try floatValues(pk), pvv = try floatValues(pv)
            let sNew = ks[2], total = pastLen + sNew
            var k2 = [Float](repeating: 0, count: b * hkv * total * d), v2 = [Float](repeating: 0, count: b * hkv * total * dv)
            for bh in 0..<b * hkv {
                for s in 0..<total {
                    for di in 0..<d {
                        k2[(bh * total + s) * d + di] =
                            s < pastLen ? pkv[(bh * pastLen + s) * d + di] : k[(bh * sNew + s - pastLen) * d + di]
                    }
                    for di in 0..<dv {
                        v2[(bh * total + s) * dv + di] =
                            s < pastLen ? pvv[(bh * pastLen + s) * dv + di] : v[(bh * sNew + s - pastLen) * dv + di]
                    }
                }
            }
            k = k2
            v = v2
            ks[2] = total
            vs[2] = total
        }
        let skv = ks[2]
        // Additive bias [B or 1, H or 1, Sq, Skv] from the mask, causal frontier and padding.
        var bias = [Float](repeating: 0, count: b * hq * sq * skv)
        var hasMask = false
        if let m = inputs.optionalTensor(3) {
            hasMask = true
            let mv: [Float]
            if m.dtype == .bool {
                mv = m.values(as: UInt8.self).map { $0 != 0 ? 0 : -Float.infinity }
            } else {
                mv = try floatValues(m)
            }
            guard m.rank >= 1, m.rank <= 4 else { throw kernelError("attn_mask must have rank 1..4") }
            let mlast = m.shape[m.rank - 1], mq = m.rank >= 2 ? m.shape[m.rank - 2] : 1
            let mh = m.rank >= 3 ? m.shape[m.rank - 3] : 1, mb = m.rank == 4 ? m.shape[0] : 1
            guard mlast <= skv, mq == sq || mq == 1, mh == hq || mh == 1, mb == b || mb == 1 else {
                throw kernelError("attn_mask \(m.shape) does not broadcast")
            }
            for bi in 0..<b {
                for hi in 0..<hq {
                    for i in 0..<sq {
                        for j in 0..<skv {
                            let val: Float =
                                j < mlast
                                ? mv[(((mb == 1 ? 0 : bi) * mh + (mh == 1 ? 0 : hi)) * mq + (mq == 1 ? 0 : i)) * mlast + j]
                                : -Float.infinity
                            bias[((bi * hq + hi) * sq + i) * skv + j] = val
                        }
                    }
                }
            }
        }
        var nonpad: [Int]? = nil
        if let np = inputs.optionalTensor(6) {
            guard let vals = np.int64Values(), vals.count == b else { throw kernelError("nonpad_kv_seqlen must have \(b) values") }
            guard vals.allSatisfy({ $0 >= 0 && $0 <= Int64(skv) }) else {
                throw kernelError("nonpad_kv_seqlen \(vals) must lie in 0...\(skv)")
            }
            nonpad = vals.map { Int($0) }
        }
        if isCausal {
            for bi in 0..<b {
                let offset = nonpad.map { $0[bi] - sq } ?? pastLen
                for hi in 0..<hq {
                    for i in 0..<sq {
                        for j in 0..<skv where j > i + offset {
                            bias[((bi * hq + hi) * sq + i) * skv + j] = -Float.infinity
                        }
                    }
                }
            }
        }
        if leftWindow >= 0 || rightWindow >= 0 {
            for bi in 0..<b {
                let offset = nonpad.map { $0[bi] - sq } ?? pastLen
                for hi in 0..<hq {
                    for i in 0..<sq {
                        for j in 0..<skv {
                            let diff = i + offset - j
                            if (leftWindow >= 0 && diff > leftWindow) || (rightWindow >= 0 && -diff > rightWindow) {
                                bias[((bi * hq + hi) * sq + i) * skv + j] = -Float.infinity
                            }
                        }
                    }
                }
            }
        }
        if let np = nonpad {
            for bi in 0..<b {
                for hi in 0..<hq {
                    for i in 0..<sq {
                        for j in 0..<skv where j >= np[bi] {
                            bias[((bi * hq + hi) * sq + i) * skv + j] = -Float.infinity
                        }
                    }
                }
            }
        }
        _ = hasMask
        let sc = scale ?? 1 / Float(d).squareRoot()
        var qk = [Float](repeating: 0, count: b * hq * sq * skv)
        var y = [Float](repeating: 0, count: b * hq * sq * dv)
        let group = hq / hkv
        let mode = qkMode
        var row = [Float](repeating: 0, count: skv)
        for bi in 0..<b {
            for hi in 0..<hq {
                let kh = bi * hkv + hi / group
                for i in 0..<sq {
                    let qo = ((bi * hq + hi) * sq + i) * d
                    let ro = ((bi * hq + hi) * sq + i) * skv
                    var mx = -Float.infinity, biasMax = -Float.infinity
                    for j in 0..<skv {
                        var s: Float = 0
                        let ko = (kh * skv + j) * d
                        for di in 0..<d { s += q[qo + di] * k[ko + di] }
                        s *= sc
                        if softcap > 0 { s = softcap * Float.tanh(s / softcap) }
                        let withBias = s + bias[ro + j]
                        qk[ro + j] = mode == 2 ? withBias : s
                        row[j] = withBias
                        mx = max(mx, withBias)
                        biasMax = max(biasMax, bias[ro + j])
                    }
                    let safe = mx == -Float.infinity ? 0 : mx
                    var sum: Float = 0
                    for j in 0..<skv {
                        row[j] = Float.exp(row[j] - safe)
                        sum += row[j]
                    }
                    if sum == 0 { sum = 1 }
                    let masked = biasMax == -Float.infinity && skv > 0
                    for j in 0..<skv { row[j] = masked ? 0 : row[j] / sum }
                    if mode == 3 { for j in 0..<skv { qk[ro + j] = row[j] } }
                    let yo = ((bi * hq + hi) * sq + i) * dv
                    for j in 0..<skv where row[j] != 0 {
                        let p = row[j], vo = (kh * skv + j) * dv
                        for di in 0..<dv { y[yo + di] += p * v[vo + di] }
                    }
                }
            }
        }
        var yShape = [b, hq, sq, dv]
        if qT.rank == 3 {
            var t = [Float](repeating: 0, count: y.count)
            for bi in 0..<b {
                for hi in 0..<hq {
                    for i in 0..<sq {
                        for di in 0..<dv {
                            t[((bi * sq + i) * hq + hi) * dv + di] = y[((bi * hq + hi) * sq + i) * dv + di]
                        }
                    }
                }
            }
            y = t
            yShape = [b, sq, hq * dv]
        }
        return [
            .tensor(try encodeFloats(y, dtype, yShape)),
            .tensor(try encodeFloats(k, kT.dtype, [b, hkv, skv, d])),
            .tensor(try encodeFloats(v, vT.dtype, [b, hkv, skv, dv])),
            .tensor(try encodeFloats(qk, dtype, [b, hq, sq, skv])),
        ]
    }
}

struct RotaryEmbeddingKernel: Kernel {
    let interleaved: Bool
    let rotaryDim: Int
    let numHeads: Int

    init(_ ctx: KernelBuildContext) {
        interleaved = ctx.int("interleaved", default: 0) != 0
        rotaryDim = Int(ctx.int("rotary_embedding_dim", default: 0))
        numHeads = Int(ctx.int("num_heads", default: 0))
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let xT = try inputs.tensor(0)
        let x = try floatValues(xT), cosv = try floatValues(inputs.tensor(1)), sinv = try floatValues(inputs.tensor(2))
        let pos = inputs.optionalTensor(3).flatMap { $0.int64Values() }
        let b: Int, s: Int, h: Int, d: Int
        if xT.rank == 4 {
            b = xT.shape[0]
            h = xT.shape[1]
            s = xT.shape[2]
            d = xT.shape[3]
        } else if xT.rank == 3, numHeads > 0, xT.shape[2] % numHeads == 0 {
            b = xT.shape[0]
            s = xT.shape[1]
            h = numHeads
            d = xT.shape[2] / numHeads
        } else {
            throw kernelError("input must be 4-D, or 3-D with num_heads")
        }
        let rd = rotaryDim == 0 ? d : rotaryDim
        let half = rd / 2
        guard rd > 0, rd <= d, rd % 2 == 0 else { throw kernelError("rotary_embedding_dim \(rd) does not fit head size \(d)") }
        let cacheRows = cosv.count / max(half, 1)
        var out = x
        for bi in 0..<b {
            for si in 0..<s {
                let r: Int
                if let p = pos {
                    guard p.count == b * s || p.count == s else { throw kernelError("position_ids has \(p.count) values") }
                    r = Int(p.count == s ? p[si] : p[bi * s + si])
                } else {
                    r = bi * s + si
                }
                guard r >= 0, r < cacheRows, sinv.count == cosv.count else { throw kernelError("position \(r) outside the cos/sin cache") }
                for hi in 0..<h {
                    let base = xT.rank == 4 ? ((bi * h + hi) * s + si) * d : ((bi * s + si) * h + hi) * d
                    for j in 0..<half {
                        let c = cosv[r * half + j], sn = sinv[r * half + j]
                        let i1 = interleaved ? base + 2 * j : base + j
                        let i2 = interleaved ? base + 2 * j + 1 : base + j + half
                        let x1 = x[i1], x2 = x[i2]
                        out[i1] = c * x1 - sn * x2
                        out[i2] = sn * x1 + c * x2
                    }
                }
            }
        }
        return [.tensor(try encodeFloats(out, xT.dtype, xT.shape))]
    }
}

/// Determinant of each trailing [n, n] matrix, by LU decomposition with partial pivoting.
struct DetKernel: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank >= 2, x.shape[x.rank - 1] == x.shape[x.rank - 2] else {
            throw kernelError("input must be [..., n, n], got shape \(x.shape)")
        }
        let n = x.shape[x.rank - 1]
        let batch = Array(x.shape.dropLast(2))
        let values = try DoubleBridge.values(x)
        let count = batch.reduce(1, *)
        var dets = [Double](repeating: 0, count: count)
        var a = [Double](repeating: 0, count: n * n)
        for b in 0..<count {
            for i in 0..<(n * n) { a[i] = values[b * n * n + i] }
            var det = 1.0
            for col in 0..<n {
                var pivot = col
                for r in (col + 1)..<max(n, col + 1) where abs(a[r * n + col]) > abs(a[pivot * n + col]) { pivot = r }
                if a[pivot * n + col] == 0 {
                    det = 0
                    break
                }
                if pivot != col {
                    for k in 0..<n { a.swapAt(pivot * n + k, col * n + k) }
                    det = -det
                }
                let p = a[col * n + col]
                det *= p
                for r in (col + 1)..<max(n, col + 1) {
                    let f = a[r * n + col] / p
                    if f == 0 { continue }
                    for k in col..<n { a[r * n + k] -= f * a[col * n + k] }
                }
            }
            dets[b] = det
        }
        return [.tensor(try DoubleBridge.tensor(dets, dtype: x.dtype, shape: batch))]
    }
}
