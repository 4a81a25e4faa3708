import SwiftConvIR

/// Layout ops that move or reinterpret data: Reshape, Transpose, Concat, Split, Slice, Pad, Expand, Tile, Shape, Size, Identity.
enum ShapeKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
