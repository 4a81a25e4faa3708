/// Human-readable renderings of a model.
public enum ModelText {
    /// Inputs, outputs, op histogram, parameter count and bytes.
    public static func summary(_ model: Model) -> String {
        let g = model.graph
        var lines: [String] = []
        var header = "Model: \(model.format.rawValue)"
        if model.format == .onnx { header += ", IR version \(model.irVersion)" }
        if !model.producerName.isEmpty {
            header += ", producer \(model.producerName)" + (model.producerVersion.isEmpty ? "" : " \(model.producerVersion)")
        }
        lines.append(header)
        if !model.opsetImports.isEmpty {
            lines.append("Opsets: " + model.opsetImports.map { "\(domainName($0.domain)) \($0.version)" }.joined(separator: ", "))
        }
        if !g.name.isEmpty { lines.append("Graph: \(g.name)") }

        // A converter that changed a value's layout (ONNX -> TFLite with keep_layout=False)
        // records it as metadata `swiftconv.layout.<name>`.
        var layouts: [String: String] = [:]
        for m in model.metadata where m.key.hasPrefix("swiftconv.layout.") { layouts[String(m.key.dropFirst(17))] = m.value }
        func row(_ v: ValueInfo) -> [String] { [v.name, typeText(v.type), shapeText(v.type)] + (layouts[v.name].map { [$0] } ?? []) }
        lines.append("Inputs (\(g.runtimeInputs.count)):")
        lines += table(g.runtimeInputs.map(row))
        lines.append("Outputs (\(g.outputs.count)):")
        lines += table(g.outputs.map(row))

        var counts: [String: Int] = [:]
        for n in g.nodes { counts[opLabel(n), default: 0] += 1 }
        let ops = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        lines.append("Ops (\(g.nodes.count) nodes, \(ops.count) types):")
        lines += table(ops.map { [$0.key, String($0.value)] })

        var params = 0, bytes = 0
        for t in g.initializers {
            params &+= t.elementCount
            bytes &+= t.dtype == .string ? t.strings.reduce(0) { $0 &+ $1.count } : (t.dtype.byteCount(elements: t.elementCount) ?? 0)
        }
        for s in g.sparseInitializers {
            params &+= s.values.elementCount
            bytes &+= s.values.dtype.byteCount(elements: s.values.elementCount) ?? 0
        }
        lines.append(
            "Parameters: \(grouped(params)) in \(g.initializers.count + g.sparseInitializers.count) initializers, "
                + "\(grouped(bytes)) bytes (\(humanBytes(bytes)))")
        if !model.functions.isEmpty { lines.append("Functions: " + model.functions.map(\.name).joined(separator: ", ")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text like `onnx.helper.printable_graph`: inputs, initializers, one line per node, return.
    public static func printableGraph(_ model: Model) -> String {
        var out: [String] = []
        printGraph(model.graph, indent: "", into: &out)
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: - Pieces

    static func printGraph(_ g: Graph, indent: String, into out: inout [String]) {
        let weights = Set(g.initializers.map(\.name))
        let inputs = g.inputs.filter { !weights.contains($0.name) }
        out.append(indent + "graph \(g.name) (")
        for v in inputs { out.append(indent + "  %\(v.name)\(typeTag(v.type))") }
        if g.initializers.isEmpty {
            out.append(indent + ") {")
        } else {
            out.append(indent + ") initializers (")
            for t in g.initializers {
                out.append(indent + "  %\(t.name)[\(t.dtype.onnxTypeName), \(t.shape.map(String.init).joined(separator: "x"))]")
            }
            out.append(indent + ") {")
        }
        for n in g.nodes {
            let outs = n.outputs.map { $0.isEmpty ? "%_" : "%\($0)" }.joined(separator: ", ")
            let ins = n.inputs.map { $0.isEmpty ? "%_" : "%\($0)" }.joined(separator: ", ")
            let plain = n.attributes.filter { !isGraph($0) }
            let attrs = plain.isEmpty ? "" : "[" + plain.map { "\($0.name) = \(attributeText($0))" }.joined(separator: ", ") + "]"
            let nodeName = n.name.isEmpty ? "" : "  # \(n.name)"
            out.append(indent + "  \(outs) = \(opLabel(n))\(attrs)(\(ins))\(nodeName)")
            for a in n.attributes where isGraph(a) {
                switch a.value {
                case .graph(let sub)?:
                    out.append(indent + "    \(a.name) =")
                    printGraph(sub, indent: indent + "    ", into: &out)
                case .graphs(let subs)?:
                    for (i, sub) in subs.enumerated() {
                        out.append(indent + "    \(a.name)[\(i)] =")
                        printGraph(sub, indent: indent + "    ", into: &out)
                    }
                default: break
                }
            }
        }
        out.append(indent + "  return " + g.outputs.map { "%\($0.name)" }.joined(separator: ", "))
        out.append(indent + "}")
    }

    static func isGraph(_ a: Attribute) -> Bool {
        switch a.value {
        case .graph?, .graphs?: return true
        default: return false
        }
    }

    static let maxListItems = 64

    static func list<T>(_ items: [T], _ render: (T) -> String) -> String {
        let shown = items.prefix(maxListItems).map(render).joined(separator: ", ")
        let more = items.count > maxListItems ? ", ...(\(items.count - maxListItems) more)" : ""
        return "[\(shown)\(more)]"
    }

    static func quoted(_ bytes: [UInt8]) -> String {
        let s = String(decoding: bytes.prefix(256), as: UTF8.self)
        return "'" + s + (bytes.count > 256 ? "..." : "") + "'"
    }

    static func attributeText(_ a: Attribute) -> String {
        if let ref = a.refAttrName { return "@\(ref)" }
        switch a.value {
        case nil: return "<none>"
        case .float(let f)?: return "\(f)"
        case .int(let i)?: return "\(i)"
        case .string(let s)?: return quoted(s)
        case .tensor(let t)?: return "<Tensor \(t.dtype.onnxTypeName)[\(t.shape.map(String.init).joined(separator: "x"))]>"
        case .graph(let g)?: return "<graph \(g.name)>"
        case .sparseTensor?: return "<SparseTensor>"
        case .type(let t)?: return "<Type \(t?.onnxTypeString ?? "undefined")>"
        case .floats(let f)?: return list(f) { "\($0)" }
        case .ints(let i)?: return list(i) { "\($0)" }
        case .strings(let s)?: return list(s, quoted)
        case .tensors(let t)?: return list(t) { "<Tensor \($0.dtype.onnxTypeName)>" }
        case .graphs(let g)?: return list(g) { "<graph \($0.name)>" }
        case .sparseTensors(let s)?: return "<\(s.count) SparseTensors>"
        case .types(let t)?: return list(t) { "<Type \($0?.onnxTypeString ?? "undefined")>" }
        }
    }

    /// `[FLOAT, batchx3x224x224]` in the spirit of onnx's printer.
    static func typeTag(_ t: ValueType?) -> String {
        guard let t else { return "" }
        if case .tensor(let e, let s, let q) = t {
            let dims = s.map { $0.map(\.description).joined(separator: "x") } ?? "?"
            return "[\(e.onnxTypeName), \(dims)\(q.map { ", quantized \($0)" } ?? "")]"
        }
        return "[\(t.onnxTypeString)]"
    }

    static func domainName(_ d: String) -> String { OpDomain.canonical(d).isEmpty ? "ai.onnx" : d }

    static func opLabel(_ n: Node) -> String {
        n.canonicalDomain.isEmpty ? n.opType : "\(n.canonicalDomain).\(n.opType)"
    }

    static func typeText(_ t: ValueType?) -> String {
        guard let t else { return "?" }
        if case .tensor(let e, _, let q) = t { return e.numpyName + (q.map { " (quantized \($0))" } ?? "") }
        return t.onnxTypeString
    }

    static func shapeText(_ t: ValueType?) -> String {
        switch t {
        case .tensor(_, let s, _)?, .sparseTensor(_, let s)?:
            guard let s else { return "(rank unknown)" }
            return "[" + s.map(\.description).joined(separator: ", ") + "]"
        default: return ""
        }
    }

    /// Left-aligned columns separated by two spaces, indented by two.
    static func table(_ rows: [[String]]) -> [String] {
        guard let width = rows.map(\.count).max(), width > 0 else { return ["  (none)"] }
        var widths = Array(repeating: 0, count: width)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], min(c.count, 60)) } }
        return rows.map { r in
            var line = "  "
            for (i, c) in r.enumerated() {
                line += c
                if i < r.count - 1 { line += String(repeating: " ", count: max(widths[i] - c.count, 0) + 2) }
            }
            return line
        }
    }

    /// 1234567 -> "1,234,567".
    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n.magnitude))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Bytes in binary units with one decimal: "13.4 MiB".
    static func humanBytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), u = 0
        while v >= 1024, u < units.count - 1 {
            v /= 1024
            u += 1
        }
        if u == 0 { return "\(n) B" }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[u])"
    }
}
