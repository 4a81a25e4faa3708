import SwiftConvTestSupport
import Testing

@testable import SwiftConvIR

@Suite struct ModelTextTests {
    func model() -> Model {
        var m = makeModel(
            [
                Node(
                    name: "conv0", opType: "Conv", inputs: ["input", "w", "b"], outputs: ["c"],
                    attributes: [attr("kernel_shape", [3, 3]), attr("pads", [1, 1, 1, 1])]),
                Node(opType: "Relu", inputs: ["c"], outputs: ["r"]),
                Node(opType: "Relu", inputs: ["r"], outputs: ["output"]),
                Node(opType: "Normalizer", domain: "ai.onnx.ml", inputs: ["output"], outputs: ["n"]),
            ], inputs: [tensorInfo("input", .float32, [s("batch"), d(3), d(8), d(8)])], outputs: ["output"],
            initializers: [floatTensor("w", shape: [4, 3, 3, 3]), floatTensor("b", shape: [4])],
            extraOpsets: [OpsetID(domain: "ai.onnx.ml", version: 3)])
        m.producerName = "pytorch"
        m.producerVersion = "2.3.0"
        m.graph.outputs[0].type = .tensor(elementType: .float32, shape: [s("batch"), d(4), d(8), d(8)])
        return m
    }

    @Test func summaryListsEverything() {
        let text = ModelText.summary(model())
        #expect(text.contains("producer pytorch 2.3.0"))
        #expect(text.contains("Opsets: ai.onnx 17, ai.onnx.ml 3"))
        #expect(text.contains("  input  float32  [batch, 3, 8, 8]"))
        #expect(text.contains("  output  float32  [batch, 4, 8, 8]"))
        #expect(text.contains("Ops (4 nodes, 3 types):"))
        #expect(text.contains("  Relu                   2"))
        #expect(text.contains("  ai.onnx.ml.Normalizer  1"))
        // 4*3*3*3 + 4 = 112 parameters, 448 bytes.
        #expect(text.contains("Parameters: 112 in 2 initializers, 448 bytes (448 B)"))
    }

    @Test func printableGraphShape() {
        let text = ModelText.printableGraph(model())
        let expected = """
            graph g (
              %input[float, batchx3x8x8]
            ) initializers (
              %w[float, 4x3x3x3]
              %b[float, 4]
            ) {
              %c = Conv[kernel_shape = [3, 3], pads = [1, 1, 1, 1]](%input, %w, %b)  # conv0
              %r = Relu(%c)
              %output = Relu(%r)
              %n = ai.onnx.ml.Normalizer(%output)
              return %output
            }

            """
        #expect(text == expected)
    }

    @Test func numberFormatting() {
        #expect(ModelText.grouped(1234567) == "1,234,567")
        #expect(ModelText.grouped(12) == "12")
        #expect(ModelText.humanBytes(13_421_772) == "12.8 MiB")
    }
}
