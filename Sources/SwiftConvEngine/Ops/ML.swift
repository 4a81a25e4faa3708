import RealModule
import SwiftConvIR

/// The ai.onnx.ml domain: tree ensembles, linear models, SVMs, scalers, encoders, ZipMap.
enum MLKernels {
    static let domain = "ai.onnx.ml"

    static func register(into r: inout KernelRegistry) {
        r.register("ArrayFeatureExtractor", domain: domain, since: [1]) { _ in ArrayFeatureExtractor() }
        r.register("Binarizer", domain: domain, since: [1]) { ctx in Binarizer(threshold: Double(ctx.float("threshold", default: 0))) }
        r.register("LabelEncoder", domain: domain, since: [1, 2, 4]) { ctx in try LabelEncoder(ctx) }
        r.register("TreeEnsemble", domain: domain, since: [5]) { ctx in try TreeEnsembleKernel(opset5: ctx) }
        r.register("TreeEnsembleRegressor", domain: domain, since: [1, 3, 5]) { ctx in
            try TreeEnsembleKernel(legacy: ctx, classifier: false)
        }
        r.register("TreeEnsembleClassifier", domain: domain, since: [1, 3, 5]) { ctx in
            try TreeEnsembleKernel(legacy: ctx, classifier: true)
        }
        r.register("Scaler", domain: domain, since: [1]) { ctx in
            Scaler(offset: (ctx.floats("offset") ?? [0]).map(Double.init), scale: (ctx.floats("scale") ?? [1]).map(Double.init))
        }
        r.register("Normalizer", domain: domain, since: [1]) { ctx in
            let norm = ctx.string("norm", default: "MAX")
            guard ["MAX", "L1", "L2"].contains(norm) else { throw ctx.invalid("unknown norm '\(norm)'") }
            return Normalizer(norm: norm)
        }
        r.register("LinearRegressor", domain: domain, since: [1]) { ctx in
            LinearModel(
                coefficients: (ctx.floats("coefficients") ?? []).map(Double.init),
                intercepts: (ctx.floats("intercepts") ?? []).map(Double.init),
                targets: Int(ctx.int("targets", default: 1)), post: try PostTransform(ctx), labels: nil)
        }
        r.register("LinearClassifier", domain: domain, since: [1]) { ctx in
            let coefficients = (ctx.floats("coefficients") ?? []).map(Double.init)
            let labels = try ClassLabels(ctx)
            return LinearModel(
                coefficients: coefficients, intercepts: (ctx.floats("intercepts") ?? []).map(Double.init),
                targets: labels.count, post: try PostTransform(ctx), labels: labels)
        }
        r.register("Imputer", domain: domain, since: [1]) { ctx in
            Imputer(
                values: (ctx.floats("imputed_value_floats") ?? []).map(Double.init),
                intValues: ctx.ints("imputed_value_int64s") ?? [],
                replaceFloat: Double(ctx.float("replaced_value_float", default: 0)),
                replaceInt: ctx.int("replaced_value_int64", default: 0))
        }
        r.register("FeatureVectorizer", domain: domain, since: [1]) { ctx in
            let dims = (ctx.ints("inputdimensions") ?? []).map(Int.init)
            guard dims.allSatisfy({ $0 >= 0 }) else { throw ctx.invalid("inputdimensions must be non-negative") }
            return FeatureVectorizer(dims: dims)
        }
        r.register("OneHotEncoder", domain: domain, since: [1]) { ctx in
            OneHotEncoderML(
                ints: ctx.ints("cats_int64s") ?? [],
                strings: ctx.node.attribute("cats_strings").flatMap {
                    if case .strings(let s)? = $0.value { return s } else { return nil }
                } ?? [], zeros: ctx.int("zeros", default: 1) != 0)
        }
        r.register("CategoryMapper", domain: domain, since: [1]) { ctx in
            let strs: [[UInt8]] = { if case .strings(let s)? = ctx.attribute("cats_strings")?.value { return s } else { return [] } }()
            let ints = ctx.ints("cats_int64s") ?? []
            guard strs.count == ints.count else { throw ctx.invalid("cats_strings and cats_int64s differ in length") }
            return CategoryMapper(
                toInt: Dictionary(zip(strs, ints), uniquingKeysWith: { a, _ in a }),
                toString: Dictionary(zip(ints, strs), uniquingKeysWith: { a, _ in a }),
                defaultString: Array(ctx.string("default_string", default: "_Unused").utf8),
                defaultInt: ctx.int("default_int64", default: -1))
        }
        registerSupportVector(into: &r)
        r.register("ZipMap", domain: domain, since: [1]) { ctx in try ZipMap(labels: ClassLabels(ctx)) }
        r.register("DictVectorizer", domain: domain, since: [1]) { ctx in
            let strs: [[UInt8]] = { if case .strings(let s)? = ctx.attribute("string_vocabulary")?.value { return s } else { return [] } }()
            return DictVectorizer(
                strings: Dictionary(strs.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }),
                ints: Dictionary((ctx.ints("int64_vocabulary") ?? []).enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }),
                size: max(strs.count, ctx.ints("int64_vocabulary")?.count ?? 0))
        }
    }
}

/// Numeric ML input (float, double, int32, int64) as Doubles.
func mlValues(_ t: Tensor) throws -> [Double] {
    switch t.dtype {
    case .float32, .float64, .float16: return try DoubleBridge.values(t)
    default:
        guard let v = t.int64Values() else { throw kernelUnsupported("unsupported input type \(t.dtype)") }
        return v.map(Double.init)
    }
}

/// (rows, columns) of a 1-D or 2-D ML input.
func mlRows(_ t: Tensor) throws -> (Int, Int) {
    switch t.rank {
    case 0: return (1, 1)
    case 1: return (1, t.shape[0])
    case 2: return (t.shape[0], t.shape[1])
    default: throw kernelError("expected a [N, C] input, got \(t.shape)")
    }
}

/// Class labels of a classifier (int64 or strings).
struct ClassLabels {
    let ints: [Int64]?
    let strings: [[UInt8]]?
    var count: Int { ints?.count ?? strings?.count ?? 0 }

    init(_ ctx: KernelBuildContext) throws {
        if case .strings(let s)? = ctx.attribute("classlabels_strings")?.value, !s.isEmpty {
            strings = s
            ints = nil
        } else if let i = ctx.ints("classlabels_int64s") ?? ctx.ints("classlabels_ints") { // LinearClassifier/SVMClassifier: _ints
            ints = i
            strings = nil
        } else {
            throw ctx.invalid("needs classlabels_strings or classlabels_int64s")
        }
    }

    func tensor(_ picks: [Int]) -> Tensor {
        if let s = strings { return Tensor(shape: [picks.count], strings: picks.map { s[$0] }) }
        let v = ints ?? []
        return .from(picks.map { v[$0] })
    }
}

/// Score post-transforms shared by linear models, SVMs and tree ensembles.
enum PostTransform {
    case none, softmax, logistic, softmaxZero, probit

    init(_ ctx: KernelBuildContext) throws {
        if let code = ctx.attribute("post_transform")?.int { // TreeEnsemble opset 5: an int
            switch code {
            case 0: self = .none
            case 1: self = .softmax
            case 2: self = .logistic
            case 3: self = .softmaxZero
            case 4: self = .probit
            default: throw ctx.invalid("unknown post_transform \(code)")
            }
            return
        }
        switch ctx.string("post_transform", default: "NONE") {
        case "NONE": self = .none
        case "SOFTMAX": self = .softmax
        case "LOGISTIC": self = .logistic
        case "SOFTMAX_ZERO": self = .softmaxZero
        case "PROBIT": self = .probit
        case let p: throw ctx.invalid("unknown post_transform '\(p)'")
        }
    }

    static func probit(_ p: Double) -> Double {
        // Inverse normal CDF via an inverse-erf approximation (as in onnxruntime).
        let x = 2 * p - 1
        let ln = Double.log((1 - x) * (1 + x))
        let a = 0.147
        let t1 = 2 / (Double.pi * a) + ln / 2
        let v = (t1 * t1 - ln / a).squareRoot() - t1
        return Double(x < 0 ? -1 : 1) * v.squareRoot() * 2.0.squareRoot()
    }

    func apply(_ row: inout ArraySlice<Double>) {
        switch self {
        case .none: return
        case .logistic:
            for i in row.indices { row[i] = 1 / (1 + Double.exp(-row[i])) }
        case .probit:
            for i in row.indices { row[i] = PostTransform.probit(row[i]) }
        case .softmax, .softmaxZero:
            let m = row.max() ?? 0
            var sum = 0.0
            for i in row.indices {
                if self == .softmaxZero && row[i] == 0 { continue }
                row[i] = Double.exp(row[i] - m)
                sum += row[i]
            }
            for i in row.indices where !(self == .softmaxZero && row[i] == 0) { row[i] /= sum }
        }
    }
}

struct ArrayFeatureExtractor: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0), idx = try inputs.tensor(1)
        guard x.rank >= 1, let index = idx.int64Values() else { throw kernelError("needs data of rank >= 1 and int64 indices") }
        let c = x.shape[x.rank - 1]
        let cols = try index.map { i -> Int in
            guard i >= 0, i < c else { throw kernelError("index \(i) is out of range for \(c) columns") }
            return Int(i)
        }
        let rows = x.elementCount / max(c, 1)
        let shape = x.rank == 1 ? [1, cols.count] : Array(x.shape.dropLast()) + [cols.count]
        if x.dtype == .string {
            var out: [[UInt8]] = []
            out.reserveCapacity(rows * cols.count)
            for r in 0..<rows { for j in cols { out.append(x.strings[r * c + j]) } }
            return [.tensor(Tensor(shape: shape, strings: out))]
        }
        let eb = try AxisBlocks.elementBytes(x.dtype)
        let out = try Tensor.allocate(x.dtype, shape)
        if let dst = out.storage.mutableBytes.baseAddress, let src = x.storage.bytes.baseAddress {
            var o = 0
            for r in 0..<rows {
                for j in cols {
                    (dst + o * eb).copyMemory(from: src + (r * c + j) * eb, byteCount: eb)
                    o += 1
                }
            }
        }
        return [.tensor(out)]
    }
}

struct Binarizer: Kernel {
    let threshold: Double
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        struct V: NumericVisitor {
            let x: Tensor, threshold: Double
            func visit<T: NumericScalar>(_ type: T.Type) throws -> Tensor {
                try mapUnary(x, T.self, T.self) { $0.asDouble > threshold ? 1 : 0 }
            }
        }
        guard let out = try dispatchNumeric(x.dtype, V(x: x, threshold: threshold)) else {
            throw kernelUnsupported("unsupported type \(x.dtype)")
        }
        return [.tensor(out)]
    }
}

/// Hashable form of a LabelEncoder / lookup key.
enum LookupKey: Hashable {
    case int(Int64), float(UInt64), string([UInt8])
    static func real(_ d: Double) -> LookupKey { .float(d.isNaN ? Double.nan.bitPattern : (d == 0 ? 0 : d.bitPattern)) }
}

/// LabelEncoder 1 (classes_strings), 2 (keys_*/values_* lists), 4 (also *_tensor attributes).
struct LabelEncoder: Kernel {
    /// Key → index into `values`; misses take `fallback`.
    let table: [LookupKey: Int]
    let values: Tensor
    let fallback: Tensor

    init(_ ctx: KernelBuildContext) throws {
        func strs(_ name: String) -> [[UInt8]]? {
            if case .strings(let s)? = ctx.attribute(name)?.value { return s } else { return nil }
        }
        func keysOf(_ t: Tensor) throws -> [LookupKey] {
            if t.dtype == .string { return t.strings.map { .string($0) } }
            if t.dtype.isFloatingPoint { return try DoubleBridge.values(t).map(LookupKey.real) }
            guard let v = t.int64Values() else { throw ctx.invalid("unsupported key type \(t.dtype)") }
            return v.map { .int($0) }
        }
        var keys: [LookupKey]
        if ctx.sinceVersion == 1 {
            let classes = strs("classes_strings") ?? []
            // Version 1 maps strings to their class index, or int64 back to the class string.
            if ctx.inputType(0)?.tensorElementType == .int64 {
                keys = classes.indices.map { .int(Int64($0)) }
                values = Tensor(shape: [classes.count], strings: classes)
                fallback = Tensor(shape: [], strings: [Array(ctx.string("default_string", default: "_Unused").utf8)])
            } else {
                keys = classes.map { .string($0) }
                values = .from(classes.indices.map { Int64($0) })
                fallback = .from([ctx.int("default_int64", default: -1)], shape: [])
            }
        } else {
            if let s = strs("keys_strings") {
                keys = s.map { .string($0) }
            } else if let i = ctx.ints("keys_int64s") {
                keys = i.map { .int($0) }
            } else if let f = ctx.floats("keys_floats") {
                keys = f.map { .real(Double($0)) }
            } else if let t = ctx.tensor("keys_tensor") {
                keys = try keysOf(t)
            } else {
                throw ctx.invalid("no keys")
            }
            if let s = strs("values_strings") {
                values = Tensor(shape: [s.count], strings: s)
                fallback = Tensor(shape: [], strings: [Array(ctx.string("default_string", default: "_Unused").utf8)])
            } else if let i = ctx.ints("values_int64s") {
                values = .from(i)
                fallback = .from([ctx.int("default_int64", default: -1)], shape: [])
            } else if let f = ctx.floats("values_floats") {
                values = .from(f)
                fallback = .from([ctx.float("default_float", default: -0.0)], shape: [])
            } else if let t = ctx.tensor("values_tensor") {
                values = t.reshaped([t.elementCount])
                if let d = ctx.tensor("default_tensor") {
                    guard d.dtype == t.dtype, d.elementCount == 1 else { throw ctx.invalid("default_tensor must be one \(t.dtype) value") }
                    fallback = d.reshaped([])
                } else if t.dtype == .string {
                    fallback = Tensor(shape: [], strings: [Array("_Unused".utf8)])
                } else if t.dtype.isFloatingPoint {
                    fallback = try DoubleBridge.tensor([-0.0], dtype: t.dtype, shape: [])
                } else {
                    fallback = try DoubleBridge.tensor([-1], dtype: t.dtype, shape: [])
                }
            } else {
                throw ctx.invalid("no values")
            }
        }
        guard keys.count == values.elementCount else { throw ctx.invalid("keys and values differ in length") }
        var table: [LookupKey: Int] = [:]
        for (i, k) in keys.enumerated() where table[k] == nil { table[k] = i }
        self.table = table
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let n = x.elementCount
        var picks = [Int](repeating: -1, count: n)
        if x.dtype == .string {
            for i in 0..<n { picks[i] = table[.string(x.strings[i])] ?? -1 }
        } else if x.dtype.isFloatingPoint {
            let v = try DoubleBridge.values(x)
            for i in 0..<n { picks[i] = table[.real(v[i])] ?? -1 }
        } else if let v = x.int64Values() {
            for i in 0..<n { picks[i] = table[.int(v[i])] ?? -1 }
        } else {
            throw kernelUnsupported("unsupported input type \(x.dtype)")
        }
        if values.dtype == .string {
            return [.tensor(Tensor(shape: x.shape, strings: picks.map { $0 >= 0 ? values.strings[$0] : fallback.strings[0] }))]
        }
        let eb = try AxisBlocks.elementBytes(values.dtype)
        let out = try Tensor.allocate(values.dtype, x.shape)
        if let dst = out.storage.mutableBytes.baseAddress {
            for (i, p) in picks.enumerated() {
                let src = p >= 0 ? values.storage.bytes.baseAddress! + p * eb : fallback.storage.bytes.baseAddress!
                (dst + i * eb).copyMemory(from: src, byteCount: eb)
            }
        }
        return [.tensor(out)]
    }
}

/// Decision-tree ensembles: TreeEnsemble (opset 5) and TreeEnsembleRegressor/Classifier (1, 3).
struct TreeEnsembleKernel: Kernel {
    enum Mode: UInt8 { case leq = 0, lt, gte, gt, eq, neq, member }
    struct Node {
        var feature: Int
        var mode: Mode
        var value: Double
        var members: Set<Double>
        var missingTrue: Bool
        /// >= 0: a node index; < 0: leaf -(i + 1).
        var onTrue: Int
        var onFalse: Int
    }
    enum Aggregate { case sum, average, min, max }

    let nodes: [Node]
    let leaves: [[(target: Int, weight: Double)]]
    let roots: [Int]
    let targets: Int
    let aggregate: Aggregate
    let base: [Double]
    let post: PostTransform
    let labels: ClassLabels?
    /// Output dtype of the regressor scores (TreeEnsemble 5 keeps the input's float type).
    let keepInputType: Bool

    init(opset5 ctx: KernelBuildContext) throws {
        func doubles(_ name: String) throws -> [Double] {
            guard let t = ctx.tensor(name) else { throw ctx.missing(name) }
            return try DoubleBridge.values(t)
        }
        let splits = try doubles("nodes_splits")
        guard let modesT = ctx.tensor("nodes_modes"), let modes = modesT.int64Values() else { throw ctx.missing("nodes_modes") }
        let features = ctx.ints("nodes_featureids") ?? []
        let trueIds = ctx.ints("nodes_truenodeids") ?? [], falseIds = ctx.ints("nodes_falsenodeids") ?? []
        let trueLeaf = ctx.ints("nodes_trueleafs") ?? [], falseLeaf = ctx.ints("nodes_falseleafs") ?? []
        let missing = ctx.ints("nodes_missing_value_tracks_true") ?? []
        let leafTargets = ctx.ints("leaf_targetids") ?? []
        let leafWeights = try doubles("leaf_weights")
        let n = splits.count
        guard [modes.count, features.count, trueIds.count, falseIds.count, trueLeaf.count, falseLeaf.count].allSatisfy({ $0 == n }),
            leafTargets.count == leafWeights.count
        else {
            throw ctx.invalid("node or leaf attributes differ in length")
        }
        var memberValues = try ctx.tensor("membership_values").map { try DoubleBridge.values($0) } ?? []
        targets = Int(try ctx.int("n_targets"))
        guard targets > 0 else { throw ctx.invalid("n_targets must be positive") }
        var nodes: [Node] = []
        for i in 0..<n {
            guard let mode = Mode(rawValue: UInt8(clamping: modes[i])) else { throw ctx.invalid("unknown node mode \(modes[i])") }
            var members = Set<Double>()
            if mode == .member {
                while let v = memberValues.first {
                    memberValues.removeFirst()
                    if v.isNaN { break }
                    members.insert(v)
                }
            }
            func child(_ id: Int64, _ leaf: Int64) throws -> Int {
                if leaf != 0 {
                    guard id >= 0, Int(id) < leafWeights.count else { throw ctx.invalid("leaf id \(id) is out of range") }
                    return -Int(id) - 1
                }
                guard id >= 0, Int(id) < n else { throw ctx.invalid("node id \(id) is out of range") }
                return Int(id)
            }
            nodes.append(
                Node(
                    feature: Int(features[i]), mode: mode, value: splits[i], members: members,
                    missingTrue: i < missing.count && missing[i] != 0,
                    onTrue: try child(trueIds[i], trueLeaf[i]), onFalse: try child(falseIds[i], falseLeaf[i])))
        }
        for (i, t) in leafTargets.enumerated() where t < 0 || Int(t) >= targets {
            throw ctx.invalid("leaf \(i) targets \(t), outside n_targets \(targets)")
        }
        leaves = zip(leafTargets, leafWeights).map { [(Int($0), $1)] }
        roots = try (ctx.ints("tree_roots") ?? []).map { r in
            guard r >= 0, Int(r) < n else { throw ctx.invalid("tree root \(r) is out of range") }
            let node = nodes[Int(r)]
            // A root whose two branches are the same leaf is itself a leaf.
            if node.onTrue < 0 && node.onTrue == node.onFalse { return node.onTrue }
            return Int(r)
        }
        switch ctx.int("aggregate_function", default: 1) {
        case 0: aggregate = .average
        case 1: aggregate = .sum
        case 2: aggregate = .min
        case 3: aggregate = .max
        case let a: throw ctx.invalid("unknown aggregate_function \(a)")
        }
        self.nodes = nodes
        base = []
        post = try PostTransform(ctx)
        labels = nil
        keepInputType = true
    }

    init(legacy ctx: KernelBuildContext, classifier: Bool) throws {
        let treeIds = ctx.ints("nodes_treeids") ?? [], nodeIds = ctx.ints("nodes_nodeids") ?? []
        let features = ctx.ints("nodes_featureids") ?? []
        let modes = ctx.strings("nodes_modes") ?? []
        var values = (ctx.floats("nodes_values") ?? []).map(Double.init)
        if let t = ctx.tensor("nodes_values_as_tensor") { values = try DoubleBridge.values(t) }
        let trueIds = ctx.ints("nodes_truenodeids") ?? [], falseIds = ctx.ints("nodes_falsenodeids") ?? []
        let missing = ctx.ints("nodes_missing_value_tracks_true") ?? []
        let n = nodeIds.count
        guard [treeIds.count, features.count, modes.count, values.count, trueIds.count, falseIds.count].allSatisfy({ $0 == n }) else {
            throw ctx.invalid("node attributes differ in length")
        }
        let p = classifier ? "class" : "target"
        let tTree = ctx.ints("\(p)_treeids") ?? [], tNode = ctx.ints("\(p)_nodeids") ?? [], tId = ctx.ints("\(p)_ids") ?? []
        var tWeight = (ctx.floats("\(p)_weights") ?? []).map(Double.init)
        if let t = ctx.tensor("\(p)_weights_as_tensor") { tWeight = try DoubleBridge.values(t) }
        guard [tNode.count, tId.count, tWeight.count].allSatisfy({ $0 == tTree.count }) else {
            throw ctx.invalid("\(p) attributes differ in length")
        }
        if classifier {
            let l = try ClassLabels(ctx)
            labels = l
            targets = l.count
        } else {
            labels = nil
            targets = Int(ctx.int("n_targets", default: 1))
        }
        var index: [[Int64]: Int] = [:]
        for i in 0..<n { index[[treeIds[i], nodeIds[i]]] = i }
        // Leaves are the LEAF nodes; each gets the (target, weight) pairs listed for it.
        var leafOf: [Int: Int] = [:]
        var leaves: [[(target: Int, weight: Double)]] = []
        for i in 0..<n where modes[i] == "LEAF" {
            leafOf[i] = leaves.count
            leaves.append([])
        }
        for k in 0..<tTree.count {
            guard let i = index[[tTree[k], tNode[k]]], let l = leafOf[i] else { throw ctx.invalid("\(p) \(k) names no leaf") }
            guard tId[k] >= 0, Int(tId[k]) < targets else { throw ctx.invalid("\(p) id \(tId[k]) is out of range") }
            leaves[l].append((Int(tId[k]), tWeight[k]))
        }
        func ref(_ i: Int) -> Int { leafOf[i].map { -$0 - 1 } ?? i }
        var nodes: [Node] = []
        for i in 0..<n {
            let mode: Mode
            switch modes[i] {
            case "BRANCH_LEQ": mode = .leq
            case "BRANCH_LT": mode = .lt
            case "BRANCH_GTE": mode = .gte
            case "BRANCH_GT": mode = .gt
            case "BRANCH_EQ": mode = .eq
            case "BRANCH_NEQ": mode = .neq
            case "LEAF": mode = .eq
            case let m: throw ctx.invalid("unknown node mode '\(m)'")
            }
            var t = 0, f = 0
            if modes[i] != "LEAF" {
                guard let ti = index[[treeIds[i], trueIds[i]]], let fi = index[[treeIds[i], falseIds[i]]] else {
                    throw ctx.invalid("node \(i) has a child that does not exist")
                }
                t = ref(ti)
                f = ref(fi)
            }
            nodes.append(
                Node(
                    feature: Int(features[i]), mode: mode, value: values[i], members: [],
                    missingTrue: i < missing.count && missing[i] != 0, onTrue: t, onFalse: f))
        }
        var roots: [Int] = []
        var seen = Set<Int64>()
        for i in 0..<n where seen.insert(treeIds[i]).inserted {
            // The root is the tree's node that no other node points to; ONNX lists it first.
            roots.append(ref(i))
        }
        self.nodes = nodes
        self.leaves = leaves
        self.roots = roots
        switch ctx.string("aggregate_function", default: "SUM") {
        case "SUM": aggregate = .sum
        case "AVERAGE": aggregate = .average
        case "MIN": aggregate = .min
        case "MAX": aggregate = .max
        case let a: throw ctx.invalid("unknown aggregate_function '\(a)'")
        }
        var b = (ctx.floats("base_values") ?? []).map(Double.init)
        if let t = ctx.tensor("base_values_as_tensor") { b = try DoubleBridge.values(t) }
        base = b
        post = try PostTransform(ctx)
        keepInputType = false
    }

    func leaf(_ root: Int, _ row: ArraySlice<Double>) throws -> Int {
        var i = root
        var steps = 0
        while i >= 0 {
            let node = nodes[i]
            guard node.feature >= 0, node.feature < row.count else { throw kernelError("feature \(node.feature) is out of range") }
            let x = row[row.startIndex + node.feature]
            let go: Bool
            if x.isNaN && node.missingTrue {
                go = true
            } else {
                switch node.mode {
                case .leq: go = x <= node.value
                case .lt: go = x < node.value
                case .gte: go = x >= node.value
                case .gt: go = x > node.value
                case .eq: go = x == node.value
                case .neq: go = x != node.value
                case .member: go = node.members.contains(x)
                }
            }
            i = go ? node.onTrue : node.onFalse
            steps += 1
            if steps > nodes.count { throw kernelError("a tree has a cycle") }
        }
        return -i - 1
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (rows, cols) = try mlRows(x)
        let v = try mlValues(x)
        // n_targets is an attribute: the score table is checked before it is made.
        try checkTemporary(checkedElementCount([max(rows, 1), targets]), of: Double.self, "the scores")
        var scores = [Double](repeating: 0, count: rows * targets)
        var hit = [Bool](repeating: false, count: targets)
        // Binary classifiers follow onnxruntime: the class-1 score decides the label (> 0.5 when all
        // weights are positive, else > 0); weights on class 0 only (skl2onnx's layout) score class 1.
        let binary = labels != nil && targets == 2
        let allPositive = leaves.allSatisfy { $0.allSatisfy { $0.weight >= 0 } }
        let onlyClass0 = binary && base.isEmpty && leaves.allSatisfy { $0.allSatisfy { $0.target == 0 } }
        var binaryPicks: [Int] = []
        for r in 0..<rows {
            let row = v[(r * cols)..<(r * cols + cols)]
            for t in 0..<targets { hit[t] = false }
            for root in roots {
                for (t, w) in leaves[try leaf(root, row)] {
                    let o = r * targets + t
                    switch aggregate {
                    case .sum, .average: scores[o] += w
                    case .min: scores[o] = hit[t] ? Swift.min(scores[o], w) : w
                    case .max: scores[o] = hit[t] ? Swift.max(scores[o], w) : w
                    }
                    hit[t] = true
                }
            }
            for t in 0..<targets {
                let o = r * targets + t
                if aggregate == .average { scores[o] /= Double(Swift.max(roots.count, 1)) }
                if t < base.count { scores[o] += base[t] }
            }
            if onlyClass0 {
                let o = r * 2, s = scores[o]
                binaryPicks.append(s > (allPositive ? 0.5 : 0) ? 1 : 0)
                if allPositive {
                    scores[o] = 1 - s
                } else if post == .logistic {
                    scores[o] = 1 / (1 + Double.exp(s))
                    scores[o + 1] = 1 / (1 + Double.exp(-s))
                    continue
                } else {
                    scores[o] = -s
                }
                scores[o + 1] = s
                continue
            }
            if binary { binaryPicks.append(scores[r * 2 + 1] > (allPositive ? 0.5 : 0) ? 1 : 0) }
            var slice = scores[(r * targets)..<(r * targets + targets)]
            post.apply(&slice)
            scores.replaceSubrange((r * targets)..<(r * targets + targets), with: slice)
        }
        let dtype: DType = keepInputType && x.dtype.isFloatingPoint ? x.dtype : .float32
        let y = try DoubleBridge.tensor(scores, dtype: dtype, shape: [rows, targets])
        guard let labels else { return [.tensor(y)] }
        var picks: [Int] = binaryPicks
        for r in 0..<(binary ? 0 : rows) {
            var best = 0
            for t in 1..<Swift.max(targets, 1) where scores[r * targets + t] > scores[r * targets + best] { best = t }
            picks.append(best)
        }
        return [.tensor(labels.tensor(picks)), .tensor(y)]
    }
}

struct Scaler: Kernel {
    let offset: [Double], scale: [Double]
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (_, c) = try mlRows(x)
        var v = try mlValues(x)
        guard offset.count == 1 || offset.count == c, scale.count == 1 || scale.count == c else {
            throw kernelError("offset/scale must have 1 or \(c) entries")
        }
        for i in 0..<v.count {
            let j = i % Swift.max(c, 1)
            v[i] = (v[i] - offset[offset.count == 1 ? 0 : j]) * scale[scale.count == 1 ? 0 : j]
        }
        return [.tensor(try DoubleBridge.tensor(v, dtype: .float32, shape: x.shape))]
    }
}

struct Normalizer: Kernel {
    let norm: String
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (rows, c) = try mlRows(x)
        var v = try mlValues(x)
        for r in 0..<rows {
            let row = v[(r * c)..<(r * c + c)]
            let d: Double
            switch norm {
            case "MAX": d = row.max() ?? 1
            case "L1": d = row.reduce(0) { $0 + Swift.abs($1) }
            default: d = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            }
            if d != 0 { for i in row.indices { v[i] /= d } }
        }
        return [.tensor(try DoubleBridge.tensor(v, dtype: .float32, shape: x.shape))]
    }
}

/// LinearRegressor and LinearClassifier: scores = X · coefficientsᵀ + intercepts.
struct LinearModel: Kernel {
    let coefficients: [Double], intercepts: [Double]
    let targets: Int
    let post: PostTransform
    let labels: ClassLabels?

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (rows, c) = try mlRows(x)
        let v = try mlValues(x)
        let k = coefficients.count / Swift.max(c, 1)
        guard k * c == coefficients.count, k >= 1 else { throw kernelError("coefficients do not fit \(c) features") }
        var scores = [Double](repeating: 0, count: rows * k)
        var raw = scores
        for r in 0..<rows {
            for t in 0..<k {
                var s = t < intercepts.count ? intercepts[t] : 0
                for j in 0..<c { s += v[r * c + j] * coefficients[t * c + j] }
                scores[r * k + t] = s
                raw[r * k + t] = s
            }
            var slice = scores[(r * k)..<(r * k + k)]
            post.apply(&slice)
            scores.replaceSubrange((r * k)..<(r * k + k), with: slice)
        }
        guard let labels else { return [.tensor(try DoubleBridge.tensor(scores, dtype: .float32, shape: [rows, k]))] }
        var picks: [Int] = []
        var outScores = scores
        var width = k
        if k == 1 && labels.count == 2 {
            // Binary with one coefficient row: the score is for the positive class.
            width = 2
            outScores = []
            // As onnxruntime: the label is raw score > 0; scores are [1 - s, s], s the raw score unless
            // LOGISTIC/PROBIT transformed it (SOFTMAX of one column is not applied).
            for r in 0..<rows {
                let s = post == .logistic || post == .probit ? scores[r] : raw[r]
                picks.append(post == .probit ? (s > 0.5 ? 1 : 0) : (raw[r] > 0 ? 1 : 0))
                outScores += [1 - s, s]
            }
        } else {
            for r in 0..<rows {
                var best = 0
                for t in 1..<k where scores[r * k + t] > scores[r * k + best] { best = t }
                picks.append(Swift.min(best, labels.count - 1))
            }
        }
        return [.tensor(labels.tensor(picks)), .tensor(try DoubleBridge.tensor(outScores, dtype: .float32, shape: [rows, width]))]
    }
}

struct Imputer: Kernel {
    let values: [Double], intValues: [Int64]
    let replaceFloat: Double, replaceInt: Int64
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (_, c) = try mlRows(x)
        if x.dtype == .int64 || x.dtype == .int32 {
            var v = x.int64Values() ?? []
            guard intValues.count == 1 || intValues.count == c else { throw kernelError("imputed values do not fit \(c) columns") }
            for i in 0..<v.count where v[i] == replaceInt { v[i] = intValues[intValues.count == 1 ? 0 : i % c] }
            return [.tensor(try DoubleBridge.tensor(v.map(Double.init), dtype: x.dtype, shape: x.shape))]
        }
        var v = try mlValues(x)
        guard values.count == 1 || values.count == c else { throw kernelError("imputed values do not fit \(c) columns") }
        for i in 0..<v.count where v[i] == replaceFloat || (replaceFloat.isNaN && v[i].isNaN) {
            v[i] = values[values.count == 1 ? 0 : i % c]
        }
        return [.tensor(try DoubleBridge.tensor(v, dtype: x.dtype, shape: x.shape))]
    }
}

struct FeatureVectorizer: Kernel {
    let dims: [Int]
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let n = Swift.min(dims.count, inputs.count)
        guard n > 0 else { throw kernelError("no inputs") }
        let first = try inputs.tensor(0)
        let rows = first.rank <= 1 ? 1 : first.shape[0]
        let width = try dims.reduce(0) { try Checked.add($0, $1, "the feature width") }
        try checkTemporary(checkedElementCount([rows, width]), of: Double.self, "the features")
        var out = [Double](repeating: 0, count: rows * width)
        var offset = 0
        for i in 0..<n {
            let t = try inputs.tensor(i)
            let v = try mlValues(t)
            let c = rows > 0 ? v.count / rows : 0
            for r in 0..<rows {
                for j in 0..<Swift.min(c, dims[i]) { out[r * width + offset + j] = v[r * c + j] }
            }
            offset += dims[i]
        }
        return [.tensor(try DoubleBridge.tensor(out, dtype: .float32, shape: [rows, width]))]
    }
}

struct OneHotEncoderML: Kernel {
    let ints: [Int64], strings: [[UInt8]]
    let zeros: Bool
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        var picks: [Int] = []
        if x.dtype == .string {
            let table = Dictionary(strings.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            picks = x.strings.map { table[$0] ?? -1 }
        } else {
            let table = Dictionary(ints.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            picks = try mlValues(x).map { table[Int64($0)] ?? -1 }
        }
        let k = x.dtype == .string ? strings.count : ints.count
        if !zeros, picks.contains(-1) { throw kernelError("a category is not in the list and zeros is 0") }
        var out = [Double](repeating: 0, count: picks.count * k)
        for (i, p) in picks.enumerated() where p >= 0 { out[i * k + p] = 1 }
        return [.tensor(try DoubleBridge.tensor(out, dtype: .float32, shape: x.shape + [k]))]
    }
}

struct CategoryMapper: Kernel {
    let toInt: [[UInt8]: Int64]
    let toString: [Int64: [UInt8]]
    let defaultString: [UInt8]
    let defaultInt: Int64
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        if x.dtype == .string { return [.tensor(.from(x.strings.map { toInt[$0] ?? defaultInt }, shape: x.shape))] }
        guard let v = x.int64Values() else { throw kernelUnsupported("unsupported input type \(x.dtype)") }
        return [.tensor(Tensor(shape: x.shape, strings: v.map { toString[$0] ?? defaultString }))]
    }
}

/// ZipMap: each row of scores becomes a map from class label to score (a sequence of maps).
struct ZipMap: Kernel {
    let labels: ClassLabels
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let (rows, c) = try mlRows(x)
        guard c == labels.count else { throw kernelError("\(c) scores per row for \(labels.count) labels") }
        let v = try mlValues(x)
        // Keys in ascending label order, as onnxruntime's std::map (and so its Python dicts) has them.
        let order: [Int]
        if let s = labels.strings {
            order = (0..<c).sorted { s[$0].lexicographicallyPrecedes(s[$1]) }
        } else {
            let i = labels.ints ?? []
            order = (0..<c).sorted { i[$0] < i[$1] }
        }
        let keys = labels.tensor(order)
        var maps: [Value] = []
        for r in 0..<rows {
            maps.append(.map(keys: keys, values: try DoubleBridge.tensor(order.map { v[r * c + $0] }, dtype: .float32, shape: [c])))
        }
        let keyType: DType = labels.strings != nil ? .string : .int64
        return [.sequence(maps, elementType: .map(key: keyType, value: .tensor(elementType: .float32, shape: nil)))]
    }
}

struct DictVectorizer: Kernel {
    let strings: [[UInt8]: Int]
    let ints: [Int64: Int]
    let size: Int
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        guard case .map(let keys, let values)? = inputs.first ?? nil else { throw kernelError("the input must be a map") }
        let n = keys.elementCount
        guard values.elementCount == n else { throw kernelError("map keys and values differ in length") }
        let out = try Tensor.zeros(values.dtype, [1, size])
        let eb = try AxisBlocks.elementBytes(values.dtype)
        guard let dst = out.storage.mutableBytes.baseAddress, let src = values.storage.bytes.baseAddress else { return [.tensor(out)] }
        let iv = keys.dtype == .string ? nil : keys.int64Values()
        for i in 0..<n {
            let slot = keys.dtype == .string ? strings[keys.strings[i]] : iv.flatMap { ints[$0[i]] }
            if let s = slot { (dst + s * eb).copyMemory(from: src + i * eb, byteCount: eb) }
        }
        return [.tensor(out)]
    }
}
