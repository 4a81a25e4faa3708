/// String processing: StringConcat, StringSplit, StringNormalizer, RegexFullMatch, TfIdfVectorizer.
enum StringOps {
    static func register(into r: inout OpRegistry) {
        r.add(
            "StringConcat", since: [20], inputs: "11", outputs: "1",
            rule: { ctx in
                ctx.setOutput(0, .string, ShapeMath.broadcast([ctx.shape(0), ctx.shape(1)]))
            })
        r.add(
            "StringSplit", since: [20], inputs: "1", outputs: "11", attributes: "delimiter:s maxsplit:i",
            rule: { ctx in
                ctx.setOutput(0, .string, ctx.shape(0).map { $0 + [.unknown] })
                ctx.setOutput(1, .int64, ctx.shape(0))
            })
        r.add(
            "StringNormalizer", since: [10], inputs: "1", outputs: "1",
            attributes: "case_change_action:s is_case_sensitive:i locale:s stopwords:ss",
            rule: { ctx in
                ctx.setOutput(0, .string, ctx.shape(0).map { s in s.count == 2 ? [s[0], .unknown] : [.unknown] })
            })
        r.add(
            "RegexFullMatch", since: [20], inputs: "1", outputs: "1", attributes: "pattern:s",
            rule: { $0.setOutput(0, .bool, $0.shape(0)) })
        r.add(
            "TfIdfVectorizer", since: [9], inputs: "1", outputs: "1",
            attributes:
                "max_gram_length:i! max_skip_count:i! min_gram_length:i! mode:s! ngram_counts:is! ngram_indexes:is! pool_int64s:is pool_strings:ss weights:fs",
            rule: { ctx in
                let size = ctx.ints("ngram_indexes").map { ShapeMath.add(.known($0.max() ?? -1), .known(1)) } ?? .unknown
                guard let x = ctx.shape(0) else {
                    ctx.setOutput(0, .float32, nil)
                    return
                }
                ctx.setOutput(0, .float32, x.count == 2 ? [x[0], size] : [size])
            })
    }
}
