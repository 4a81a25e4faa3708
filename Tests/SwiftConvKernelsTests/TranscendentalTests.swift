import Glibc
import Testing

@testable import SwiftConvKernels

/// The float32 transcendental slots of every table this machine runs, against the same
/// functions in double precision: dense sweeps, the special values, and runs of every
/// length up to two vectors (the masked tails), in place and out of place.

/// The portable table and, where this CPU runs them, the AVX2 loops and the AVX-512 sigmoid
/// and swish loops.
let transcendentalTables: [KernelTable] = {
    guard KernelTable.best.name != "portable" else { return [KernelTable.generic] }
    var tables = [KernelTable.generic, KernelTable.avx2FMA]
    if KernelTable.avx512Available {
        var t = KernelTable.withAVX512Loops(KernelTable.avx2FMA)
        t.name += " with AVX-512 logistic loops"
        tables.append(t)
    }
    return tables
}()

/// A unary slot, its double-precision reference and allowed error `absolute + relative * |f(x)|`.
struct UnaryCase: @unchecked Sendable {
    let name: String
    let slot: (KernelTable) -> KernelTable.FloatLoop
    let reference: (Double) -> Double
    let absolute: Double
    let relative: Double
}

func erfDouble(_ x: Double) -> Double { Glibc.erf(x) }

let unaryCases: [UnaryCase] = [
    UnaryCase(name: "exp", slot: { $0.exp }, reference: { Glibc.exp(Swift.min($0, 88)) }, absolute: 1e-37, relative: 3e-7),
    UnaryCase(name: "sigmoid", slot: { $0.sigmoid }, reference: { 1 / (1 + Glibc.exp(-$0)) }, absolute: 1.2e-7, relative: 0),
    UnaryCase(name: "tanh", slot: { $0.tanh }, reference: { Glibc.tanh($0) }, absolute: 1.2e-7, relative: 0),
    UnaryCase(name: "erf", slot: { $0.erf }, reference: erfDouble, absolute: 1.3e-7, relative: 0),
    UnaryCase(
        name: "gelu", slot: { $0.gelu }, reference: { 0.5 * $0 * (1 + erfDouble($0 / 2.0.squareRoot())) },
        absolute: 4e-7, relative: 2.5e-7),
    UnaryCase(
        name: "geluTanh", slot: { $0.geluTanh },
        reference: { 0.5 * $0 * (1 + Glibc.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) },
        absolute: 1e-7, relative: 5e-7),
]

/// Runs a slot over `x` out of place.
func runSlot(_ f: KernelTable.FloatLoop, _ x: [Float]) -> [Float] {
    var y = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { px in
        y.withUnsafeMutableBufferPointer { py in
            if let a = px.baseAddress, let b = py.baseAddress { f(a, b, x.count) }
        }
    }
    return y
}

/// Dense sweeps over the range where each function changes, plus wide random values.
func sweepInputs() -> [Float] {
    var x = [Float]()
    var v: Float = -12
    while v <= 12 {
        x.append(v)
        v += 0.000_73
    }
    var rng = RandomFloats(state: 11)
    for _ in 0..<20_000 { x.append(rng.next() * 90) }
    return x
}

@Test(arguments: unaryCases)
func unarySlotsMatchDoublePrecision(_ c: UnaryCase) {
    let x = sweepInputs()
    for table in transcendentalTables {
        let y = runSlot(c.slot(table), x)
        var worst = 0.0, at: Float = 0
        for i in 0..<x.count {
            let ref = c.reference(Double(x[i]))
            let err = abs(Double(y[i]) - ref) / (c.absolute + c.relative * abs(ref))
            if !(err <= worst) {
                worst = err
                at = x[i]
            }
        }
        #expect(worst <= 1, "\(table.name) \(c.name): error \(worst) of the bound at x = \(at)")
    }
}

@Test(arguments: unaryCases)
func unarySlotsSpecialValues(_ c: UnaryCase) {
    let specials: [Float] = [
        .nan, .infinity, -.infinity, 0, -0.0, 1e-30, -1e-30, .leastNonzeroMagnitude, 0.625, -0.625, 0.9, -0.9, 1, -1,
        3.95, -3.95, 4, 20, -20, 87, -87.3, -87.4, 88, 89, 100, -100, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
    ]
    let generic = runSlot(c.slot(.generic), specials)
    for table in transcendentalTables {
        let y = runSlot(c.slot(table), specials)
        for i in 0..<specials.count {
            let (a, b) = (y[i], generic[i])
            if b.isNaN {
                #expect(a.isNaN, "\(table.name) \(c.name)(\(specials[i])) = \(a), portable NaN")
                continue
            }
            #expect(a.sign == b.sign || (a != 0 && b != 0 && abs(a - b) <= 1e-7), "\(table.name) \(c.name)(\(specials[i])) sign")
            #expect(a.isInfinite == b.isInfinite, "\(table.name) \(c.name)(\(specials[i])) = \(a), portable \(b)")
            if b.isFinite { #expect(abs(a - b) <= 2e-7 * Swift.max(1, abs(b)), "\(table.name) \(c.name)(\(specials[i])) = \(a) vs \(b)") }
        }
        // What the ops promise, independently of the portable loops.
        if c.name == "sigmoid" { #expect(y[0].isNaN && y[1] == 1 && y[2] >= 0 && y[2] < 1e-37) }
        if c.name == "tanh" || c.name == "erf" {
            #expect(y[0].isNaN && y[1] == 1 && y[2] == -1)
            #expect(y[4] == 0 && y[4].sign == .minus, "\(table.name) \(c.name)(-0) keeps the sign")
        }
        if c.name == "exp" { #expect(y[0].isNaN && y[2] == 0 && y[3] == 1) }
    }
}

@Test(arguments: unaryCases)
func unarySlotsEveryLengthInPlace(_ c: UnaryCase) {
    var rng = RandomFloats(state: 5)
    for table in transcendentalTables {
        for n in 0...19 {
            let x = rng.array(n + 3).map { $0 * 6 }
            // Out of place: nothing past `n` is written.
            var y = [Float](repeating: 42, count: n + 3)
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in c.slot(table)(px.baseAddress!, py.baseAddress!, n) }
            }
            #expect(y[n...] == [42, 42, 42], "\(table.name) \(c.name) n=\(n) wrote past the end")
            // In place gives the same values.
            var z = x
            z.withUnsafeMutableBufferPointer { p in c.slot(table)(UnsafePointer(p.baseAddress!), p.baseAddress!, n) }
            #expect(Array(z[..<n]) == Array(y[..<n]), "\(table.name) \(c.name) n=\(n) in place")
            #expect(Array(z[n...]) == Array(x[n...]), "\(table.name) \(c.name) n=\(n) in place wrote past the end")
            for i in 0..<n {
                let ref = c.reference(Double(x[i]))
                #expect(abs(Double(y[i]) - ref) <= c.absolute + c.relative * abs(ref), "\(table.name) \(c.name)(\(x[i]))")
            }
        }
    }
}

@Test func swishSlotMatchesDoublePrecision() {
    let x = sweepInputs()
    for table in transcendentalTables {
        for alpha: Float in [1, 0.5, 1.702] {
            for n in [x.count, 13] {
                var y = [Float](repeating: 42, count: x.count)
                x.withUnsafeBufferPointer { px in
                    y.withUnsafeMutableBufferPointer { py in table.swish(px.baseAddress!, py.baseAddress!, n, alpha) }
                }
                for i in 0..<n {
                    let v = Double(x[i])
                    let ref = v / (1 + Glibc.exp(-Double(alpha) * v))
                    #expect(abs(Double(y[i]) - ref) <= 1.8e-7 * Swift.max(1, abs(v)), "\(table.name) swish(\(v), \(alpha))")
                }
                if n < x.count { #expect(y[n] == 42) }
            }
        }
        // onnxruntime's Sigmoid then Mul: sigmoid(-inf) = 0 and -inf * 0 = NaN; -100 * 0 = -0.
        let special = runSlot({ x, y, n in table.swish(x, y, n, 1) }, [.nan, .infinity, -.infinity, -0.0, -100, 100])
        #expect(special[0].isNaN && special[1] == .infinity && special[2].isNaN, "\(table.name) swish \(special)")
        #expect(special[3] == 0 && special[3].sign == .minus && special[4] == 0 && special[4].sign == .minus)
        #expect(special[5] == 100)
    }
}

/// Sigmoid and swish over all of [-100, 100] in steps of 1e-4 against double precision, with
/// the bounds the slots promise: sigmoid within 1.2e-7 absolute and, where sigmoid(x) is a
/// normal float (x > -87.3), 2.5e-7 relative; swish within 1.8e-7 max(1, |x|). onnxruntime
/// 1.32's Sigmoid on the same grid: 1.7e-7 absolute, unbounded relative (it returns 0.5 plus
/// a rational function, which cancels for negative x: 650% off near x = -18, 0 below);
/// its Sigmoid then Mul: 2.1e-7 max(1, |x|).
@Test func logisticSlotsMatchDoublePrecisionOnWideGrid() {
    let x = (-1_000_000...1_000_000).map { Float(Double($0) * 1e-4) }
    let normal = Double(Float.leastNormalMagnitude)
    for table in transcendentalTables {
        let s = runSlot(table.sigmoid, x)
        var worstAbsolute = 0.0, worstRelative = 0.0
        for i in 0..<x.count {
            let ref = 1 / (1 + Glibc.exp(-Double(x[i])))
            let err = abs(Double(s[i]) - ref)
            worstAbsolute = Swift.max(worstAbsolute, err)
            if ref >= normal { worstRelative = Swift.max(worstRelative, err / ref) }
        }
        #expect(worstAbsolute <= 1.2e-7, "\(table.name) sigmoid absolute error \(worstAbsolute)")
        #expect(worstRelative <= 2.5e-7, "\(table.name) sigmoid relative error \(worstRelative)")
        for alpha: Float in [1, 1.702] {
            let y = runSlot({ x, y, n in table.swish(x, y, n, alpha) }, x)
            var worst = 0.0
            for i in 0..<x.count {
                let v = Double(x[i])
                let ref = v / (1 + Glibc.exp(-Double(alpha) * v))
                worst = Swift.max(worst, abs(Double(y[i]) - ref) / Swift.max(1, abs(v)))
            }
            #expect(worst <= 1.8e-7, "\(table.name) swish(alpha \(alpha)) error \(worst) max(1, |x|)")
        }
    }
}

@Test func softmaxRowSlotMatchesDoublePrecision() {
    var rng = RandomFloats(state: 3)
    for table in transcendentalTables {
        for n in Array(1...37) + [1000] {
            for spread: Float in [1, 30] {
                let x = rng.array(n).map { $0 * spread + 5 }
                let m = Double(x.max()!)
                let e = x.map { Glibc.exp(Double($0) - m) }
                let sum = e.reduce(0, +)
                for log in [false, true] {
                    var y = [Float](repeating: 42, count: n + 1)
                    x.withUnsafeBufferPointer { px in
                        y.withUnsafeMutableBufferPointer { py in table.softmaxRow(px.baseAddress!, py.baseAddress!, n, log) }
                    }
                    #expect(y[n] == 42, "\(table.name) softmax n=\(n) wrote past the end")
                    var worst = 0.0
                    for i in 0..<n {
                        let ref = log ? Double(x[i]) - m - Glibc.log(sum) : e[i] / sum
                        worst = Swift.max(worst, abs(Double(y[i]) - ref) / Swift.max(1, abs(ref)))
                    }
                    #expect(worst <= 1e-6, "\(table.name) softmax n=\(n) log=\(log): error \(worst)")
                }
            }
        }
    }
}
