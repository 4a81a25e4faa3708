import SwiftConvIR

#if canImport(Glibc)
    import Glibc
#endif

/// Reads ONNX external data (`location`/`offset`/`length`) into tensor storage, each
/// tensor's byte range once.
///
/// Locations are relative to the model's folder; absolute paths, paths that climb out
/// of it (`..`) and symbolic links that lead outside it are refused.
final class ExternalDataResolver {
    let baseDirectory: String?

    init(baseDirectory: String?) {
        self.baseDirectory = baseDirectory
    }

    func storage(for ref: ExternalDataReference, byteCount: Int, label: String) throws -> TensorStorage {
        guard let base = baseDirectory else {
            throw SwiftConvError.validation(
                "\(label) keeps its data in external file '\(ref.location)'; load the model from its file path to read it")
        }
        let path = try resolve(ref.location, in: base, label: label)
        if let length = ref.length, length != byteCount {
            throw SwiftConvError.validation("\(label) declares \(length) bytes of external data; its shape and type need \(byteCount)")
        }
        let (end, overflow) = ref.offset.addingReportingOverflow(byteCount)
        guard !overflow else { throw SwiftConvError.validation("\(label): external data offset \(ref.offset) is too large") }
        do {
            let part = try FileBuffer(path: path, range: ref.offset..<end)
            return part.storage(0..<byteCount)
        } catch let e as SwiftConvError {
            throw SwiftConvError.validation("\(label): external data '\(ref.location)': \(e.message)")
        }
    }

    private func resolve(_ location: String, in base: String, label: String) throws -> String {
        guard !location.hasPrefix("/"), !location.contains("\0") else {
            throw SwiftConvError.validation("\(label): external data location '\(location)' must be relative to the model's folder")
        }
        var depth = 0
        for part in location.split(separator: "/", omittingEmptySubsequences: true) {
            if part == ".." { depth -= 1 } else if part != "." { depth += 1 }
            guard depth >= 0 else {
                throw SwiftConvError.validation("\(label): external data location '\(location)' leads outside the model's folder")
            }
        }
        guard let realBase = realPath(base) else {
            throw SwiftConvError.io("cannot resolve the model's folder '\(base)'")
        }
        guard let real = realPath(base + "/" + location) else {
            throw SwiftConvError.validation("\(label): external data file '\(location)' does not exist")
        }
        let prefix = realBase.hasSuffix("/") ? realBase : realBase + "/"
        guard real.hasPrefix(prefix) else {
            throw SwiftConvError.validation("\(label): external data location '\(location)' leads outside the model's folder")
        }
        return real
    }

    private func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
