import SwiftConvIR

/// Resize, GridSample, AffineGrid, RoiAlign, NonMaxSuppression, DepthToSpace, SpaceToDepth, CenterCropPad, Col2Im.
enum ImageKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
