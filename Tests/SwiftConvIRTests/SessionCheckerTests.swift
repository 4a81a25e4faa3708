import SwiftConvTestSupport
import Testing

@testable import SwiftConvIR

/// `ModelChecker.checkForSession`: what onnxruntime refuses at session creation, and
/// nothing it accepts.
@Suite struct SessionCheckerTests {
    /// x -> Relu (n1) -> h -> Relu (n2) -> y, with an anonymous graph and no doc strings.
    func validModel() -> Model {
        var m = makeModel(
            [
                Node(name: "n1", opType: "Relu", inputs: ["x"], outputs: ["h"]),
                Node(name: "n2", opType: "Relu", inputs: ["h"], outputs: ["y"]),
            ],
            inputs: [tensorInfo("x", .float32, [d(2)])], outputs: ["y"],
            initializers: [floatTensor("w", shape: [2])])
        m.graph.name = ""
        m.graph.outputs[0].type = .tensor(elementType: .float32, shape: [d(2)])
        return m
    }

    /// The validation message, or nil when the model passes.
    func failure(_ m: Model) -> String? {
        validationFailure { try ModelChecker.checkForSession(m) }
    }

    @Test func validModelWithoutGraphNamePasses() {
        #expect(failure(validModel()) == nil)
    }

    @Test func twoNodesProducingOneValue() {
        var m = validModel()
        m.graph.nodes[1].outputs = ["h"]
        m.graph.outputs[0].name = "h"
        #expect(failure(m) == "node 'n2' (Relu): output 'h' is already produced by node 'n1' (Relu); every value must be assigned once")
    }

    @Test func nodeListingOneOutputTwice() {
        var m = validModel()
        m.graph.nodes = [
            Node(
                name: "sp", opType: "Split", inputs: ["x"], outputs: ["a", "a"],
                attributes: [attr("axis", 0)])
        ]
        m.graph.outputs = [tensorInfo("a", .float32, nil)]
        #expect(failure(m)?.hasPrefix("node 'sp' (Split): output 'a' is already produced by this node") == true)
    }

    @Test func overwritingAGraphInputOrInitializer() {
        var m = validModel()
        m.graph.nodes[1].outputs = ["x"]
        m.graph.outputs[0].name = "x"
        #expect(failure(m) == "node 'n2' (Relu): output 'x' overwrites a graph input of the same name")
        m = validModel()
        m.graph.nodes[1].outputs = ["w"]
        m.graph.outputs[0].name = "w"
        #expect(failure(m) == "node 'n2' (Relu): output 'w' overwrites an initializer of the same name")
    }

    @Test func arityAgainstTheSchema() {
        var m = validModel()
        m.graph.nodes[0].inputs = ["x", "x"]
        #expect(failure(m) == "node 'n1' (Relu): has 2 inputs, Relu-14 takes 1")
        m = validModel()
        m.graph.nodes[0].outputs = ["h", "extra"]
        #expect(failure(m) == "node 'n1' (Relu): has 2 outputs, Relu-14 gives 1")
        m = validModel()
        m.graph.nodes[0].inputs = []
        #expect(failure(m)?.hasPrefix("node 'n1' (Relu): has 0 inputs") == true)
    }

    @Test func unknownOpsAreLeftToTheKernelRegistry() {
        var m = validModel()
        m.graph.nodes[0].opType = "NoSuchOp"
        m.graph.nodes[0].inputs = ["x", "x", "x"]
        #expect(failure(m) == nil)
    }

    @Test func opsetVersionThatDoesNotExist() {
        var m = validModel()
        m.opsetImports = [OpsetID(domain: "", version: 1_000_000)]
        #expect(failure(m)?.hasPrefix("node 'n1' (Relu): opset import 'ai.onnx' version 1000000 does not exist") == true)
        m = validModel()
        m.opsetImports.append(OpsetID(domain: "com.microsoft", version: 1_000_000))
        #expect(failure(m) == nil)
    }

    @Test func graphWithoutOutputs() {
        var m = validModel()
        m.graph.outputs = []
        #expect(failure(m)?.contains("has no outputs") == true)
    }

    @Test func subgraphsAndTheirEnclosingScope() {
        func ifModel(_ branch: Graph, condition: String = "c") -> Model {
            var m = validModel()
            m.graph.initializers.append(Tensor(name: "c", dtype: .bool, shape: [], values: [true]))
            m.graph.nodes.append(
                Node(
                    name: "if", opType: "If", inputs: [condition], outputs: ["z"],
                    attributes: [
                        Attribute(name: "then_branch", value: .graph(branch)),
                        Attribute(name: "else_branch", value: .graph(branch)),
                    ]))
            m.graph.outputs.append(tensorInfo("z", .float32, nil))
            return m
        }
        func branch(writing name: String) -> Graph {
            Graph(
                name: "b", nodes: [Node(name: "inner", opType: "Relu", inputs: ["x"], outputs: [name])],
                outputs: [tensorInfo(name, .float32, nil)])
        }
        // 'h' comes from n1, which the If does not depend on: onnxruntime may not have seen it yet.
        #expect(failure(ifModel(branch(writing: "h"))) == nil)
        do {
            var m = ifModel(branch(writing: "h"))
            m.graph.nodes.insert(
                Node(
                    name: "gate", opType: "Cast", inputs: ["h"], outputs: ["hc"],
                    attributes: [attr("to", Int64(DType.bool.rawValue))]), at: 2)
            m.graph.nodes[3].inputs = ["hc"]
            #expect(failure(m) == "node 'inner' (Relu): output 'h' reuses the name of a value of an enclosing graph")
        }
        #expect(failure(ifModel(branch(writing: "w")))?.hasPrefix("node 'inner' (Relu): output 'w' reuses the name") == true)
        #expect(failure(ifModel(branch(writing: "x")))?.hasPrefix("node 'inner' (Relu): output 'x' reuses the name") == true)
        var twice = branch(writing: "t")
        twice.nodes.append(Node(name: "inner2", opType: "Relu", inputs: ["x"], outputs: ["t"]))
        #expect(failure(ifModel(twice))?.hasPrefix("node 'inner2' (Relu): output 't' is already produced") == true)
        var tooMany = branch(writing: "t")
        tooMany.nodes[0].inputs = ["x", "x"]
        #expect(failure(ifModel(tooMany))?.hasPrefix("node 'inner' (Relu): has 2 inputs") == true)
        // Node names need only be unique within one graph.
        var sameName = branch(writing: "t")
        sameName.nodes[0].name = "n1"
        #expect(failure(ifModel(sameName)) == nil)
    }

    @Test func nodeNamesAndInputNamesAreUniquePerGraph() {
        var m = validModel()
        m.graph.nodes[1].name = "n1"
        #expect(failure(m) == "node 'n1' (Relu): node #0 of the same graph has the same name")
        m = validModel()
        m.graph.nodes[1].name = ""
        m.graph.nodes[0].name = ""
        #expect(failure(m) == nil)
        m = validModel()
        m.graph.inputs.append(m.graph.inputs[0])
        #expect(failure(m)?.contains("input 'x' is listed more than once") == true)
    }

    @Test func declaredOutputTypeContradictedByTheGraph() {
        var m = validModel()
        m.graph.outputs[0].type = .tensor(elementType: .int64, shape: [d(2)])
        #expect(failure(m) == "node 'n2' (Relu): output 'y' is tensor(float), but the graph declares it as tensor(int64)")
        // A value_info entry repeating the wrong declaration does not hide it.
        m.graph.valueInfo = [tensorInfo("y", .int64, [d(2)])]
        #expect(failure(m)?.hasPrefix("node 'n2' (Relu): output 'y' is tensor(float)") == true)
    }

    @Test func outputTypesInferenceCannotKnowAreAccepted() {
        var m = validModel()
        m.graph.inputs[0].type = nil
        m.graph.outputs[0].type = .tensor(elementType: .int64, shape: nil)
        #expect(failure(m) == nil)
        m = validModel()
        m.opsetImports.append(OpsetID(domain: "custom", version: 1))
        m.graph.nodes[1].domain = "custom"
        m.graph.nodes[1].opType = "Mystery"
        m.graph.outputs[0].type = .tensor(elementType: .int64, shape: nil)
        #expect(failure(m) == nil)
    }
}
