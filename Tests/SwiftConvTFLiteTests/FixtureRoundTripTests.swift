import SwiftConvIR
import SwiftConvTFLite
import Testing

/// Every fixture model imports, and import(export(import(f))) equals import(f).
@Suite struct FixtureRoundTripTests {
    /// The fixture folder must not be empty: a missing fixture set is a failure, not a pass.
    @Test func fixturesExist() {
        #expect(!FixtureFiles.all().isEmpty, "no .tflite fixtures under \(FixtureFiles.folders)")
    }

    @Test func everyFixtureImportsAndRoundTrips() throws {
        var failures: [String] = []
        for path in FixtureFiles.all() {
            do {
                let bytes = try FixtureFiles.read(path)
                let model = try bytes.withUnsafeBytes { try TFLiteImporter.load(bytes: $0, owner: Box(bytes)) }
                let written = try TFLiteExporter.serialize(model)
                try FixtureFiles.keepWritten(written, for: path)
                let again = try written.withUnsafeBytes { try TFLiteImporter.load(bytes: $0, owner: Box(written)) }
                let a = ModelDump.text(model)
                let b = ModelDump.text(again)
                if a != b {
                    let diff =
                        zip(a, b).first { $0 != $1 }.map { "\n  read:    \($0.0)\n  written: \($0.1)" }
                        ?? " (\(a.count) vs \(b.count) lines)"
                    failures.append("\(path): round trip differs\(diff)")
                }
            } catch {
                failures.append("\(path): \(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) fixture(s) failed:\n\(failures.joined(separator: "\n"))")
    }
}

/// Keeps a byte array alive as the owner of the tensors that borrow it.
final class Box {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}
