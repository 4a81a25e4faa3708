import SwiftConvIR

/// The JSON document `sc_model_info_json` returns; the schema is in docs/C_API.md.
enum ModelInfo {
    static func json(_ model: Model) -> [UInt8] {
        var w = JSONWriter()
        w.object { w in
            w.key("format")
            w.string(model.format.rawValue)
            w.key("ir_version")
            w.int(model.irVersion)
            w.key("producer_name")
            w.string(model.producerName)
            w.key("producer_version")
            w.string(model.producerVersion)
            w.key("domain")
            w.string(model.domain)
            w.key("model_version")
            w.int(model.modelVersion)
            w.key("doc_string")
            w.string(model.docString)
            w.key("graph_name")
            w.string(model.graph.name)
            w.key("opset")
            w.object { w in
                // "ai.onnx" is the default domain ""; the first import of a domain wins, as in opsetVersion(for:).
                var seen = Set<String>()
                for op in model.opsetImports {
                    let domain = op.domain == "ai.onnx" ? "" : op.domain
                    guard seen.insert(domain).inserted else { continue }
                    w.key(domain)
                    w.int(op.version)
                }
            }
            w.key("inputs")
            values(model.graph.runtimeInputs, into: &w)
            w.key("outputs")
            values(model.graph.outputs, into: &w)
            w.key("initializers")
            w.array { w in for t in model.graph.initializers { w.string(t.name) } }
            let (count, bytes) = parameterTotals(model.graph)
            w.key("parameters")
            w.int(count)
            w.key("parameter_bytes")
            w.int(bytes)
            w.key("ops")
            w.object { w in
                for (op, n) in opHistogram(model.graph) {
                    w.key(op)
                    w.int(Int64(n))
                }
            }
            w.key("metadata")
            w.object { w in
                // Later duplicates win, as when the entries are put into a dict one by one.
                var last = [String: Int]()
                for (i, e) in model.metadata.enumerated() { last[e.key] = i }
                for (i, e) in model.metadata.enumerated() where last[e.key] == i {
                    w.key(e.key)
                    w.string(e.value)
                }
            }
        }
        return w.bytes
    }

    /// Node counts of the main graph by op, in first-use order; "domain:Op" outside the default domain.
    static func opHistogram(_ graph: Graph) -> [(String, Int)] {
        var order = [String]()
        var counts = [String: Int]()
        for node in graph.nodes {
            let key = node.canonicalDomain.isEmpty ? node.opType : "\(node.canonicalDomain):\(node.opType)"
            if counts[key] == nil { order.append(key) }
            counts[key, default: 0] += 1
        }
        return order.map { ($0, counts[$0]!) }
    }

    /// Elements and bytes of the main graph's initializers (sparse ones by stored values).
    static func parameterTotals(_ graph: Graph) -> (Int64, Int64) {
        var count: Int64 = 0
        var bytes: Int64 = 0
        for t in graph.initializers {
            count &+= Int64(t.elementCount)
            bytes &+= Int64(t.dtype == .string ? t.strings.reduce(0) { $0 + $1.count } : t.byteCount)
        }
        for s in graph.sparseInitializers {
            count &+= Int64(s.values.elementCount)
            bytes &+= Int64(s.values.byteCount + s.indices.byteCount)
        }
        return (count, bytes)
    }

    static func values(_ infos: [ValueInfo], into w: inout JSONWriter) {
        w.array { w in
            for info in infos {
                w.object { w in
                    w.key("name")
                    w.string(info.name)
                    var dtype: DType? = nil
                    var shape: Shape? = nil
                    switch info.type {
                    case .tensor(let t, let s, _)?, .sparseTensor(let t, let s)?:
                        dtype = t
                        shape = s
                    default:
                        break
                    }
                    w.key("dtype")
                    w.string(dtype.map { $0.numpyName })
                    w.key("type")
                    w.string(info.type?.onnxTypeString)
                    w.key("shape")
                    if let shape {
                        w.array { w in
                            for d in shape {
                                switch d {
                                case .known(let v): w.int(Int64(v))
                                case .symbolic(let s): w.string(s)
                                case .unknown: w.null()
                                }
                            }
                        }
                    } else {
                        w.null()
                    }
                }
            }
        }
    }
}
