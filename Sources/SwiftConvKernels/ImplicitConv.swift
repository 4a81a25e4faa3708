import CSwiftConvKernels

/// A 2-D convolution as a GEMM of output pixels by output channels whose pixel operand is read
/// straight from the image (an implicit GEMM), for the `KernelTable.implicitConvTiles` slot.
///
/// im2col writes the kernel size times the output before the GEMM reads it back, and packs it
/// again; on a 56x56 map of 64 channels that is 7 MB of traffic per convolution, more than L2.
/// Here each depth step (input channel, filter tap) is a fixed offset from an output pixel's
/// first input element, so the tile broadcasts input values in place. Padding is materialized
/// once (a zero-bordered copy, about the size of the input) so the tile never tests bounds.
/// Output channels go across the vector lanes: a 7x7 map (49 pixels) fills 9 tiles of 6 with
/// little waste, where pixels across the lanes would round 49 up to 64.
public enum ImplicitConv {
    /// Output pixels per tile and output channels per weight panel.
    public static let tilePixels = 6
    public static let panelChannels = 16
    /// Weights that stay in L2 together while the tiles pass over them.
    static let panelBlockBytes = 256 << 10

    /// Floats of `pack`'s layout for `channels` output channels of `depth` weights each.
    public static func packedCount(channels: Int, depth: Int) -> Int {
        (channels + panelChannels - 1) / panelChannels * depth * panelChannels
    }

    /// Packs row-major weights (`channels` rows of `depth`) into panels of 16 channels, depth-major
    /// within a panel, zeros past the last channel.
    public static func pack(_ w: UnsafePointer<Float>, channels: Int, depth: Int, into dst: UnsafeMutablePointer<Float>) {
        let panels = (channels + panelChannels - 1) / panelChannels
        dst.initialize(repeating: 0, count: panels * depth * panelChannels)
        for c in 0..<channels {
            let panel = dst + (c / panelChannels) * depth * panelChannels + c % panelChannels
            let row = w + c * depth
            for k in 0..<depth { panel[k * panelChannels] = row[k] }
        }
    }

    /// The padded image the tiles read: its extents, and whether the input itself will do
    /// (no padding, and every read inside it).
    public struct Padding {
        public let height: Int
        public let width: Int
        public let top: Int
        public let left: Int
        public var inPlace: Bool { top == 0 && left == 0 && height == sourceHeight && width == sourceWidth }
        let sourceHeight: Int
        let sourceWidth: Int

        /// `window` must be 2-D with valid (checked) extents.
        public init(_ window: ConvWindow) {
            func extent(_ axis: Int) -> Int {
                let reach =
                    (window.outSpatial[axis] - 1) * window.strides[axis]
                    + (window.kernel[axis] - 1) * window.dilations[axis] + 1
                return max(window.inSpatial[axis] + window.padBegin[axis], reach)
            }
            top = window.padBegin[0]
            left = window.padBegin[1]
            height = extent(0)
            width = extent(1)
            sourceHeight = window.inSpatial[0]
            sourceWidth = window.inSpatial[1]
        }

        /// Copies `channels` planes of `x` into `dst` (channels x height x width) with zero borders.
        public func copy(_ x: UnsafePointer<Float>, channels: Int, into dst: UnsafeMutablePointer<Float>, parallel: ParallelFor) {
            let plane = height * width, rows = min(sourceHeight, height - top), cols = min(sourceWidth, width - left)
            parallel(channels) { range in
                for c in range {
                    let d = dst + c * plane, s = x + c * sourceHeight * sourceWidth
                    // Zeros only where no input lands: the rows above and below, and each row's margins.
                    d.initialize(repeating: 0, count: top * width)
                    let below = (top + rows) * width
                    (d + below).initialize(repeating: 0, count: plane - below)
                    let right = width - left - cols
                    for r in 0..<rows {
                        let line = d + (r + top) * width
                        line.initialize(repeating: 0, count: left)
                        (line + left).initialize(from: s + r * sourceWidth, count: cols)
                        (line + left + cols).initialize(repeating: 0, count: right)
                    }
                }
            }
        }
    }

    /// One image and group: `x` is `channels` planes laid out as `padding` says (the padded copy,
    /// or the input when `padding.inPlace`); `packed` is `pack`'s layout of `outChannels`; `bias`
    /// per output channel or nil. Output channel `c` goes to `y + c * window.outCount`, plus
    /// bias, clamped to `lo...hi`. `after(pixels, channels)` runs on each finished part.
    public static func run(
        _ tiles: @escaping KernelTable.ImplicitConvTiles, x: UnsafePointer<Float>, channels: Int, _ window: ConvWindow,
        padding: Padding, packed: UnsafePointer<Float>, outChannels: Int, bias: UnsafePointer<Float>?,
        lo: Float, hi: Float, y: UnsafeMutablePointer<Float>, parallel: ParallelFor,
        after: ((_ pixels: Range<Int>, _ channels: Range<Int>) -> Void)? = nil
    ) {
        let kh = window.kernel[0], kw = window.kernel[1], taps = kh * kw
        let depth = channels * taps, pixels = window.outCount
        let panels = (outChannels + panelChannels - 1) / panelChannels
        let tileCount = (pixels + tilePixels - 1) / tilePixels
        withUnsafeTemporaryAllocation(of: Int.self, capacity: taps) { offsets in
            var k = 0
            for i in 0..<kh {
                for j in 0..<kw {
                    offsets[k] = i * window.dilations[0] * padding.width + j * window.dilations[1]
                    k += 1
                }
            }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: panels * panelChannels) { paddedBias in
                for c in 0..<paddedBias.count { paddedBias[c] = c < outChannels ? bias?[c] ?? 0 : 0 }
                var problem = scv_conv_problem(
                    x: x, x_width: padding.width, out_width: window.outSpatial[1], pixels: pixels,
                    stride_h: window.strides[0], stride_w: window.strides[1], in_channels: channels,
                    x_plane: padding.height * padding.width, taps: taps, tap_offsets: UnsafePointer(offsets.baseAddress!),
                    weights: packed, channels: outChannels,
                    bias: UnsafePointer(paddedBias.baseAddress!), y: y, y_plane: pixels, lo: lo, hi: hi,
                    panel_block: max(1, panelBlockBytes / max(1, depth * panelChannels * MemoryLayout<Float>.stride)))
                withUnsafePointer(to: &problem) { p in
                    // Split pixels between threads when there are enough tiles; on small maps, channels.
                    if tileCount >= 8 {
                        parallel(tileCount) { range in
                            tiles(p, range, 0..<panels)
                            after?(range.lowerBound * tilePixels..<min(pixels, range.upperBound * tilePixels), 0..<outChannels)
                        }
                    } else {
                        parallel(panels) { range in
                            tiles(p, 0..<tileCount, range)
                            after?(0..<pixels, range.lowerBound * panelChannels..<min(outChannels, range.upperBound * panelChannels))
                        }
                    }
                }
            }
        }
    }
}
