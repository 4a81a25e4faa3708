// swiftconv-bench-gemm: single-thread SGEMM speed as a fraction of this machine's measured
// FMA peak.
//
//   swift build -c release --product swiftconv-bench-gemm
//   .build/release/swiftconv-bench-gemm [size] [runs]
//
// The peak is the faster of independent FMA chains on ymm and on zmm registers (one
// thread). The SGEMM is `Gemm.sgemm` on unpacked row-major A and B (packing included) with
// the kernel table this process chose (SWIFTCONV_PORTABLE_KERNELS / SWIFTCONV_NO_AVX512
// select the others). Each figure is the best of `runs` timings of this thread's CPU time
// (the machine may be shared; every timed loop runs on this one thread).
import CSwiftConvBench
import Glibc
import SwiftConvKernels

/// This thread's CPU time: on a shared machine, time spent descheduled does not count.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// `x` with two decimals.
func fmt(_ x: Double) -> String {
    let r = (x * 100).rounded()
    let whole = Int(r / 100), frac = Int(abs(r).truncatingRemainder(dividingBy: 100))
    return "\(whole).\(frac < 10 ? "0" : "")\(frac)"
}

/// Best GFLOP/s of `runs` calls of `body`, which returns the float operations it did.
func bestRate(runs: Int, _ body: () -> Double) -> Double {
    var best = 0.0
    for _ in 0..<runs {
        let t0 = now()
        let flops = body()
        best = max(best, flops / (now() - t0) / 1e9)
    }
    return best
}

let args = CommandLine.arguments
let size = args.count > 1 ? Int(args[1]) ?? 1024 : 1024
let runs = args.count > 2 ? Int(args[2]) ?? 10 : 10

var sink: Float = 0
var peaks: [(String, Double)] = []
for (width, name) in [(8, "ymm"), (16, "zmm")] {
    if scv_bench_fma_chains(Int32(width), 1000, &sink) == 0 { continue }
    let iterations: Int64 = width == 8 ? 40_000_000 : 20_000_000
    peaks.append((name, bestRate(runs: 5) { Double(scv_bench_fma_chains(Int32(width), iterations, &sink)) }))
}
let peak = peaks.map(\.1).max() ?? 0
for (name, rate) in peaks { print("FMA peak (\(name), 1 thread): \(fmt(rate)) GFLOP/s") }

let (m, n, k) = (size, size, size)
var rng: UInt64 = 1
func nextRandom() -> Float {
    rng = rng &* 6364136223846793005 &+ 1442695040888963407
    return Float(Int32(truncatingIfNeeded: rng >> 32)) / Float(Int32.max)
}
let a = (0..<m * k).map { _ in nextRandom() }, b = (0..<k * n).map { _ in nextRandom() }
var c = [Float](repeating: 0, count: m * n)
let gemmRate = bestRate(runs: runs) {
    c.withUnsafeMutableBufferPointer { c in
        Gemm.sgemm(
            m: m, n: n, k: k, a: MatrixView(a, rowStride: k, colStride: 1), b: MatrixView(b, rowStride: n, colStride: 1),
            c: c.baseAddress!, ldc: n)
    }
    return 2 * Double(m) * Double(n) * Double(k)
}
// A packed once ahead, as a convolution's weights are: the engine's common case.
let packedA = UnsafeMutablePointer<Float>.allocate(capacity: Gemm.packedASize(m: m, k: k))
a.withUnsafeBufferPointer { Gemm.pack(a: MatrixView($0.baseAddress!, rowStride: k, colStride: 1), m: m, k: k, into: packedA) }
let prepackedRate = bestRate(runs: runs) {
    c.withUnsafeMutableBufferPointer { c in
        Gemm.sgemm(
            m: m, n: n, k: k, packedA: packedA, b: MatrixView(b, rowStride: n, colStride: 1), c: c.baseAddress!, ldc: n)
    }
    return 2 * Double(m) * Double(n) * Double(k)
}
// A spot check, so a fast wrong kernel cannot pass: C[i, j] against a double dot product.
var worst = 0.0
for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2, n / 3), (m / 3, n - 1)] {
    var s = 0.0
    for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
    worst = max(worst, abs(Double(c[i * n + j]) - s) / max(1, abs(s)))
}
// The micro-tile alone on cache-resident panels: the ceiling the blocking can approach.
let (mr, nr, kc) = (Gemm.mr, Gemm.nr, Gemm.kc)
let pa = (0..<mr * kc).map { _ in nextRandom() }, pb = (0..<nr * kc).map { _ in nextRandom() }
var ct = [Float](repeating: 0, count: mr * nr)
let tileRate = bestRate(runs: runs) {
    ct.withUnsafeMutableBufferPointer { ct in
        for _ in 0..<2000 {
            KernelTable.best.gemmTile(
                GemmTile(depth: kc, a: pa, b: pb, c: ct.baseAddress!, ldc: nr, rows: mr, cols: nr, alpha: 1, beta: 1), nil)
        }
    }
    return 2000 * 2 * Double(mr * nr * kc)
}
print("micro-tile alone (L1-resident panels): \(fmt(tileRate)) GFLOP/s, \(fmt(peak > 0 ? tileRate / peak : 0)) of peak")
print("kernel table: \(KernelTable.best.name), tile \(Gemm.mr)x\(Gemm.nr), kc \(Gemm.kc)")
print("SGEMM \(m)x\(n)x\(k) (1 thread): \(fmt(gemmRate)) GFLOP/s, largest relative error \(worst)")
print("SGEMM with A packed ahead (1 thread): \(fmt(prepackedRate)) GFLOP/s, \(fmt(peak > 0 ? prepackedRate / peak : 0)) of peak")
print("fraction of FMA peak: \(fmt(peak > 0 ? gemmRate / peak : 0))")
if sink.isNaN { print("") }
