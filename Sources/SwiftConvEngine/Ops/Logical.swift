import SwiftConvIR

/// Comparisons and boolean logic: Equal, Less, And, Not, IsNaN, IsInf.
enum LogicalKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
