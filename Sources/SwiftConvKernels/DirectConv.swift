import CSwiftConvKernels

/// A direct 2-D convolution with output pixels across the vector lanes, for the
/// `KernelTable.directConv` slot: the CNN stems (3 input channels) and other convolutions
/// of few input channels, where the implicit GEMM's depth is too short to pay for transposing
/// its tiles into NCHW.
///
/// The image is first copied with its zero padding, each row's columns split by phase for the
/// column stride (at stride 2 the even columns, then the odd ones), so sixteen consecutive
/// output pixels of one tap read sixteen consecutive floats at either stride.
public enum DirectConv {
    /// Output channels per weight block (the accumulators of one job).
    public static let blockChannels = 8
    /// Input channels up to which every convolution routes here: the stems.
    public static let stemInChannels = 4
    /// Beyond the stems, up to this many input and output channels (measured on Zen 4: 3x3
    /// convolutions of 8 to 32 channels into 16 to 32 won by 5-25%; into 64 or more, the implicit
    /// GEMM's 32-channel tiles were faster).
    public static let maxInChannels = 32
    public static let maxOutChannels = 32
    /// The largest kernel extent routed here.
    public static let maxKernel = 7
    /// Output rows narrower than one vector leave most lanes idle: those stay with the other paths.
    public static let minOutWidth = 16

    /// Whether a 2-D convolution of `inChannels` into `outChannels` with this kernel, strides and
    /// dilations runs here (at output widths of `minOutWidth` or more).
    public static func routes(inChannels: Int, outChannels: Int, kernel: [Int], strides: [Int], dilations: [Int]) -> Bool {
        let channels =
            (1...stemInChannels).contains(inChannels)
            || ((1...maxInChannels).contains(inChannels) && (1...maxOutChannels).contains(outChannels))
        return channels && kernel.count == 2 && strides.count == 2 && dilations.count == 2
            && kernel.allSatisfy { (1...maxKernel).contains($0) } && strides.allSatisfy { $0 == 1 || $0 == 2 }
            && dilations.allSatisfy { $0 == 1 }
    }

    /// Floats of `pack`'s layout for `channels` output channels of `depth` weights each.
    public static func packedCount(channels: Int, depth: Int) -> Int {
        (channels + blockChannels - 1) / blockChannels * depth * blockChannels
    }

    /// Packs row-major weights (`channels` rows of `depth`) into blocks of 8 channels,
    /// depth-major within a block, zeros past the last channel.
    public static func pack(_ w: UnsafePointer<Float>, channels: Int, depth: Int, into dst: UnsafeMutablePointer<Float>) {
        let blocks = (channels + blockChannels - 1) / blockChannels
        dst.initialize(repeating: 0, count: blocks * depth * blockChannels)
        for c in 0..<channels {
            let block = dst + (c / blockChannels) * depth * blockChannels + c % blockChannels
            let row = w + c * depth
            for k in 0..<depth { block[k * blockChannels] = row[k] }
        }
    }

    /// The padded, phase-split copy of one image the loop reads.
    public struct Layout {
        /// Padded rows, and floats per row (`stride` phases of `phaseWidth`).
        public let height: Int
        public let rowLength: Int
        public let phaseWidth: Int
        let stride: Int
        let top: Int
        let left: Int
        let sourceHeight: Int
        let sourceWidth: Int

        /// `window` must be 2-D with valid (checked) extents, dilation 1, column stride 1 or 2.
        public init(_ window: ConvWindow) {
            func extent(_ axis: Int) -> Int {
                let reach = (window.outSpatial[axis] - 1) * window.strides[axis] + window.kernel[axis]
                return max(window.inSpatial[axis] + window.padBegin[axis], reach)
            }
            top = window.padBegin[0]
            left = window.padBegin[1]
            height = extent(0)
            stride = window.strides[1]
            phaseWidth = (extent(1) + stride - 1) / stride
            rowLength = phaseWidth * stride
            sourceHeight = window.inSpatial[0]
            sourceWidth = window.inSpatial[1]
        }

        /// Floats of the copy of one image of `channels` planes (the caller checks the product).
        public var plane: Int { height * rowLength }

        /// Where tap (ky, kx) of output pixel 0 of output row 0 lies in a plane of the copy.
        func tapOffset(_ ky: Int, _ kx: Int) -> Int { ky * rowLength + (kx % stride) * phaseWidth + kx / stride }

        /// Copies `channels` planes of `x` into `dst` (`channels * plane` floats) with zero
        /// borders, each row's columns by phase.
        public func copy(
            _ loops: DirectConvLoops, _ x: UnsafePointer<Float>, channels: Int, into dst: UnsafeMutablePointer<Float>,
            parallel: ParallelFor
        ) {
            parallel(channels * height) { jobs in loops.copy(x, self, dst, jobs) }
        }
    }

    /// One image: `x` is `layout`'s copy of `channels` planes; `packed` is `pack`'s layout of
    /// `outChannels`; `bias` per output channel or nil. Output channel `c` goes to
    /// `y + c * window.outCount`, plus bias, clamped to `lo...hi`. `after(row, channels)` runs on
    /// each finished output row of a block of channels.
    public static func run(
        _ loops: DirectConvLoops, x: UnsafePointer<Float>, channels: Int, _ window: ConvWindow,
        layout: Layout, packed: UnsafePointer<Float>, outChannels: Int, bias: UnsafePointer<Float>?,
        lo: Float, hi: Float, y: UnsafeMutablePointer<Float>, parallel: ParallelFor,
        after: ((_ row: Int, _ channels: Range<Int>) -> Void)? = nil
    ) {
        let kh = window.kernel[0], kw = window.kernel[1], taps = kh * kw
        let blocks = (outChannels + blockChannels - 1) / blockChannels
        let jobs = window.outSpatial[0] * blocks
        withUnsafeTemporaryAllocation(of: Int.self, capacity: taps) { offsets in
            for i in 0..<kh {
                for j in 0..<kw { offsets[i * kw + j] = layout.tapOffset(i, j) }
            }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: blocks * blockChannels) { paddedBias in
                for c in 0..<paddedBias.count { paddedBias[c] = c < outChannels ? bias?[c] ?? 0 : 0 }
                var problem = scv_direct_conv(
                    x: x, x_row: layout.rowLength, x_plane: layout.plane, in_channels: channels,
                    stride_h: window.strides[0], taps: taps, tap_offsets: UnsafePointer(offsets.baseAddress!),
                    out_width: window.outSpatial[1], weights: packed, channels: outChannels,
                    bias: UnsafePointer(paddedBias.baseAddress!), y: y, y_plane: window.outCount, lo: lo, hi: hi)
                withUnsafePointer(to: &problem) { p in
                    parallel(jobs) { range in
                        loops.rows(p, range)
                        guard let after else { return }
                        for job in range {
                            let b = job % blocks, c0 = b * blockChannels
                            after(job / blocks, c0..<min(outChannels, c0 + blockChannels))
                        }
                    }
                }
            }
        }
    }
}

/// The loops of `DirectConv` for one ISA: the padded, phase-split copy of image rows (jobs over
/// channels x `layout.height`) and the output rows (jobs over output rows x blocks of 8 channels).
public struct DirectConvLoops: Sendable {
    public var copy:
        @Sendable (
            _ x: UnsafePointer<Float>, _ layout: DirectConv.Layout, _ dst: UnsafeMutablePointer<Float>, _ jobs: Range<Int>
        ) -> Void
    public var rows: @Sendable (_ problem: UnsafePointer<scv_direct_conv>, _ jobs: Range<Int>) -> Void
}
