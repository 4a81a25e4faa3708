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

/// The requantization slot of `best` against `generic` (whose arithmetic is `FixedPoint`'s,
/// checked against LiteRT elsewhere) over accumulators and multipliers across their ranges,
/// the overflowing left shifts and the exact rounding ties included.
@Test(arguments: [false, true])
func requantizeMatchesGeneric(singleRounding: Bool) {
    var state: UInt64 = singleRounding ? 11 : 5
    func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 16
    }
    let count = 4099
    var acc = [Int32](), bias = [Int32](), mantissa = [Int32](), shift = [Int32]()
    for i in 0..<count {
        let special: [Int32] = [0, 1, -1, Int32.max, Int32.min, 1 << 20, -(1 << 20), 3 << 9, -(3 << 9)]
        acc.append(i % 7 == 0 ? special[i / 7 % special.count] : Int32(truncatingIfNeeded: Int64(next() % (1 << 26)) - (1 << 25)))
        bias.append(Int32(truncatingIfNeeded: Int64(next() % 20000) - 10000))
        mantissa.append(i % 11 == 0 ? 0 : Int32((1 << 30) + Int64(next() % (1 << 30))))
        shift.append(Int32(Int64(next() % 62) - 31))
    }
    for withBias in [false, true] {
        var outBest = [UInt8](repeating: 0, count: count), outGeneric = outBest
        for (table, out) in [(KernelTable.best, 0), (KernelTable.generic, 1)] {
            var o = [UInt8](repeating: 0, count: count)
            bias.withUnsafeBufferPointer { b in
                table.requantize(count, acc, withBias ? b.baseAddress! : nil, mantissa, shift, singleRounding, -3, -128, 127, &o)
            }
            if out == 0 { outBest = o } else { outGeneric = o }
        }
        let wrong = zip(outBest, outGeneric).filter { $0 != $1 }.count
        #expect(wrong == 0, "\(wrong) of \(count) outputs differ (bias \(withBias), single rounding \(singleRounding))")
        // Not all clamped: the comparison sees real values.
        #expect(Set(outGeneric).count > 100)
    }
}

/// The quantized ADD slot of `best` against `generic` (FixedPoint's arithmetic) for every pair
/// of byte values, int8 and uint8, with multipliers as TFLite's Prepare makes them.
@Test(arguments: [true, false])
func quantizedAddMatchesGeneric(signed: Bool) {
    let twiceMax = 2 * 0.05
    let params = QuantizedAdd(
        offset1: signed ? 3 : -128, offset2: signed ? -7 : -120, leftShift: 20,
        m1: FixedPoint.Multiplier(0.05 / twiceMax), m2: FixedPoint.Multiplier(-0.031 / twiceMax),
        mOut: FixedPoint.Multiplier(twiceMax / (Double(1 << 20) * 0.07)), zeroPoint: signed ? -5 : 130,
        lo: signed ? -128 : 0, hi: signed ? 120 : 255)
    var x = [UInt8](), y = [UInt8]()
    for a in 0..<256 {
        for b in 0..<256 {
            x.append(UInt8(a))
            y.append(UInt8(b))
        }
    }
    x.append(7) // a tail past the vector width
    y.append(250)
    var best = [UInt8](repeating: 0, count: x.count), generic = best
    KernelTable.best.quantizedAdd(x.count, x, y, signed, params, &best)
    KernelTable.generic.quantizedAdd(x.count, x, y, signed, params, &generic)
    #expect(best == generic)
    #expect(Set(generic).count > 100)
}
