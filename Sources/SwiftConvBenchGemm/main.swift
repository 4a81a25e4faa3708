// swiftconv-bench-gemm: single-thread SGEMM speed as a fraction of this machine's measured
// FMA peak.
//
//   swift build -c release --product swiftconv-bench-gemm
//   .build/release/swiftconv-bench-gemm [size] [runs]
//
// The peak is the faster of independent FMA chains on ymm and on zmm registers (one
// thread). The SGEMM is `Gemm.sgemm` on unpacked row-major A and B (packing included) with
// the kernel table this process chose (SWIFTCONV_PORTABLE_KERNELS / SWIFTCONV_NO_AVX512
// select the others). Each figure is the best of `runs` timings.
import CSwiftConvBench
import Glibc
import SwiftConvKernels

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
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
// A spot check, so a fast wrong kernel cannot pass: C[i, j] against a double dot product.
var worst = 0.0
for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2, n / 3), (m / 3, n - 1)] {
    var s = 0.0
    for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
    worst = max(worst, abs(Double(c[i * n + j]) - s) / max(1, abs(s)))
}
print("kernel table: \(KernelTable.best.name), tile \(Gemm.mr)x\(Gemm.nr), kc \(Gemm.kc)")
print("SGEMM \(m)x\(n)x\(k) (1 thread): \(fmt(gemmRate)) GFLOP/s, largest relative error \(worst)")
print("fraction of FMA peak: \(fmt(peak > 0 ? gemmRate / peak : 0))")
if sink.isNaN { print("") }
