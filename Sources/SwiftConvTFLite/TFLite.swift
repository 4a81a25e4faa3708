// Placeholder until the TFLite <-> IR mapping lands.
import SwiftConvIR
