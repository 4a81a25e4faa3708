import SwiftConvTestSupport
import Testing

@testable import SwiftConvIR

@Suite struct ShapeInferenceTests {
    @Test func convStride2Pad1() {
        let m = makeModel(
            [
                Node(
                    name: "c", opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                    attributes: [attr("strides", [2, 2]), attr("pads", [1, 1, 1, 1]), attr("kernel_shape", [3, 3])])
            ],
            inputs: [tensorInfo("x", .float32, [d(1), d(3), d(224), d(224)])], outputs: ["y"],
            initializers: [floatTensor("w", shape: [32, 3, 3, 3])])
        #expect(inferredType(m, "y") == .tensor(elementType: .float32, shape: [d(1), d(32), d(112), d(112)]))
    }

    @Test func convSymbolicBatchAutoPadSame() {
        let m = makeModel(
            [
                Node(
                    opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                    attributes: [attr("strides", [2, 2]), attr("auto_pad", "SAME_UPPER")])
            ],
            inputs: [tensorInfo("x", .float32, [s("N"), d(3), d(225), d(225)])], outputs: ["y"],
            initializers: [floatTensor("w", shape: [16, 3, 3, 3])])
        #expect(inferredShape(m, "y") == [s("N"), d(16), d(113), d(113)])
    }

    @Test func convTransposeAndPools() {
        let m = makeModel(
            [
                Node(
                    opType: "ConvTranspose", inputs: ["x", "w"], outputs: ["ct"],
                    attributes: [attr("strides", [2, 2]), attr("pads", [1, 1, 1, 1]), attr("output_padding", [1, 1])]),
                Node(
                    opType: "MaxPool", inputs: ["x"], outputs: ["mp"],
                    attributes: [attr("kernel_shape", [3, 3]), attr("strides", [2, 2]), attr("ceil_mode", 1)]),
                Node(
                    opType: "AveragePool", inputs: ["x"], outputs: ["ap"],
                    attributes: [attr("kernel_shape", [2, 2]), attr("strides", [2, 2])]),
                Node(opType: "GlobalAveragePool", inputs: ["x"], outputs: ["gap"]),
            ], inputs: [tensorInfo("x", .float32, [d(1), d(8), d(14), d(14)])], outputs: ["ct", "mp", "ap", "gap"],
            initializers: [floatTensor("w", shape: [8, 4, 3, 3])])
        // (14-1)*2 + 1 + 3 - 2 = 28
        #expect(inferredShape(m, "ct") == [d(1), d(4), d(28), d(28)])
        // ceil((14-3)/2)+1 = 7
        #expect(inferredShape(m, "mp") == [d(1), d(8), d(7), d(7)])
        #expect(inferredShape(m, "ap") == [d(1), d(8), d(7), d(7)])
        #expect(inferredShape(m, "gap") == [d(1), d(8), d(1), d(1)])
    }

    @Test func broadcastKeepsSymbols() {
        let m = makeModel(
            [
                Node(opType: "Add", inputs: ["a", "b"], outputs: ["c"]),
                Node(opType: "Less", inputs: ["c", "b"], outputs: ["l"]),
            ],
            inputs: [tensorInfo("a", .float32, [s("batch"), d(1), d(5)]), tensorInfo("b", .float32, [d(4), d(1)])],
            outputs: ["c", "l"])
        #expect(inferredShape(m, "c") == [s("batch"), d(4), d(5)])
        #expect(inferredType(m, "l")?.tensorElementType == .bool)
    }

    @Test func matmulAndGemm() {
        let m = makeModel(
            [
                Node(opType: "MatMul", inputs: ["a", "b"], outputs: ["mm"]),
                Node(opType: "MatMul", inputs: ["a", "v"], outputs: ["mv"]),
                Node(opType: "Gemm", inputs: ["g", "w", "bias"], outputs: ["gm"], attributes: [attr("transB", 1)]),
            ],
            inputs: [
                tensorInfo("a", .float32, [s("B"), d(8), d(16), d(32)]), tensorInfo("b", .float32, [d(32), d(64)]),
                tensorInfo("v", .float32, [d(32)]), tensorInfo("g", .float32, [s("N"), d(512)]),
            ],
            outputs: ["mm", "mv", "gm"],
            initializers: [floatTensor("w", shape: [1000, 512]), floatTensor("bias", shape: [1000])])
        #expect(inferredShape(m, "mm") == [s("B"), d(8), d(16), d(64)])
        #expect(inferredShape(m, "mv") == [s("B"), d(8), d(16)])
        #expect(inferredShape(m, "gm") == [s("N"), d(1000)])
    }

    @Test func reshapeThroughShapeArithmetic() {
        // torch pattern: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1, 64]))
        let m = makeModel(
            [
                Node(opType: "Shape", inputs: ["x"], outputs: ["sh"]),
                Node(opType: "Gather", inputs: ["sh", "zero"], outputs: ["b"], attributes: [attr("axis", 0)]),
                Node(opType: "Unsqueeze", inputs: ["b", "axes0"], outputs: ["b1"]),
                Node(opType: "Concat", inputs: ["b1", "rest"], outputs: ["target"], attributes: [attr("axis", 0)]),
                Node(opType: "Reshape", inputs: ["x", "target"], outputs: ["y"]),
            ], inputs: [tensorInfo("x", .float32, [s("batch"), d(128), d(64)])], outputs: ["y"],
            initializers: [int64Tensor("zero", [0], shape: []), int64Tensor("axes0", [0]), int64Tensor("rest", [-1, 64])])
        #expect(inferredShape(m, "sh") == [d(3)])
        #expect(inferredShape(m, "b") == [])
        #expect(inferredShape(m, "target") == [d(3)])
        #expect(inferredShape(m, "y") == [s("batch"), d(128), d(64)])
    }

    @Test func reshapeZeroAndMinusOne() {
        let m = makeModel(
            [Node(opType: "Reshape", inputs: ["x", "t"], outputs: ["y"])],
            inputs: [tensorInfo("x", .float32, [s("N"), d(2), d(3), d(4)])], outputs: ["y"],
            initializers: [int64Tensor("t", [0, -1])])
        #expect(inferredShape(m, "y") == [s("N"), d(24)])
    }

    @Test func flattenTransposeSqueezeUnsqueeze() {
        let m = makeModel(
            [
                Node(opType: "Flatten", inputs: ["x"], outputs: ["f"]),
                Node(opType: "Transpose", inputs: ["x"], outputs: ["t"], attributes: [attr("perm", [0, 2, 3, 1])]),
                Node(opType: "Squeeze", inputs: ["x", "ax"], outputs: ["sq"]),
                Node(opType: "Unsqueeze", inputs: ["x", "ax2"], outputs: ["us"]),
            ], inputs: [tensorInfo("x", .float32, [s("N"), d(1), d(7), d(7)])], outputs: ["f", "t", "sq", "us"],
            initializers: [int64Tensor("ax", [1]), int64Tensor("ax2", [0, -1])])
        #expect(inferredShape(m, "f") == [s("N"), d(49)])
        #expect(inferredShape(m, "t") == [s("N"), d(7), d(7), d(1)])
        #expect(inferredShape(m, "sq") == [s("N"), d(7), d(7)])
        #expect(inferredShape(m, "us") == [d(1), s("N"), d(1), d(7), d(7), d(1)])
    }

    @Test func squeezeUnsqueezeAxesAttributeBeforeOpset13() {
        let m = makeModel(
            [
                Node(opType: "Squeeze", inputs: ["x"], outputs: ["sq"], attributes: [attr("axes", [1])]),
                Node(opType: "Unsqueeze", inputs: ["sq"], outputs: ["us"], attributes: [attr("axes", [2])]),
            ], inputs: [tensorInfo("x", .float32, [d(2), d(1), d(3)])], outputs: ["us"], opset: 11)
        #expect(inferredShape(m, "sq") == [d(2), d(3)])
        #expect(inferredShape(m, "us") == [d(2), d(3), d(1)])
    }

    @Test func sliceSplitConcatGather() {
        let m = makeModel(
            [
                Node(opType: "Slice", inputs: ["x", "st", "en", "ax", "sp"], outputs: ["sl"]),
                Node(opType: "Split", inputs: ["x", "parts"], outputs: ["p0", "p1"], attributes: [attr("axis", 1)]),
                Node(opType: "Concat", inputs: ["x", "x"], outputs: ["cc"], attributes: [attr("axis", -1)]),
                Node(opType: "Gather", inputs: ["x", "idx"], outputs: ["ga"], attributes: [attr("axis", 1)]),
            ], inputs: [tensorInfo("x", .float32, [s("N"), d(10), d(20)]), tensorInfo("idx", .int64, [d(2), d(3)])],
            outputs: ["sl", "p0", "p1", "cc", "ga"],
            initializers: [
                int64Tensor("st", [1, -1]), int64Tensor("en", [Int64.max, 0]), int64Tensor("ax", [1, 2]),
                int64Tensor("sp", [2, -3]), int64Tensor("parts", [4, 6]),
            ])
        // axis1: 1..10 step 2 -> 5; axis2: 19 down to 1 step -3 -> 19,16,13,10,7,4,1 = 7
        #expect(inferredShape(m, "sl") == [s("N"), d(5), d(7)])
        #expect(inferredShape(m, "p0") == [s("N"), d(4), d(20)])
        #expect(inferredShape(m, "p1") == [s("N"), d(6), d(20)])
        #expect(inferredShape(m, "cc") == [s("N"), d(10), d(40)])
        #expect(inferredShape(m, "ga") == [s("N"), d(2), d(3), d(20)])
    }

    @Test func reduceAxesAttributeAndInput() {
        let attrModel = makeModel(
            [
                Node(
                    opType: "ReduceMean", inputs: ["x"], outputs: ["y"],
                    attributes: [attr("axes", [-1]), attr("keepdims", 1)])
            ],
            inputs: [tensorInfo("x", .float32, [s("N"), d(4), d(6)])], outputs: ["y"], opset: 17)
        #expect(inferredShape(attrModel, "y") == [s("N"), d(4), d(1)])
        let inputModel = makeModel(
            [
                Node(
                    opType: "ReduceMean", inputs: ["x", "a"], outputs: ["y"],
                    attributes: [attr("keepdims", 0)])
            ],
            inputs: [tensorInfo("x", .float32, [s("N"), d(4), d(6)])], outputs: ["y"],
            initializers: [int64Tensor("a", [1])], opset: 18)
        #expect(inferredShape(inputModel, "y") == [s("N"), d(6)])
        let sum13 = makeModel(
            [Node(opType: "ReduceSum", inputs: ["x"], outputs: ["y"])],
            inputs: [tensorInfo("x", .float32, [d(2), d(3)])], outputs: ["y"], opset: 13)
        #expect(inferredShape(sum13, "y") == [d(1), d(1)])
        let arg = makeModel(
            [Node(opType: "ArgMax", inputs: ["x"], outputs: ["y"], attributes: [attr("axis", 1), attr("keepdims", 0)])],
            inputs: [tensorInfo("x", .float32, [d(2), d(3)])], outputs: ["y"])
        #expect(inferredType(arg, "y") == .tensor(elementType: .int64, shape: [d(2)]))
    }

    @Test func castConstantOfShapeRangeWhere() {
        var c = Node(opType: "ConstantOfShape", inputs: ["shp"], outputs: ["cos"])
        c.attributes = [Attribute(name: "value", value: .tensor(int64Tensor("", [1], shape: [1])))]
        let m = makeModel(
            [
                Node(opType: "Cast", inputs: ["x"], outputs: ["xi"], attributes: [attr("to", Int64(DType.int32.rawValue))]),
                c,
                Node(opType: "Range", inputs: ["r0", "r1", "r2"], outputs: ["rg"]),
                Node(opType: "Where", inputs: ["cond", "x", "y"], outputs: ["w"]),
            ],
            inputs: [
                tensorInfo("x", .float32, [s("N"), d(3)]), tensorInfo("cond", .bool, [d(1), d(3)]),
                tensorInfo("y", .float32, [d(1)]),
            ],
            outputs: ["xi", "cos", "rg", "w"],
            initializers: [
                int64Tensor("shp", [2, 5]), int64Tensor("r0", [0], shape: []), int64Tensor("r1", [10], shape: []),
                int64Tensor("r2", [3], shape: []),
            ])
        #expect(inferredType(m, "xi") == .tensor(elementType: .int32, shape: [s("N"), d(3)]))
        #expect(inferredType(m, "cos") == .tensor(elementType: .int64, shape: [d(2), d(5)]))
        #expect(inferredShape(m, "rg") == [d(4)])
        #expect(inferredShape(m, "w") == [s("N"), d(3)])
    }

    @Test func constantNodeFeedsReshape() {
        var k = Node(opType: "Constant", inputs: [], outputs: ["shape"])
        k.attributes = [Attribute(name: "value", value: .tensor(int64Tensor("", [-1, 6])))]
        let m = makeModel(
            [k, Node(opType: "Reshape", inputs: ["x", "shape"], outputs: ["y"])],
            inputs: [tensorInfo("x", .float32, [d(2), d(3), d(4)])], outputs: ["y"])
        #expect(inferredShape(m, "y") == [d(4), d(6)])
    }

    @Test func expandTilePadResize() {
        let m = makeModel(
            [
                Node(opType: "Expand", inputs: ["x", "es"], outputs: ["ex"]),
                Node(opType: "Tile", inputs: ["x", "reps"], outputs: ["ti"]),
                Node(opType: "Pad", inputs: ["x", "pads"], outputs: ["pa"]),
                Node(opType: "Resize", inputs: ["img", "", "scales"], outputs: ["rs"], attributes: [attr("mode", "nearest")]),
                Node(opType: "Resize", inputs: ["img", "", "", "sizes"], outputs: ["rz"]),
            ], inputs: [tensorInfo("x", .float32, [d(3), d(1)]), tensorInfo("img", .float32, [d(1), d(3), d(10), d(10)])],
            outputs: ["ex", "ti", "pa", "rs", "rz"],
            initializers: [
                int64Tensor("es", [2, 3, 4]), int64Tensor("reps", [2, 5]), int64Tensor("pads", [1, 0, 1, 2]),
                Tensor(name: "scales", dtype: .float32, shape: [4], values: [Float(1), 1, 2, 2.5]),
                int64Tensor("sizes", [1, 3, 7, 9]),
            ])
        #expect(inferredShape(m, "ex") == [d(2), d(3), d(4)])
        #expect(inferredShape(m, "ti") == [d(6), d(5)])
        #expect(inferredShape(m, "pa") == [d(5), d(3)])
        #expect(inferredShape(m, "rs") == [d(1), d(3), d(20), d(25)])
        #expect(inferredShape(m, "rz") == [d(1), d(3), d(7), d(9)])
    }

    @Test func normalizationsAndSoftmax() {
        let m = makeModel(
            [
                Node(opType: "BatchNormalization", inputs: ["x", "sc", "sc", "sc", "sc"], outputs: ["bn"]),
                Node(
                    opType: "LayerNormalization", inputs: ["t", "g", "g"], outputs: ["ln", "mean", "istd"], attributes: [attr("axis", -1)]),
                Node(opType: "Softmax", inputs: ["t"], outputs: ["sm"], attributes: [attr("axis", -1)]),
            ], inputs: [tensorInfo("x", .float32, [s("N"), d(4), d(8), d(8)]), tensorInfo("t", .float32, [s("B"), s("S"), d(512)])],
            outputs: ["bn", "ln", "mean", "sm"],
            initializers: [floatTensor("sc", shape: [4]), floatTensor("g", shape: [512])])
        #expect(inferredShape(m, "bn") == [s("N"), d(4), d(8), d(8)])
        #expect(inferredShape(m, "ln") == [s("B"), s("S"), d(512)])
        #expect(inferredShape(m, "mean") == [s("B"), s("S"), d(1)])
        #expect(inferredShape(m, "sm") == [s("B"), s("S"), d(512)])
    }

    @Test func lstmOutputs() {
        let m = makeModel(
            [
                Node(
                    opType: "LSTM", inputs: ["x", "W", "R"], outputs: ["y", "yh", "yc"],
                    attributes: [attr("hidden_size", 20), attr("direction", "bidirectional")])
            ],
            inputs: [tensorInfo("x", .float32, [s("seq"), s("batch"), d(10)])], outputs: ["y", "yh", "yc"],
            initializers: [floatTensor("W", shape: [2, 80, 10]), floatTensor("R", shape: [2, 80, 20])])
        #expect(inferredShape(m, "y") == [s("seq"), d(2), s("batch"), d(20)])
        #expect(inferredShape(m, "yh") == [d(2), s("batch"), d(20)])
        #expect(inferredShape(m, "yc") == [d(2), s("batch"), d(20)])
    }

    @Test func topKDropoutQuantize() {
        let m = makeModel(
            [
                Node(opType: "TopK", inputs: ["x", "k"], outputs: ["vals", "idx"]),
                Node(opType: "Dropout", inputs: ["x"], outputs: ["dr", "mask"]),
                Node(opType: "QuantizeLinear", inputs: ["x", "scale", "zp"], outputs: ["q"]),
                Node(opType: "DequantizeLinear", inputs: ["q", "scale", "zp"], outputs: ["dq"]),
            ], inputs: [tensorInfo("x", .float32, [s("N"), d(100)])], outputs: ["vals", "idx", "dr", "mask", "q", "dq"],
            initializers: [
                int64Tensor("k", [5]), Tensor(name: "scale", dtype: .float32, shape: [], values: [Float(0.1)]),
                Tensor(name: "zp", dtype: .int8, shape: [], values: [Int8(0)]),
            ])
        #expect(inferredType(m, "vals") == .tensor(elementType: .float32, shape: [s("N"), d(5)]))
        #expect(inferredType(m, "idx") == .tensor(elementType: .int64, shape: [s("N"), d(5)]))
        #expect(inferredType(m, "mask") == .tensor(elementType: .bool, shape: [s("N"), d(100)]))
        #expect(inferredType(m, "q") == .tensor(elementType: .int8, shape: [s("N"), d(100)]))
        #expect(inferredType(m, "dq") == .tensor(elementType: .float32, shape: [s("N"), d(100)]))
    }

    @Test func mlClassifierOutputs() {
        let node = Node(
            opType: "LinearClassifier", domain: "ai.onnx.ml", inputs: ["x"], outputs: ["label", "probs"],
            attributes: [
                Attribute(name: "coefficients", value: .floats(Array(repeating: 1, count: 12))),
                attr("classlabels_ints", [0, 1, 2]),
            ])
        let m = makeModel(
            [node], inputs: [tensorInfo("x", .float32, [s("N"), d(4)])], outputs: ["label", "probs"],
            extraOpsets: [OpsetID(domain: "ai.onnx.ml", version: 3)])
        #expect(inferredType(m, "label") == .tensor(elementType: .int64, shape: [s("N")]))
        #expect(inferredType(m, "probs") == .tensor(elementType: .float32, shape: [s("N"), d(3)]))
    }

    @Test func unknownOpLeavesOutputUntypedAndDeclaredTypesWin() throws {
        var m = makeModel(
            [
                Node(opType: "Mystery", domain: "custom", inputs: ["x"], outputs: ["m"]),
                Node(opType: "Relu", inputs: ["x"], outputs: ["r"]),
            ],
            inputs: [tensorInfo("x", .float32, [s("N"), d(3)])], outputs: ["m", "r"],
            extraOpsets: [OpsetID(domain: "custom", version: 1)])
        m.graph.outputs[1].type = .tensor(elementType: .float32, shape: [d(7), d(3)])
        try ShapeInference.infer(&m)
        #expect(m.graph.outputs[0].type == nil)
        #expect(m.graph.outputs[1].type == .tensor(elementType: .float32, shape: [d(7), d(3)]))
        #expect(m.graph.inputs[0].type == .tensor(elementType: .float32, shape: [s("N"), d(3)]))
    }

    @Test func intermediateValuesGoToValueInfo() throws {
        var m = makeModel(
            [Node(opType: "Relu", inputs: ["x"], outputs: ["a"]), Node(opType: "Neg", inputs: ["a"], outputs: ["b"])],
            inputs: [tensorInfo("x", .float32, [d(2)])], outputs: ["b"])
        try ShapeInference.infer(&m)
        #expect(m.graph.valueInfo.map(\.name) == ["a"])
        #expect(m.graph.outputs[0].type == .tensor(elementType: .float32, shape: [d(2)]))
        // A second run changes nothing.
        try ShapeInference.infer(&m)
        #expect(m.graph.valueInfo.count == 1)
    }

    @Test func ifBranchesMerge() throws {
        let thenG = Graph(
            name: "then", nodes: [Node(opType: "Relu", inputs: ["x"], outputs: ["t"])],
            outputs: [ValueInfo(name: "t", type: nil)])
        let elseG = Graph(
            name: "else", nodes: [Node(opType: "Neg", inputs: ["x"], outputs: ["e"])],
            outputs: [ValueInfo(name: "e", type: nil)])
        let node = Node(
            opType: "If", inputs: ["c"], outputs: ["y"],
            attributes: [
                Attribute(name: "then_branch", value: .graph(thenG)),
                Attribute(name: "else_branch", value: .graph(elseG)),
            ])
        var m = makeModel(
            [node], inputs: [tensorInfo("c", .bool, []), tensorInfo("x", .float32, [s("N"), d(4)])],
            outputs: ["y"])
        try ShapeInference.infer(&m)
        #expect(m.graph.outputs[0].type == .tensor(elementType: .float32, shape: [s("N"), d(4)]))
        #expect(m.graph.nodes[0].attribute("then_branch")?.graph?.outputs[0].type != nil)
    }

    @Test func hostileInputsDoNotCrash() throws {
        var m = makeModel(
            [
                Node(opType: "Reshape", inputs: ["x", "t"], outputs: ["a"]),
                Node(opType: "Conv", inputs: ["x", "x"], outputs: ["b"], attributes: [attr("strides", [0, -1])]),
                Node(opType: "Transpose", inputs: ["x"], outputs: ["c"], attributes: [attr("perm", [5, 5])]),
                Node(opType: "Gather", inputs: ["x"], outputs: ["g"], attributes: [attr("axis", Int64.min)]),
                Node(opType: "Slice", inputs: ["x", "t", "t"], outputs: ["sl"]),
                Node(opType: "Tile", inputs: ["x", "t"], outputs: ["ti"]),
            ], inputs: [tensorInfo("x", .float32, [d(-3), d(Int.max), s("")])], outputs: ["a", "b", "c", "g", "sl", "ti"],
            initializers: [int64Tensor("t", [Int64.min, Int64.max, -1])])
        try ShapeInference.infer(&m)
    }

    @Test func oracleCheckedEdgeCases() {
        // Expected values taken from onnx.shape_inference for the same graphs.
        let m = makeModel(
            [
                Node(
                    opType: "MaxPool", inputs: ["x"], outputs: ["mp2"],
                    attributes: [
                        attr("kernel_shape", [2, 2]), attr("strides", [2, 2]), attr("ceil_mode", 1), attr("pads", [1, 1, 1, 1]),
                    ]),
                Node(
                    opType: "AveragePool", inputs: ["x"], outputs: ["ap"],
                    attributes: [attr("kernel_shape", [3, 3]), attr("strides", [3, 3]), attr("ceil_mode", 1)]),
                Node(opType: "Split", inputs: ["y"], outputs: ["a", "b", "c"], attributes: [attr("axis", 1), attr("num_outputs", 3)]),
                Node(opType: "Einsum", inputs: ["p", "q"], outputs: ["e"], attributes: [attr("equation", "bij,bjk->bik")]),
                Node(opType: "Einsum", inputs: ["p"], outputs: ["e2"], attributes: [attr("equation", "bij->ji")]),
                Node(opType: "GatherND", inputs: ["g", "i"], outputs: ["gnd"], attributes: [attr("batch_dims", 1)]),
                Node(opType: "Resize", inputs: ["x", "", "sc"], outputs: ["r"]),
            ],
            inputs: [
                tensorInfo("x", .float32, [d(1), d(8), d(14), d(14)]), tensorInfo("y", .float32, [s("N"), d(10)]),
                tensorInfo("p", .float32, [s("B"), d(3), d(4)]), tensorInfo("q", .float32, [s("B"), d(4), d(5)]),
                tensorInfo("g", .float32, [d(2), d(3), d(4)]), tensorInfo("i", .int64, [d(2), d(5), d(1)]),
            ],
            outputs: ["mp2", "ap", "a", "b", "c", "e", "e2", "gnd", "r"],
            initializers: [Tensor(name: "sc", dtype: .float32, shape: [4], values: [Float(1), 1, 0.5, 0.7])], opset: 18)
        #expect(inferredShape(m, "mp2") == [d(1), d(8), d(8), d(8)])
        #expect(inferredShape(m, "ap") == [d(1), d(8), d(5), d(5)])
        #expect(inferredShape(m, "a") == [s("N"), d(4)])
        #expect(inferredShape(m, "c") == [s("N"), d(2)])
        #expect(inferredShape(m, "e") == [s("B"), d(3), d(5)])
        #expect(inferredShape(m, "e2") == [d(4), d(3)])
        #expect(inferredShape(m, "gnd") == [d(2), d(5), d(4)])
        #expect(inferredShape(m, "r") == [d(1), d(8), d(7), d(9)])
    }

    @Test func torchExpandPattern() {
        // Expand(x, Where(Equal(target, -1), ones, target)) with target = [batch, -1, 4] built from Shape.
        var ones = Node(opType: "ConstantOfShape", inputs: ["three"], outputs: ["ones"])
        ones.attributes = [Attribute(name: "value", value: .tensor(int64Tensor("", [1])))]
        let m = makeModel(
            [
                Node(opType: "Shape", inputs: ["x"], outputs: ["sh"]),
                Node(opType: "Slice", inputs: ["sh", "s0", "s1"], outputs: ["b"]),
                Node(opType: "Concat", inputs: ["b", "tail"], outputs: ["target"], attributes: [attr("axis", 0)]),
                ones,
                Node(opType: "Mul", inputs: ["ones", "minus1"], outputs: ["neg"]),
                Node(opType: "Equal", inputs: ["target", "neg"], outputs: ["eq"]),
                Node(opType: "Where", inputs: ["eq", "ones", "target"], outputs: ["fixed"]),
                Node(opType: "Expand", inputs: ["x", "fixed"], outputs: ["y"]),
            ], inputs: [tensorInfo("x", .float32, [s("batch"), d(1), d(1)])], outputs: ["y"],
            initializers: [
                int64Tensor("three", [3]), int64Tensor("s0", [0]), int64Tensor("s1", [1]),
                int64Tensor("tail", [-1, 4]), int64Tensor("minus1", [-1], shape: []),
            ])
        #expect(inferredShape(m, "y") == [s("batch"), d(1), d(4)])
    }

    @Test func loopScanOutputs() throws {
        let body = Graph(
            name: "body",
            nodes: [
                Node(opType: "Identity", inputs: ["cond_in"], outputs: ["cond_out"]),
                Node(opType: "Add", inputs: ["acc_in", "x"], outputs: ["acc_out"]),
                Node(opType: "Relu", inputs: ["acc_out"], outputs: ["scan_out"]),
            ], inputs: [tensorInfo("i", .int64, []), tensorInfo("cond_in", .bool, []), ValueInfo(name: "acc_in", type: nil)],
            outputs: [
                ValueInfo(name: "cond_out", type: nil), ValueInfo(name: "acc_out", type: nil),
                ValueInfo(name: "scan_out", type: nil),
            ])
        let node = Node(
            opType: "Loop", inputs: ["n", "", "acc0"], outputs: ["acc", "stacked"],
            attributes: [Attribute(name: "body", value: .graph(body))])
        var m = makeModel(
            [node],
            inputs: [
                tensorInfo("n", .int64, []), tensorInfo("acc0", .float32, [d(2), d(3)]),
                tensorInfo("x", .float32, [d(2), d(3)]),
            ], outputs: ["acc", "stacked"])
        try ShapeInference.infer(&m)
        #expect(m.graph.outputs[0].type == .tensor(elementType: .float32, shape: [d(2), d(3)]))
        #expect(m.graph.outputs[1].type == .tensor(elementType: .float32, shape: [.unknown, d(2), d(3)]))
    }
}

@Suite struct HostileInferenceTests {
    static func hostileValue(_ kind: AttributeKind, variant: Int) -> AttributeValue? {
        let ints: [[Int64]] = [[Int64.max, -1, 0, Int64.min], [], [1 << 40, 3], [2, 2, 2, 2, 2, 2, 2, 2]]
        switch kind {
        case .int: return .int([Int64.min, Int64.max, -1, 0][variant % 4])
        case .ints: return .ints(ints[variant % ints.count])
        case .float: return .float([Float.nan, Float.infinity, -0.0, 1e38][variant % 4])
        case .floats: return .floats([Float.nan, Float.infinity])
        case .string: return .string(Array(["SAME_UPPER", "", "VALID", "bidirectional"][variant % 4].utf8))
        case .strings: return .strings([[], [0xFF, 0xFE]])
        case .tensor: return .tensor(int64Tensor("", [Int64.min, Int64.max]))
        case .graph:
            return .graph(
                Graph(
                    name: "", nodes: [Node(opType: "Relu", inputs: ["nope"], outputs: ["o"])],
                    outputs: [ValueInfo(name: "o", type: nil)]))
        default: return nil
        }
    }

    @Test func everyRegisteredOpSurvivesHostileInputs() throws {
        let registry = OpRegistry.standard
        let shapes: [Shape?] = [nil, [], [d(-1), d(Int.max), d(0), s("")], [d(1 << 40), .unknown, d(3)], [d(2), d(3)]]
        var checked = 0
        for (domain, name) in registry.opNames {
            for version in registry.versions(domain: domain, opType: name) {
                guard let schema = registry.schema(domain: domain, opType: name, version: version) else { continue }
                let inputCount = min(max(schema.minInputs, schema.inputs.count), 9)
                for variant in 0..<shapes.count {
                    var node = Node(
                        name: "n", opType: name, domain: domain,
                        inputs: (0..<inputCount).map { "i\($0)" },
                        outputs: (0..<max(schema.outputs.count, 1)).map { "o\($0)" })
                    node.attributes = schema.attributes.compactMap { spec in
                        Self.hostileValue(spec.kind, variant: variant).map { Attribute(name: spec.name, value: $0) }
                    }
                    let inputs = (0..<inputCount).filter { $0 % 2 == 0 }.map {
                        tensorInfo("i\($0)", [.float32, .int64, .bool][($0 + variant) % 3], shapes[($0 + variant) % shapes.count])
                    }
                    let consts = (0..<inputCount).filter { $0 % 2 == 1 }.map {
                        int64Tensor("i\($0)", [Int64.min, Int64.max, -1, 0].suffix(1 + (variant + $0) % 4))
                    }
                    var m = makeModel(
                        [node], inputs: inputs, outputs: node.outputs, initializers: consts,
                        opset: domain.isEmpty ? version : 17,
                        extraOpsets: domain.isEmpty ? [] : [OpsetID(domain: domain, version: version)])
                    try ShapeInference.infer(&m)
                    _ = try? ModelChecker.check(m)
                    _ = ModelText.printableGraph(m)
                    checked += 1
                }
            }
        }
        #expect(checked > 1000)
    }
}
