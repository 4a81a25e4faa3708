import SwiftConvEngine
import SwiftConvIR
import SwiftConvModelIO
import SwiftConvONNX

// swiftconv-conformance: runs ONNX backend test cases through the engine, in Swift only.
//
// A developer tool for working on kernels without the Python layer:
//   python3 scripts/export-backend-cases.py            # once: writes tests/.cache/backend-data
//   swift run -c release swiftconv-conformance [ROOT] [--filter SUBSTRING] [--verbose]
//   swift run swiftconv-conformance --smoke tests/fuzz_corpus   # replay hostile cases, outputs not compared
// The acceptance suite is tests/test_backend_engine.py (pytest, against the same cases).
#if canImport(Glibc)
    import Glibc
#endif

var root = "tests/.cache/backend-data/1.23.2"
var filter: String? = nil
var verbose = false
var smoke = false
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--filter": filter = args.isEmpty ? nil : args.removeFirst()
    case "--verbose", "-v": verbose = true
    case "--smoke": smoke = true
    default: root = a
    }
}

func listDir(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var out: [String] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        if name != "." && name != ".." { out.append(name) }
    }
    return out.sorted()
}

func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

func readTensor(_ path: String) throws -> Tensor {
    let f = try FileBuffer(path: path)
    return try ONNXReader.tensor(serialized: f.bytes)
}

/// numpy.testing.assert_allclose semantics (NaN equal NaN), exact for integers and bools.
func compare(_ got: Tensor, _ want: Tensor, rtol: Double, atol: Double) -> String? {
    if got.dtype != want.dtype { return "dtype \(got.dtype) != expected \(want.dtype)" }
    if got.shape != want.shape { return "shape \(got.shape) != expected \(want.shape)" }
    if got.dtype == .string { return got.strings == want.strings ? nil : "string values differ" }
    if let g = got.doubleValues(), let w = want.doubleValues(), got.dtype.isFloatingPoint || got.dtype.isInteger {
        for i in 0..<min(g.count, w.count) {
            let a = g[i], b = w[i]
            if a.isNaN && b.isNaN { continue }
            if a == b { continue }
            if got.dtype.isInteger || abs(a - b) > atol + rtol * abs(b) {
                return "element \(i): \(a) != expected \(b)"
            }
        }
        return nil
    }
    if got.dtype == .float16 {
        let g = got.values(as: Float16.self), w = want.values(as: Float16.self)
        for i in 0..<g.count {
            let a = Double(g[i]), b = Double(w[i])
            if a.isNaN && b.isNaN { continue }
            if a != b && abs(a - b) > atol + rtol * abs(b) { return "element \(i): \(a) != expected \(b)" }
        }
        return nil
    }
    let gb = Array(got.storage.bytes), wb = Array(want.storage.bytes)
    return gb == wb ? nil : "bytes differ"
}

/// A test value of the declared type: a TensorProto, or a Sequence/Map/OptionalProto.
func readValue(_ path: String, type: ValueType?) throws -> Value {
    switch type {
    case .tensor?, nil: return .tensor(try readTensor(path))
    default:
        let f = try FileBuffer(path: path)
        return try engineValue(ONNXReader.testValue(serialized: f.bytes, type: type), type: type)
    }
}

func engineValue(_ v: ONNXTestValue, type: ValueType?) throws -> Value {
    switch v {
    case .tensor(let t): return .tensor(t)
    case .sequence(let items, let e):
        return .sequence(try items.map { try engineValue($0, type: e) }, elementType: e)
    case .map(let keys, let values):
        let parts = values.compactMap { v -> Tensor? in if case .tensor(let t) = v { return t } else { return nil } }
        guard let first = parts.first else { return .map(keys: keys, values: try Tensor.zeros(.float32, [0])) }
        var all = first.reshaped([first.elementCount])
        if parts.count > 1 {
            let bytes = parts.flatMap { Array($0.storage.bytes) }
            all = Tensor(dtype: first.dtype, shape: [parts.count], storage: TensorStorage(copyingArray: bytes))
        }
        return .map(keys: keys, values: all)
    case .optional(let inner):
        var e: ValueType? = nil
        if case .optional(let t)? = type { e = t }
        guard let inner else { return .none(e) }
        return try engineValue(inner, type: e)
    }
}

func compareValues(_ got: Value, _ want: Value) -> String? {
    switch (got, want) {
    case (.tensor(let g), .tensor(let w)): return compare(g, w, rtol: 1e-3, atol: 1e-7)
    case (.sequence(let g, _), .sequence(let w, _)):
        if g.count != w.count { return "sequence length \(g.count) != expected \(w.count)" }
        for i in 0..<g.count { if let why = compareValues(g[i], w[i]) { return "element \(i): \(why)" } }
        return nil
    case (.none, .none): return nil
    case (.map(let gk, let gv), .map(let wk, let wv)):
        return compare(gk, wk, rtol: 0, atol: 0) ?? compare(gv, wv, rtol: 1e-3, atol: 1e-7)
    default: return "got \(got.typeDescription), expected \(want.typeDescription)"
    }
}

/// --smoke: every case folder under ROOT (ROOT itself, ROOT/<case> as in tests/fuzz_corpus, or
/// ROOT/<kind>/<case> as in the backend data) goes through InferenceSession(model:) and one run
/// with test_data_set_0/input_K.pb fed to graph input K. Outputs are not compared: one line per
/// case, "ok" or "error: <message>". Exit status 0 unless the process crashes (errors are fine);
/// this is how the fuzz corpus is replayed under AddressSanitizer.
func smokeCaseDirs(_ root: String) -> [String] {
    if exists(root + "/model.onnx") { return [root] }
    var out: [String] = []
    for sub in listDir(root) {
        let dir = root + "/" + sub
        if exists(dir + "/model.onnx") {
            out.append(dir)
            continue
        }
        for name in listDir(dir) where exists("\(dir)/\(name)/model.onnx") { out.append("\(dir)/\(name)") }
    }
    return out
}

func runSmoke(_ dir: String) throws {
    let model = try ModelFormats.load(path: dir + "/model.onnx")
    let session = try InferenceSession(model: model)
    var feeds: [String: Value] = [:]
    let needed = session.requiredInputInfo
    for (i, info) in model.graph.inputs.enumerated() {
        let p = "\(dir)/test_data_set_0/input_\(i).pb"
        guard exists(p) else { continue }
        if needed.contains(where: { $0.name == info.name }) || session.inputs.contains(where: { $0.name == info.name }) {
            feeds[info.name] = .tensor(try readTensor(p))
        }
    }
    _ = try session.run(feeds: feeds)
}

if smoke {
    var nOK = 0, nError = 0
    for dir in smokeCaseDirs(root) {
        if let f = filter, !dir.contains(f) { continue }
        print("\(dir): ", terminator: "")
        fflush(stdout) // the case name is out before a crash
        do {
            try runSmoke(dir)
            nOK += 1
            print("ok")
        } catch {
            nError += 1
            print("error: \(String(describing: error).split(separator: "\n").first.map(String.init) ?? "")")
        }
        fflush(stdout)
    }
    print("smoke: \(nOK) ok, \(nError) errors, 0 crashes")
    exit(0)
}

var passed = 0, failed = 0
var failures: [(String, String)] = []
for kind in listDir(root) {
    for name in listDir(root + "/" + kind) {
        if let f = filter, !name.contains(f) { continue }
        let dir = "\(root)/\(kind)/\(name)"
        let status: String?
        do {
            let model = try ModelFormats.load(path: dir + "/model.onnx")
            let session = try InferenceSession(model: model)
            var problem: String? = nil
            for ds in listDir(dir).filter({ $0.hasPrefix("test_data_set") }) {
                var feeds: [String: Value] = [:]
                let needed = session.requiredInputInfo
                for (i, info) in model.graph.inputs.enumerated() where needed.contains(where: { $0.name == info.name }) {
                    let p = "\(dir)/\(ds)/input_\(i).pb"
                    guard exists(p) else { continue }
                    feeds[info.name] = try readValue(p, type: info.type)
                }
                let outs = try session.run(feeds: feeds)
                for (i, v) in outs.enumerated() {
                    let type = i < model.graph.outputs.count ? model.graph.outputs[i].type : nil
                    let want = try readValue("\(dir)/\(ds)/output_\(i).pb", type: type)
                    if let why = compareValues(v, want) {
                        problem = "output \(i): \(why)"
                        break
                    }
                }
                if problem != nil { break }
            }
            status = problem
        } catch {
            status = "\(error)"
        }
        if let s = status {
            failed += 1
            failures.append(("\(kind)/\(name)", s))
            if verbose { print("FAIL \(kind)/\(name): \(s)") }
        } else {
            passed += 1
            if verbose { print("PASS \(kind)/\(name)") }
        }
    }
}
if !verbose {
    for (n, s) in failures { print("FAIL \(n): \(s.split(separator: "\n").prefix(3).joined(separator: " | "))") }
}
print("\(passed) passed, \(failed) failed")
