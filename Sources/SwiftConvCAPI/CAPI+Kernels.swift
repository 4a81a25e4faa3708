import CSwiftConv
import SwiftConvEngine
import SwiftConvIR
import SwiftConvKernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The JSON document `sc_registered_kernels_json` returns; the schema is in docs/C_API.md.
enum KernelListing {
    static func json(_ registry: KernelRegistry, schemas: OpRegistry) -> [UInt8] {
        let ops = registry.allOps.sorted { ($0.domain, $0.op) < ($1.domain, $1.op) }
        /// One `{"domain", "op_type", "since_version"}` object.
        func entry(_ w: inout JSONWriter, _ domain: String, _ op: String, _ since: Int64) {
            w.object { w in
                w.key("domain")
                w.string(domain)
                w.key("op_type")
                w.string(op)
                w.key("since_version")
                w.int(since)
            }
        }
        var w = JSONWriter()
        w.object { w in
            w.key("kernels")
            w.array { w in
                for (domain, op) in ops {
                    for since in Set(registry.versions(domain: domain, op: op)).sorted() {
                        entry(&w, domain, op, since)
                    }
                }
            }
            // The schema table every kernel version is checked against (Python tests compare it with onnx).
            w.key("schemas")
            w.array { w in
                for (domain, op) in schemas.opNames {
                    for since in schemas.versions(domain: domain, opType: op) {
                        entry(&w, domain, op, since)
                    }
                }
            }
        }
        return w.bytes
    }
}

@_cdecl("sc_registered_kernels_json")
public func scRegisteredKernelsJSON(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let out = try required(out, "out")
        out.pointee = retainedHandle(BufferBox(KernelListing.json(Kernels.standard, schemas: OpRegistry.standard)))
    }
}

nonisolated(unsafe) private let kernelISACString: UnsafeMutablePointer<CChar> = strdup(KernelTable.best.name)!

@_cdecl("sc_kernel_isa")
public func scKernelISA() -> UnsafePointer<CChar>? {
    UnsafePointer(kernelISACString)
}
