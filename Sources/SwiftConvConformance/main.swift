// swiftconv-conformance: runs ONNX backend test cases through the engine, in Swift only.
//
// A developer tool for working on kernels without the Python layer:
//   python3 scripts/export-backend-cases.py            # once: writes tests/.cache/backend-data
//   swift run -c release swiftconv-conformance [ROOT] [--filter SUBSTRING] [--verbose]
// The acceptance suite is tests/test_backend_engine.py (pytest, against the same cases).
#if canImport(Glibc)
import Glibc
#endif
import SwiftConvEngine
import SwiftConvIR
import SwiftConvONNX

var root = "tests/.cache/backend-data/1.23.2"
var filter: String? = nil
var verbose = false
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--filter": filter = args.isEmpty ? nil : args.removeFirst()
    case "--verbose", "-v": verbose = true
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
    let f = try MappedFile(path: path)
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

var passed = 0, failed = 0
var failures: [(String, String)] = []
for kind in listDir(root) {
    for name in listDir(root + "/" + kind) {
        if let f = filter, !name.contains(f) { continue }
        let dir = "\(root)/\(kind)/\(name)"
        let status: String?
        do {
            let model = try ONNXReader.load(path: dir + "/model.onnx")
            let session = try InferenceSession(model: model)
            var problem: String? = nil
            for ds in listDir(dir).filter({ $0.hasPrefix("test_data_set") }) {
                var feeds: [String: Value] = [:]
                let needed = session.requiredInputInfo
                for (i, info) in model.graph.inputs.enumerated() where needed.contains(where: { $0.name == info.name }) {
                    let p = "\(dir)/\(ds)/input_\(i).pb"
                    guard exists(p) else { continue }
                    feeds[info.name] = .tensor(try readTensor(p))
                }
                let outs = try session.run(feeds: feeds)
                for (i, v) in outs.enumerated() {
                    let want = try readTensor("\(dir)/\(ds)/output_\(i).pb")
                    guard case .tensor(let got) = v else { problem = "output \(i) is not a tensor"; break }
                    if let why = compare(got, want, rtol: 1e-3, atol: 1e-7) { problem = "output \(i): \(why)"; break }
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
