import Testing

@testable import SwiftConvKernels

/// The int16 slots of `KernelTable.best` against sums computed here in Int64 (exact), with
/// the extreme offset values the quantized kernels produce (±255).

/// Deterministic pseudo-random int16 values in -255...255, with the extremes mixed in.
struct RandomOffsets {
    var state: UInt64
    mutating func next() -> Int16 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let r = Int(truncatingIfNeeded: state >> 33) % 520
        return r >= 511 ? (r % 2 == 0 ? 255 : -255) : Int16(r - 255)
    }
    mutating func array(_ n: Int) -> [Int16] { (0..<n).map { _ in next() } }
}

@Test(arguments: [(1, 1, 16), (2, 4, 16), (5, 7, 48), (16, 33, 160), (3, 9, 1152)])
func int16GemmMatchesExactSums(m: Int, n: Int, k: Int) {
    var rng = RandomOffsets(state: UInt64(m * 1000 + n * 10 + k))
    let ldx = k + 16, ldw = k + 32, ldo = n + 3
    let x = rng.array(m * ldx), w = rng.array(n * ldw)
    for table in [KernelTable.best, KernelTable.generic] {
        var out = [Int32](repeating: -1, count: m * ldo)
        x.withUnsafeBufferPointer { xb in
            w.withUnsafeBufferPointer { wb in
                out.withUnsafeMutableBufferPointer { ob in
                    table.int16GemmNT(m, n, k, xb.baseAddress!, ldx, wb.baseAddress!, ldw, ob.baseAddress!, ldo)
                }
            }
        }
        var wrong = 0
        for i in 0..<m {
            for j in 0..<n {
                var s: Int64 = 0
                for t in 0..<k { s += Int64(x[i * ldx + t]) * Int64(w[j * ldw + t]) }
                if Int64(out[i * ldo + j]) != s { wrong += 1 }
            }
            for j in n..<ldo where out[i * ldo + j] != -1 { wrong += 1 } // nothing past n written
        }
        #expect(wrong == 0, "\(table.name) \(m)x\(n)x\(k): \(wrong) wrong sums")
    }
}

@Test(arguments: [(16, 9), (35, 4), (7, 1), (144, 9), (0, 9)])
func int16DepthwisePixelMatchesExactSums(channels: Int, taps: Int) {
    var rng = RandomOffsets(state: UInt64(channels * 31 + taps))
    let stride = channels + 5
    let x = rng.array(stride * taps + 8), f = rng.array(stride * taps + 8)
    // Taps in a scrambled order, as a window clipped by the image edge gives them.
    let xOffsets = (0..<taps).map { (($0 * 5) % taps) * stride }
    let fOffsets = (0..<taps).map { (($0 * 3 + 1) % taps) * stride + 2 }
    for table in [KernelTable.best, KernelTable.generic] {
        var acc = [Int32](repeating: 99, count: channels + 1)
        x.withUnsafeBufferPointer { xb in
            f.withUnsafeBufferPointer { fb in
                acc.withUnsafeMutableBufferPointer { ab in
                    table.int16DepthwisePixel(channels, taps, xb.baseAddress!, xOffsets, fb.baseAddress!, fOffsets, ab.baseAddress!)
                }
            }
        }
        var wrong = 0
        for c in 0..<channels {
            var s: Int64 = 0
            for t in 0..<taps { s += Int64(x[xOffsets[t] + c]) * Int64(f[fOffsets[t] + c]) }
            if Int64(acc[c]) != s { wrong += 1 }
        }
        #expect(wrong == 0 && acc[channels] == 99, "\(table.name) \(channels) channels x \(taps) taps: \(wrong) wrong")
    }
}
