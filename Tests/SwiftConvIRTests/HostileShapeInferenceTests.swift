import SwiftConvTestSupport
import Testing

@testable import SwiftConvIR

/// Shape inference runs on every model a session loads, so hostile shapes, attributes and
/// constant inputs must give unknown dims (or a clean error), never a trap or a hang.
@Suite struct HostileShapeInferenceTests {
    static let hostileInts: [Int64] = [0, -1, 2, Int64.min, Int64.max, 1 << 62]
    static let hostileFloats: [Float] = [.nan, .infinity, -.infinity, 1e30]
    static let hostileStrings = ["", "SAME_UPPER", "VALID", "not_larger", "bidirectional", "none", "...,...->..."]
    static let hostileShapes: [Shape?] = [
        nil, [], [d(-1)], [d(Int.max), d(-5), d(0), s("N")], [d(1 << 62), d(1 << 62), d(3), d(3)],
        [d(2), d(3), d(4), d(5), d(6)], Shape(repeating: d(1), count: 1500),
    ]

    // MARK: Cases the fuzzer found

    @Test func equalAndAddOnTheEmptyShapeOfAScalar() {
        // Shape of a scalar is [] (no values); broadcasting it with one value used to index past the end.
        let m = makeModel(
            [
                Node(opType: "Shape", inputs: ["x"], outputs: ["s"]),
                Node(opType: "Equal", inputs: ["s", "c"], outputs: ["e"]),
                Node(opType: "Add", inputs: ["c", "s"], outputs: ["a"]),
                Node(opType: "Max", inputs: ["s", "c"], outputs: ["mx"]),
            ], inputs: [tensorInfo("x", .float32, [])], outputs: ["e", "a", "mx"],
            initializers: [int64Tensor("c", [5], shape: [])])
        #expect(inferredShape(m, "e") == [d(0)])
        #expect(inferredShape(m, "a") == [d(0)])
    }

    @Test func constantOfShapeWithNegativeLength() {
        let m = makeModel(
            [
                Node(
                    opType: "ConstantOfShape", inputs: ["c"], outputs: ["y"],
                    attributes: [Attribute(name: "value", value: .tensor(int64Tensor("v", [1])))])
            ],
            inputs: [], outputs: ["y"], initializers: [int64Tensor("c", [-5])])
        #expect(inferredShape(m, "y") == [.unknown])
    }

    @Test func einsumWithTwoEllipsesInOneTerm() {
        let m = makeModel(
            [Node(opType: "Einsum", inputs: ["a", "b"], outputs: ["y"], attributes: [attr("equation", "...i...,i->i")])],
            inputs: [tensorInfo("a", .float32, [d(2), d(3), d(4)]), tensorInfo("b", .float32, [d(4)])],
            outputs: ["y"])
        #expect(inferredShape(m, "y") == nil)
    }

    @Test func sliceOfKnownValuesUnderAHugeDeclaredLength() {
        // The declared [2^60] wins over the 2 known values of Shape(x); the fold must not loop 2^60 times.
        var m = makeModel(
            [
                Node(opType: "Shape", inputs: ["x"], outputs: ["s"]),
                Node(opType: "Slice", inputs: ["s", "zero", "big"], outputs: ["y"]),
                Node(opType: "Slice", inputs: ["s", "one", "big", "zero", "big"], outputs: ["z"]),
            ], inputs: [tensorInfo("x", .float32, [d(2), d(3)])], outputs: ["y", "z"],
            initializers: [int64Tensor("zero", [0]), int64Tensor("one", [1]), int64Tensor("big", [Int64.max])])
        m.graph.valueInfo = [tensorInfo("s", .int64, [d(1 << 60)])]
        #expect(inferredShape(m, "y") == [d(1 << 60)])
        m.graph.valueInfo = [tensorInfo("s", .int64, [d(2)])]
        // Step Int64.max from index 1: one element, and the next index would overflow.
        #expect(inferredShape(m, "z") == [d(1)])
    }

    @Test func convTransposeNearTheLimitIsExact() {
        let big: Int64 = (1 << 31) - 1
        let m = makeModel(
            [
                Node(
                    opType: "ConvTranspose", inputs: ["x"], outputs: ["y"],
                    attributes: [attr("strides", [big]), attr("dilations", [big]), attr("kernel_shape", [big])])
            ],
            inputs: [tensorInfo("x", .float32, [d(1), d(1), d(Int(big))])], outputs: ["y"])
        // 2 * (2^31 - 1) * (2^31 - 2) + 1: each term and the sum still fit.
        #expect(inferredShape(m, "y") == [d(1), .unknown, d(9_223_372_023_969_873_925)])
    }

    @Test func ceilModeWindowWithAHugeStride() {
        let out = ShapeMath.windowOutput(
            input: d(10), kernel: 1, stride: .max, dilation: 1, padBegin: 0, padEnd: 0,
            ceilMode: true)
        #expect(out == d(1))
    }

    @Test func negativeAndOverlongDeclaredShapes() {
        let m = makeModel(
            [
                Node(opType: "Relu", inputs: ["x"], outputs: ["y"]),
                Node(opType: "Relu", inputs: ["w"], outputs: ["z"]),
            ],
            inputs: [
                tensorInfo("x", .float32, [d(-7), d(3)]),
                tensorInfo("w", .float32, Shape(repeating: d(1), count: ShapeMath.maxRank + 1)),
            ],
            outputs: ["y", "z"])
        #expect(inferredShape(m, "y") == [.unknown, d(3)])
        #expect(inferredType(m, "z") == .tensor(elementType: .float32, shape: nil))
    }

    @Test func negativeAttributeSizesBecomeUnknown() {
        let m = makeModel(
            [
                Node(opType: "RoiAlign", inputs: ["x", "r", "b"], outputs: ["y"], attributes: [attr("output_height", -3)]),
                Node(opType: "Multinomial", inputs: ["p"], outputs: ["z"], attributes: [attr("sample_size", Int64.min)]),
            ],
            inputs: [
                tensorInfo("x", .float32, [d(1), d(2), d(8), d(8)]), tensorInfo("r", .float32, [d(4), d(4)]),
                tensorInfo("b", .int64, [d(4)]), tensorInfo("p", .float32, [d(1), d(5)]),
            ], outputs: ["y", "z"])
        #expect(inferredShape(m, "y") == [d(4), d(2), .unknown, d(1)])
        #expect(inferredShape(m, "z") == [d(1), .unknown])
    }

    @Test func functionsCallingEachOtherTwiceStopAtTheBudget() {
        // F0 calls F1 twice, F1 calls F2 twice, ...: 2^31 bodies if every call were inferred.
        let depth = 31
        var m = makeModel(
            [Node(opType: "F0", domain: "local", inputs: ["x"], outputs: ["y"])],
            inputs: [tensorInfo("x", .float32, [d(2)])], outputs: ["y"],
            extraOpsets: [OpsetID(domain: "local", version: 1)])
        m.functions = (0..<depth).map { i in
            let body =
                i == depth - 1
                ? [Node(opType: "Relu", inputs: ["a"], outputs: ["b"])]
                : [
                    Node(opType: "F\(i + 1)", domain: "local", inputs: ["a"], outputs: ["t"]),
                    Node(opType: "F\(i + 1)", domain: "local", inputs: ["t"], outputs: ["b"]),
                ]
            return Function(
                name: "F\(i)", domain: "local", inputs: ["a"], outputs: ["b"], nodes: body,
                opsetImports: [OpsetID(domain: "", version: 17), OpsetID(domain: "local", version: 1)])
        }
        let budget = InferenceBudget(remainingFunctionNodes: 1000)
        let inference = GraphInference(
            registry: .standard, opsets: ["": 17, "local": 1],
            functions: Dictionary(uniqueKeysWithValues: m.functions.map { ("local\u{0}" + $0.name, $0) }),
            depth: 0, budget: budget)
        _ = inference.infer(&m.graph, outer: InferenceScope(), inputTypes: nil)
        #expect(budget.remainingFunctionNodes <= 0)
    }

    @Test func manyLargeShapesStopAtTheBudget() {
        // Each Add folds 4096 known values into a new array; a small budget runs out after a few.
        let values = int64Tensor("c", Array(repeating: 1, count: 4096))
        let nodes = (0..<64).map { Node(opType: "Add", inputs: ["c", "c"], outputs: ["a\($0)"]) }
        var m = makeModel(nodes, inputs: [], outputs: ["a0", "a63"], initializers: [values])
        let inference = GraphInference(
            registry: .standard, opsets: ["": 17], functions: [:], depth: 0,
            budget: InferenceBudget(remainingDims: 5 * 4096))
        let out = inference.infer(&m.graph, outer: InferenceScope(), inputTypes: nil)
        #expect(out.first??.tensorShape == [d(4096)])
        #expect(out.last ?? nil == nil)
        #expect(inferredShape(m, "a63") == [d(4096)])
    }

    // MARK: Every registered schema against hostile inputs

    /// Builds one node of `schema` with the given inputs and attribute values and runs inference.
    static func infer(
        _ schema: OpSchema, inputs: [(ValueInfo?, Tensor?)], int: Int64, ints: [Int64],
        float: Float, string: String
    ) {
        var names: [String] = []
        var graphInputs: [ValueInfo] = []
        var initializers: [Tensor] = []
        for (k, (info, constant)) in inputs.enumerated() {
            let name = "in\(k)"
            names.append(name)
            if var info {
                info.name = name
                graphInputs.append(info)
            }
            if var constant {
                constant.name = name
                initializers.append(constant)
            }
        }
        var attributes: [Attribute] = []
        for spec in schema.attributes {
            let value: AttributeValue?
            switch spec.kind {
            case .int: value = .int(int)
            case .ints: value = .ints(ints)
            case .float: value = .float(float)
            case .floats: value = .floats([float, float])
            case .string: value = .string(Array(string.utf8))
            case .strings: value = .strings([Array(string.utf8)])
            case .tensor: value = .tensor(int64Tensor("t", ints))
            case .graph:
                value = .graph(
                    Graph(
                        name: "body", nodes: [Node(opType: "Identity", inputs: ["b0"], outputs: ["o0"])],
                        inputs: [tensorInfo("b0", .float32, hostileShapes[3])],
                        outputs: [ValueInfo(name: "o0", type: nil)]))
            default: value = nil
            }
            if let value { attributes.append(Attribute(name: spec.name, value: value)) }
        }
        let outputCount = schema.outputs.count + (schema.outputs.last == .variadic ? 2 : 0)
        let outputs = (0..<max(outputCount, 1)).map { "out\($0)" }
        let node = Node(opType: schema.name, domain: schema.domain, inputs: names, outputs: outputs, attributes: attributes)
        var opsets = [OpsetID(domain: "", version: schema.domain == "" ? schema.sinceVersion : 21)]
        if schema.domain != "" { opsets.append(OpsetID(domain: schema.domain, version: schema.sinceVersion)) }
        var m = makeModel([node], inputs: graphInputs, outputs: outputs, initializers: initializers)
        m.opsetImports = opsets
        try? ShapeInference.infer(&m)
    }

    static func intConstant(_ v: Int64, length: Int) -> Tensor {
        length == 1 ? int64Tensor("c", [v], shape: []) : int64Tensor("c", Array(repeating: v, count: length))
    }

    @Test func everySchemaSurvivesHostileInputs() {
        let registry = OpRegistry.standard
        var schemas: [OpSchema] = []
        for (domain, name) in registry.opNames {
            for v in registry.versions(domain: domain, opType: name) {
                if let s = registry.schema(domain: domain, opType: name, version: v) { schemas.append(s) }
            }
        }
        let floatConstant = Tensor(dtype: .float32, shape: [4], values: Self.hostileFloats)
        for schema in schemas {
            let inputCount = max(schema.inputs.count + (schema.inputs.last == .variadic ? 1 : 0), 0)
            for (n, v) in Self.hostileInts.enumerated() {
                let string = Self.hostileStrings[n % Self.hostileStrings.count]
                let float = Self.hostileFloats[n % Self.hostileFloats.count]
                for length in [0, 1, 4] {
                    let ints = Array(repeating: v, count: length)
                    let constant = Self.intConstant(v, length: length)
                    // Every input a constant, the first one of each length against the others.
                    for firstLength in [0, 1, 4] where inputCount > 0 {
                        let first = (ValueInfo?.none, Optional(Self.intConstant(v, length: firstLength)))
                        Self.infer(
                            schema, inputs: [first] + Array(repeating: (nil, constant), count: inputCount - 1),
                            int: v, ints: ints, float: float, string: string)
                    }
                    for shape in Self.hostileShapes {
                        let typed = tensorInfo("", .int64, shape)
                        // A typed first input (the data) and constants after it (shapes, axes, sizes...).
                        var inputs: [(ValueInfo?, Tensor?)] = inputCount > 0 ? [(typed, nil)] : []
                        inputs += Array(repeating: (nil, constant), count: max(inputCount - 1, 0))
                        Self.infer(schema, inputs: inputs, int: v, ints: ints, float: float, string: string)
                        guard length == 4 else { continue }
                        // Every input typed, and float constants (NaN, infinities) after a typed input.
                        Self.infer(
                            schema, inputs: Array(repeating: (typed, nil), count: inputCount),
                            int: v, ints: ints, float: float, string: string)
                        var floats: [(ValueInfo?, Tensor?)] = inputCount > 0 ? [(typed, nil)] : []
                        floats += Array(repeating: (nil, floatConstant), count: max(inputCount - 1, 0))
                        Self.infer(schema, inputs: floats, int: v, ints: ints, float: float, string: string)
                    }
                }
            }
        }
    }
}
