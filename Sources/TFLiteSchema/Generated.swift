// Placeholder until scripts/generate-tflite-schema.py writes the accessors.
import SwiftConvFlatBuffers
