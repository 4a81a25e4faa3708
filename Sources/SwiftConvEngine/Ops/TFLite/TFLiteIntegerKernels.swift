import SwiftConvIR

/// The integer (int8/int16, full-integer and dynamic-range) paths of the `tflite` domain's
/// kernels, kept apart from the float paths: every `tflite` factory first asks here.
enum TFLiteIntegerKernels {
    /// The integer kernel for `ctx`'s node when its input or weight types call for one
    /// (TFLite's reference fixed-point arithmetic), nil for the float path.
    static func make(_ ctx: KernelBuildContext) throws -> Kernel? { nil }
}
