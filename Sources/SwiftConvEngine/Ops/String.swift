import SwiftConvIR

/// StringNormalizer, StringConcat, StringSplit, RegexFullMatch, TfIdfVectorizer.
enum StringKernels {
    static func register(into r: inout KernelRegistry) {
    }
}
