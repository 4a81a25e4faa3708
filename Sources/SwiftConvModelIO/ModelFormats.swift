import SwiftConvIR
import SwiftConvONNX

/// The registry of model file formats: each format's magic-bytes detector, reader and writer,
/// registered once. The C ABI and the CLI ask it instead of switching on the format.
public enum ModelFormats {}
