import SwiftConvEngine
import SwiftConvIR
import XCTest

/// The schema table (`OpRegistry.standard`) is the one source of since-versions: every op the
/// engine has a kernel for must have a kernel for exactly the schema's since-versions, and the
/// schema and kernels of an op live in same-named family files.
final class KernelSchemaAgreementTests: XCTestCase {
    private var kernelOps: [(domain: String, op: String)] {
        Kernels.standard.allOps.sorted { ($0.domain, $0.op) < ($1.domain, $1.op) }
    }

    func testKernelSinceVersionsEqualSchemaSinceVersions() {
        var mismatches: [String] = []
        for (domain, op) in kernelOps {
            let kernel = Kernels.standard.versions(domain: domain, op: op)
            let schema = OpRegistry.standard.versions(domain: domain, opType: op)
            if kernel != schema {
                mismatches.append("\(domain.isEmpty ? "" : domain + ":")\(op): kernel \(kernel), schema \(schema)")
            }
        }
        XCTAssertEqual(mismatches, [], "kernel and schema since-versions disagree")
    }

    func testKernelRegistersEachSinceVersionOnce() {
        for (domain, op) in kernelOps {
            let versions = Kernels.standard.versions(domain: domain, op: op)
            XCTAssertEqual(versions, Array(Set(versions)).sorted(), "\(domain):\(op) registered twice")
        }
    }

    func testSchemaAndKernelOfAnOpAreInSameNamedFamilies() {
        var mismatches: [String] = []
        for (domain, op) in kernelOps {
            let kernelFamily = Kernels.standard.family(domain: domain, op: op)
            let schemaFamily = OpRegistry.standard.family(domain: domain, opType: op)
            if kernelFamily == nil || kernelFamily != schemaFamily {
                mismatches.append(
                    "\(domain.isEmpty ? "" : domain + ":")\(op): kernels in \(kernelFamily ?? "?"), schema in \(schemaFamily ?? "?")")
            }
        }
        XCTAssertEqual(mismatches, [], "schema and kernel family files disagree")
    }

    /// Every kernel family (`Ops/<X>.swift`) has a schema family (`Families/<X>Ops.swift`)
    /// and the reverse.
    func testFamiliesLineUp() {
        let kernelFamilies = Set(Kernels.standard.families)
        let schemaFamilies = Set(OpRegistry.standard.families)
        XCTAssertEqual(kernelFamilies.subtracting(schemaFamilies), [], "kernel families without a schema family")
        XCTAssertEqual(schemaFamilies.subtracting(kernelFamilies), [], "schema families without a kernel family")
    }
}
