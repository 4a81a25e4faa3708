import CSwiftConv
import SwiftConvIR

/// The JSON document `sc_dtypes_json` returns; the schema is in docs/C_API.md.
enum DTypeListing {
    static func json() -> [UInt8] {
        var w = JSONWriter()
        w.object { w in
            w.key("dtypes")
            w.array { w in
                for dtype in DType.allCases {
                    w.object { w in
                        w.key("code")
                        w.int(Int64(dtype.rawValue))
                        w.key("name")
                        w.string(dtype.name)
                        w.key("onnx_type")
                        w.string(dtype.onnxTypeName)
                        w.key("numpy")
                        w.string(dtype == .undefined ? nil : dtype.numpyName)
                        w.key("bits")
                        w.int(Int64(dtype.bitWidth))
                        w.key("signed")
                        w.bool(dtype.isSigned)
                    }
                }
            }
        }
        return w.bytes
    }
}

@_cdecl("sc_dtypes_json")
public func scDTypesJSON(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> OpaquePointer? {
    withStatus {
        let out = try required(out, "out")
        out.pointee = retainedHandle(BufferBox(DTypeListing.json()))
    }
}
