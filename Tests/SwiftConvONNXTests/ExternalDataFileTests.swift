import SwiftConvIR
import Testing

@testable import SwiftConvONNX

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh temporary folder for one test.
func temporaryDirectory() -> String {
    var template = Array("/tmp/swiftconv-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil, "mkdtemp failed")
    return String(cString: template)
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot create \(path)")
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// Removes `names` (files, FIFOs or empty folders) from `dir`, then `dir` itself.
func removeFiles(_ names: [String], in dir: String) {
    for name in names { remove(dir + "/" + name) }
    rmdir(dir)
}

/// The validation message thrown by `body`, or a note of what happened instead.
func validationMessage(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "no error"
    } catch let e as SwiftConvError where e.kind == .validation {
        return e.description
    } catch {
        return "wrong error: \(error)"
    }
}

@Suite struct ExternalDataFileTests {
    /// A FIFO would block `open` until a writer appears; it must be refused at once.
    @Test func fifoLocationIsRefusedWithoutBlocking() {
        let dir = temporaryDirectory()
        defer { removeFiles(["weights.bin"], in: dir) }
        #expect(mkfifo(dir + "/weights.bin", 0o600) == 0)
        let resolver = ExternalDataResolver(baseDirectory: dir)
        let message = validationMessage {
            _ = try resolver.storage(
                for: ExternalDataReference(location: "weights.bin"), byteCount: 16,
                label: "initializer 'w'")
        }
        #expect(message.hasPrefix("initializer 'w': external data 'weights.bin':"))
        #expect(message.contains("is a FIFO, not a regular file"))
    }

    @Test func directoryLocationIsRefused() {
        let dir = temporaryDirectory()
        defer { removeFiles(["sub"], in: dir) }
        #expect(mkdir(dir + "/sub", 0o700) == 0)
        let resolver = ExternalDataResolver(baseDirectory: dir)
        let message = validationMessage {
            _ = try resolver.storage(for: ExternalDataReference(location: "sub"), byteCount: 4, label: "initializer 'w'")
        }
        #expect(message.contains("is a directory, not a regular file"))
    }

    @Test func rangePastTheEndIsRefusedBeforeReading() {
        let dir = temporaryDirectory()
        defer { removeFiles(["w.bin"], in: dir) }
        writeFile(dir + "/w.bin", [UInt8](repeating: 1, count: 8))
        let resolver = ExternalDataResolver(baseDirectory: dir)
        let huge = validationMessage {
            _ = try resolver.storage(
                for: ExternalDataReference(location: "w.bin"), byteCount: 1 << 40,
                label: "initializer 'w'")
        }
        #expect(huge.contains("is 8 bytes"))
        let shifted = validationMessage {
            _ = try resolver.storage(
                for: ExternalDataReference(location: "w.bin", offset: 4, length: 8), byteCount: 8,
                label: "initializer 'w'")
        }
        #expect(shifted.contains("lie past its end"))
        let storage = try? resolver.storage(
            for: ExternalDataReference(location: "w.bin", offset: 4), byteCount: 4,
            label: "initializer 'w'")
        #expect(storage?.bytes.count == 4)
    }

    @Test func modelPathThatIsAFifoIsRefusedWithoutBlocking() {
        let dir = temporaryDirectory()
        defer { removeFiles(["model.onnx"], in: dir) }
        #expect(mkfifo(dir + "/model.onnx", 0o600) == 0)
        do {
            _ = try ONNXReader.load(path: dir + "/model.onnx")
            Issue.record("expected an IO error")
        } catch let e as SwiftConvError where e.kind == .io {
            #expect(e.message.contains("is a FIFO, not a regular file"))
        } catch {
            Issue.record("wrong error: \(error)")
        }
    }
}
