import SwiftConvIR

#if canImport(Glibc)
    import Glibc
#endif

/// The .tflite fixtures: every file under tests/fixtures/tflite (recursively) of this checkout,
/// plus folders listed in SWIFTCONV_TFLITE_FIXTURES (colon-separated), for a worktree that
/// reads fixtures still being made elsewhere.
enum FixtureFiles {
    static var repositoryRoot: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3) // Tests/SwiftConvTFLiteTests/FixtureFiles.swift
        return parts.joined(separator: "/")
    }

    static var folders: [String] {
        var out = [repositoryRoot + "/tests/fixtures/tflite"]
        if let extra = getenv("SWIFTCONV_TFLITE_FIXTURES") {
            out += String(cString: extra).split(separator: ":").map(String.init)
        }
        return out
    }

    /// Paths of every .tflite file in `folders`, sorted.
    static func all() -> [String] {
        var found: [String] = []
        for folder in folders { walk(folder, into: &found) }
        return found.sorted()
    }

    private static func walk(_ dir: String, into found: inout [String]) {
        guard let d = opendir(dir) else { return }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let path = dir + "/" + name
            if name.hasSuffix(".tflite") {
                found.append(path)
            } else if entry.pointee.d_type == UInt8(DT_DIR) {
                walk(path, into: &found)
            }
        }
    }

    /// The bytes of `path`.
    static func read(_ path: String) throws -> [UInt8] {
        let file = try FileBuffer(path: path)
        return Array(file.bytes)
    }
}
