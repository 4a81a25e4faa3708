import SwiftConvIR
import Testing

@testable import SwiftConvEngine

private let context = ExecutionContext(threads: ThreadPool(threads: 1))

private func iota(_ shape: [Int]) -> Tensor {
    Tensor.from((0..<(elementCount(shape) ?? 0)).map { Float($0) }, shape: shape)
}

/// The tiled path agrees with a naive transpose for odd sizes and a batch dimension.
@Test func tiledTransposeMatchesNaive() throws {
    let x = iota([3, 37, 45])
    let y = try transposed(x, [0, 2, 1])
    #expect(y.shape == [3, 45, 37])
    let v = y.values(as: Float.self)
    for b in 0..<3 {
        for i in 0..<45 {
            for j in 0..<37 {
                #expect(v[(b * 45 + i) * 37 + j] == Float((b * 37 + j) * 45 + i))
            }
        }
    }
}

/// Negative steps, clamping of out-of-range starts and ends.
@Test func sliceNegativeStepClamps() throws {
    let k = SliceKernel(attrs: .init(starts: [100], ends: [-100], axes: [0], steps: [-2]))
    let out = try k.run([.tensor(iota([5]))], context)[0].tensor!
    #expect(out.values(as: Float.self) == [4, 2, 0])
}

/// A slice along the first axis shares the input's storage.
@Test func sliceAlongFirstAxisIsAView() throws {
    let x = iota([4, 3])
    let k = SliceKernel(attrs: .init(starts: [1], ends: [3], axes: [0], steps: nil))
    let out = try k.run([.tensor(x)], context)[0].tensor!
    #expect(out.values(as: Float.self) == [3, 4, 5, 6, 7, 8])
    #expect(out.storage.bytes.baseAddress == x.storage.bytes.baseAddress.map { $0 + 12 })
}

/// Layout ops move strings through their element indices.
@Test func stringsMoveThroughLayoutOps() throws {
    let s = Tensor(shape: [2, 2], strings: ["a", "b", "c", "d"].map { Array($0.utf8) })
    let t = try transposed(s, [1, 0])
    #expect(t.strings.map { String(decoding: $0, as: UTF8.self) } == ["a", "c", "b", "d"])
    let c = try concatenate([s, s], axis: 1)
    #expect(c.strings.map { String(decoding: $0, as: UTF8.self) } == ["a", "b", "a", "b", "c", "d", "c", "d"])
}

/// Reflect padding must be narrower than the input, as in onnxruntime (which refuses wider
/// pads); within that it mirrors without repeating the edge.
@Test func reflectPadWiderThanTheInputIsRefused() throws {
    let wide = PadKernel(mode: "reflect", constPads: [5, 0], attrValue: nil, constAxes: nil)
    #expect(throws: SwiftConvError.self) { try wide.run([.tensor(iota([3]))], context) }
    let k = PadKernel(mode: "reflect", constPads: [2, 1], attrValue: nil, constAxes: nil)
    let out = try k.run([.tensor(iota([3]))], context)[0].tensor!
    #expect(out.values(as: Float.self) == [2, 1, 0, 1, 2, 1])
}
