import SwiftConvTestSupport
import Testing

@testable import SwiftConvIR

@Suite struct ModelCheckerTests {
    func validModel() -> Model {
        var m = makeModel(
            [Node(name: "relu1", opType: "Relu", inputs: ["x"], outputs: ["y"])],
            inputs: [tensorInfo("x", .float32, [s("N"), d(3)])], outputs: ["y"])
        m.graph.outputs[0].type = .tensor(elementType: .float32, shape: [s("N"), d(3)])
        return m
    }

    /// The validation message, or nil when the model passes.
    func failure(_ m: Model) -> String? {
        validationFailure { try ModelChecker.check(m) }
    }

    @Test func validModelPasses() {
        #expect(failure(validModel()) == nil)
    }

    @Test func irVersionAndOpsets() {
        var m = validModel()
        m.irVersion = 0
        #expect(failure(m)?.contains("ir_version") == true)
        m = validModel()
        m.opsetImports = []
        #expect(failure(m)?.contains("must import at least one opset") == true)
        m = validModel()
        m.opsetImports = [OpsetID(domain: "", version: 99)]
        #expect(failure(m)?.contains("version 99") == true)
        m = validModel()
        m.opsetImports.append(OpsetID(domain: "com.microsoft", version: 1))
        #expect(failure(m) == nil)
    }

    @Test func graphNameRequired() {
        var m = validModel()
        m.graph.name = ""
        #expect(failure(m)?.contains("graph name") == true)
    }

    @Test func undefinedInputNamesNode() {
        var m = validModel()
        m.graph.nodes[0].inputs = ["nope"]
        let msg = failure(m)
        #expect(msg?.hasPrefix("node 'relu1' (Relu):") == true)
        #expect(msg?.contains("'nope'") == true)
    }

    @Test func ssaViolations() {
        var m = validModel()
        m.graph.nodes.append(Node(name: "again", opType: "Relu", inputs: ["x"], outputs: ["y"]))
        #expect(failure(m)?.hasPrefix("node 'again' (Relu): output 'y' is already defined") == true)
        m = validModel()
        m.graph.nodes[0].outputs = ["x"]
        #expect(failure(m)?.hasPrefix("node 'relu1' (Relu)") == true)
    }

    @Test func unnamedNodeIsNamedByIndex() {
        var m = validModel()
        m.graph.nodes[0].name = ""
        m.graph.nodes[0].inputs = ["x", "x"]
        #expect(failure(m)?.hasPrefix("node #0 (Relu): has 2 inputs") == true)
    }

    @Test func unknownOpAndDomain() {
        var m = validModel()
        m.graph.nodes[0].opType = "Frobnicate"
        #expect(failure(m)?.contains("no op 'Frobnicate'") == true)
        m = validModel()
        m.graph.nodes[0].domain = "custom.ops"
        #expect(failure(m)?.contains("no opset import for domain 'custom.ops'") == true)
        m.opsetImports.append(OpsetID(domain: "custom.ops", version: 1))
        #expect(failure(m) == nil)
    }

    @Test func opTooNewForOpset() {
        var m = validModel()
        m.graph.nodes[0].opType = "Gelu" // since opset 20
        #expect(failure(m)?.contains("opset version 17") == true)
    }

    @Test func attributes() {
        var m = validModel()
        m.graph.nodes = [Node(name: "cat", opType: "Concat", inputs: ["x", "x"], outputs: ["y"])]
        #expect(failure(m) == "node 'cat' (Concat): required attribute 'axis' is missing")
        m.graph.nodes[0].attributes = [attrF("axis", 1)]
        #expect(failure(m) == "node 'cat' (Concat): attribute 'axis' should be INT, not FLOAT")
        m.graph.nodes[0].attributes = [attr("axis", 1)]
        #expect(failure(m) == nil)
    }

    @Test func emptyRequiredInput() {
        var m = validModel()
        m.graph.nodes = [Node(name: "mm", opType: "Gemm", inputs: ["", "x"], outputs: ["y"])]
        #expect(failure(m)?.hasPrefix("node 'mm' (Gemm): input 0 is required") == true)
        // An omitted optional input is fine.
        m.graph.initializers = [floatTensor("w", shape: [3, 3])]
        m.graph.nodes = [Node(name: "mm", opType: "Gemm", inputs: ["x", "w", ""], outputs: ["y"])]
        #expect(failure(m) == nil)
    }

    @Test func initializerSizes() {
        var m = validModel()
        m.graph.initializers = [
            Tensor(name: "w", dtype: .float32, shape: [3], storage: TensorStorage(copyingArray: [UInt8](repeating: 0, count: 8)))
        ]
        #expect(failure(m) == "initializer 'w': has 8 bytes of data, shape [3] of float needs 12 bytes")
        m.graph.initializers = [Tensor(name: "s", shape: [2], strings: [Array("a".utf8)])]
        #expect(failure(m)?.hasPrefix("initializer 's': has 1 strings") == true)
        m.graph.initializers = [Tensor(name: "n", dtype: .float32, shape: [-1, 2], storage: .empty)]
        #expect(failure(m)?.hasPrefix("initializer 'n': negative dimension") == true)
        m.graph.initializers = [Tensor(name: "h", dtype: .float32, shape: [Int.max, Int.max], storage: .empty)]
        #expect(failure(m)?.hasPrefix("initializer 'h'") == true)
        m.graph.initializers = [floatTensor("d", shape: [1]), floatTensor("d", shape: [1])]
        #expect(failure(m) == "initializer 'd': name is not unique")
    }

    @Test func graphOutputsAndInputsNeedTypes() {
        var m = validModel()
        m.graph.outputs[0].type = nil
        #expect(failure(m) == "graph output 'y': type is missing")
        m = validModel()
        m.graph.outputs.append(tensorInfo("ghost", .float32, [d(1)]))
        #expect(failure(m)?.hasPrefix("graph output 'ghost'") == true)
    }

    @Test func subgraphSeesOuterScope() {
        let body = Graph(
            name: "then", nodes: [Node(name: "inner", opType: "Relu", inputs: ["x"], outputs: ["t"])],
            outputs: [tensorInfo("t", .float32, nil)])
        let bad = Graph(
            name: "else", nodes: [Node(name: "innerBad", opType: "Relu", inputs: ["zzz"], outputs: ["e"])],
            outputs: [tensorInfo("e", .float32, nil)])
        var m = validModel()
        m.graph.inputs.append(tensorInfo("c", .bool, []))
        m.graph.nodes.append(
            Node(
                name: "if", opType: "If", inputs: ["c"], outputs: ["z"],
                attributes: [
                    Attribute(name: "then_branch", value: .graph(body)),
                    Attribute(name: "else_branch", value: .graph(body)),
                ]))
        #expect(failure(m) == nil)
        m.graph.nodes[1].attributes[1] = Attribute(name: "else_branch", value: .graph(bad))
        #expect(failure(m)?.hasPrefix("node 'innerBad' (Relu)") == true)
    }

    @Test func functionCallsAreAccepted() {
        var m = validModel()
        m.opsetImports.append(OpsetID(domain: "local", version: 1))
        m.functions = [
            Function(
                name: "Twice", domain: "local", inputs: ["a"], outputs: ["b"],
                nodes: [Node(opType: "Relu", inputs: ["a"], outputs: ["b"])],
                opsetImports: [OpsetID(domain: "", version: 17)])
        ]
        m.graph.nodes = [Node(name: "call", opType: "Twice", domain: "local", inputs: ["x"], outputs: ["y"])]
        #expect(failure(m) == nil)
        var inferred = m
        inferred.graph.outputs[0].type = nil
        try? ShapeInference.infer(&inferred)
        #expect(inferred.graph.outputs[0].type == .tensor(elementType: .float32, shape: [s("N"), d(3)]))
    }

    @Test func registryPicksNewestVersionNotAboveOpset() {
        let r = OpRegistry.standard
        #expect(r.schema(domain: "", opType: "Relu", version: 13)?.sinceVersion == 13)
        #expect(r.schema(domain: "ai.onnx", opType: "Relu", version: 12)?.sinceVersion == 6)
        #expect(r.schema(domain: "", opType: "Squeeze", version: 12)?.attribute("axes") != nil)
        #expect(r.schema(domain: "", opType: "Squeeze", version: 13)?.attribute("axes") == nil)
        #expect(r.schema(domain: "", opType: "Gelu", version: 19) == nil)
        #expect(r.schema(domain: "ai.onnx.ml", opType: "ZipMap", version: 3) != nil)
    }

    @Test func longChainIsLinear() throws {
        // 20k nodes: quadratic scope copies would take minutes; this must stay well under a second or two.
        var nodes: [Node] = []
        var prev = "x"
        for i in 0..<20_000 {
            nodes.append(Node(name: "n\(i)", opType: "Relu", inputs: [prev], outputs: ["v\(i)"]))
            prev = "v\(i)"
        }
        var m = makeModel(nodes, inputs: [tensorInfo("x", .float32, [s("N"), d(8)])], outputs: [prev])
        try ShapeInference.infer(&m)
        #expect(m.graph.valueInfo.count == 19_999)
        try ModelChecker.check(m)
        #expect(ModelText.summary(m).contains("Relu  20000"))
    }
}
