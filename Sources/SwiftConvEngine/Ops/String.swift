import SwiftConvIR

/// StringNormalizer, StringConcat, StringSplit, RegexFullMatch, TfIdfVectorizer.
enum StringKernels {
    static func register(into r: inout KernelRegistry) {
        r.register("StringNormalizer", since: [10]) { ctx in
            let action = ctx.string("case_change_action", default: "NONE")
            guard ["NONE", "LOWER", "UPPER"].contains(action) else { throw ctx.invalid("unknown case_change_action '\(action)'") }
            return StringNormalizer(
                caseChange: action, caseSensitive: ctx.int("is_case_sensitive", default: 0) != 0,
                stopwords: ctx.strings("stopwords") ?? [])
        }
        r.register("StringConcat", since: [20]) { _ in StringConcat() }
        r.register("StringSplit", since: [20]) { ctx in
            let d =
                ctx.node.attribute("delimiter").flatMap { a -> [UInt8]? in
                    if case .string(let b)? = a.value { return b } else { return nil }
                } ?? []
            let m = ctx.attribute("maxsplit")?.int
            return StringSplit(delimiter: d, maxSplit: m.map { Int(max(0, $0)) })
        }
        r.register("RegexFullMatch", since: [20]) { ctx in
            let pattern = ctx.string("pattern", default: "")
            do {
                return RegexFullMatch(regex: try RegexPattern(pattern))
            } catch let e as RegexSyntaxError {
                throw SwiftConvError.unsupportedOp("pattern '\(pattern)': \(e.why)")
            }
        }
        r.register("TfIdfVectorizer", since: [9]) { ctx in try TfIdfVectorizer(ctx) }
    }
}

extension Array where Element == Value? {
    func stringTensor(_ i: Int) throws -> Tensor {
        let t = try tensor(i)
        guard t.dtype == .string else { throw kernelError("input \(i) must be a string tensor, got \(t.dtype)") }
        return t
    }
}

/// Drops stop words (whole elements), then changes case; an all-removed input gives [""].
struct StringNormalizer: Kernel {
    let caseChange: String
    let caseSensitive: Bool
    let stopwords: Set<String>

    init(caseChange: String, caseSensitive: Bool, stopwords: [String]) {
        self.caseChange = caseChange
        self.caseSensitive = caseSensitive
        self.stopwords = Set(caseSensitive ? stopwords : stopwords.map { $0.lowercased() })
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.stringTensor(0)
        guard x.rank == 1 || (x.rank == 2 && x.shape[0] == 1) else {
            throw kernelError("the input must be [C] or [1, C], got \(x.shape)")
        }
        var out: [[UInt8]] = []
        for s in x.strings {
            let str = String(decoding: s, as: UTF8.self)
            if !stopwords.isEmpty && stopwords.contains(caseSensitive ? str : str.lowercased()) { continue }
            switch caseChange {
            case "LOWER": out.append(Array(str.lowercased().utf8))
            case "UPPER": out.append(Array(str.uppercased().utf8))
            default: out.append(s)
            }
        }
        if out.isEmpty { out = [[]] }
        let shape = x.rank == 1 ? [out.count] : [1, out.count]
        return [.tensor(Tensor(shape: shape, strings: out))]
    }
}

struct StringConcat: Kernel {
    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let a = try inputs.stringTensor(0), b = try inputs.stringTensor(1)
        let shape = try broadcastShapes(a.shape, b.shape)
        let n = elementCount(shape) ?? 0
        var out: [[UInt8]] = []
        out.reserveCapacity(n)
        if a.shape == b.shape {
            for i in 0..<n { out.append(a.strings[i] + b.strings[i]) }
        } else {
            let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
            forEachBroadcastRun(outShape: shape, inputStrides: [sa, sb]) { _, ins, count, inner in
                var ia = ins[0], ib = ins[1]
                for _ in 0..<count {
                    out.append(a.strings[ia] + b.strings[ib])
                    ia += inner[0]
                    ib += inner[1]
                }
            }
        }
        return [.tensor(Tensor(shape: shape, strings: out))]
    }
}

/// Python `str.split` semantics: a delimiter splits exactly; none splits on whitespace runs.
struct StringSplit: Kernel {
    let delimiter: [UInt8]
    let maxSplit: Int?

    static func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) || (c >= 28 && c <= 31) }

    func split(_ s: [UInt8]) -> [[UInt8]] {
        var parts: [[UInt8]] = []
        let limit = maxSplit ?? Int.max
        if delimiter.isEmpty {
            var i = 0
            let n = s.count
            while i < n {
                while i < n && StringSplit.isSpace(s[i]) { i += 1 }
                if i == n { break }
                if parts.count == limit {
                    var end = n
                    while end > i && StringSplit.isSpace(s[end - 1]) { end -= 1 }
                    parts.append(Array(s[i..<end]))
                    break
                }
                let start = i
                while i < n && !StringSplit.isSpace(s[i]) { i += 1 }
                parts.append(Array(s[start..<i]))
            }
            return parts
        }
        var start = 0, i = 0
        let d = delimiter.count
        while i + d <= s.count && parts.count < limit {
            if s[i..<(i + d)].elementsEqual(delimiter) {
                parts.append(Array(s[start..<i]))
                i += d
                start = i
            } else {
                i += 1
            }
        }
        parts.append(Array(s[start...]))
        return parts
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.stringTensor(0)
        let lists = x.strings.map(split)
        let width = lists.map(\.count).max() ?? 0
        var out: [[UInt8]] = []
        out.reserveCapacity(lists.count * width)
        for l in lists {
            out.append(contentsOf: l)
            for _ in l.count..<width { out.append([]) }
        }
        let counts = Tensor.from(lists.map { Int64($0.count) }, shape: x.shape)
        return [.tensor(Tensor(shape: x.shape + [width], strings: out)), .tensor(counts)]
    }
}

struct RegexFullMatch: Kernel {
    let regex: RegexPattern

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.stringTensor(0)
        let out = try Tensor.allocate(.bool, x.shape)
        try out.withMutableElements(as: Bool.self) { p in
            for (i, s) in x.strings.enumerated() { p[i] = try regex.fullMatch(s) }
        }
        return [.tensor(out)]
    }
}

// MARK: - A small backtracking regular-expression engine

struct RegexSyntaxError: Error { let why: String }

/// An RE2-style subset: literals, `.`, classes (`[a-z\w.-]`, `[^...]`), `\d \w \s \D \W \S \b \B`,
/// groups `(...)`, `(?:...)`, alternation, `* + ? {n} {n,} {n,m}` (and lazy forms), `^ $`.
/// Matches Unicode scalars; `\w \d \s \b` are ASCII, as in RE2.
struct RegexPattern: Sendable {
    struct CharClass: Sendable {
        enum Item: Sendable { case range(UInt32, UInt32), word(Bool), digit(Bool), space(Bool) }
        var items: [Item]
        var negated: Bool

        func matches(_ c: UInt32) -> Bool {
            var hit = false
            for item in items {
                switch item {
                case .range(let lo, let hi): hit = c >= lo && c <= hi
                case .word(let neg): hit = RegexPattern.isWord(c) != neg
                case .digit(let neg): hit = (c >= 48 && c <= 57) != neg
                case .space(let neg): hit = RegexPattern.isSpace(c) != neg
                }
                if hit { break }
            }
            return hit != negated
        }
    }

    indirect enum Node: Sendable {
        case chars(CharClass)
        case any
        case seq([Node])
        case alt([Node])
        case rep(Node, min: Int, max: Int?, greedy: Bool)
        case lineStart, lineEnd
        case wordBoundary(Bool)
    }

    static func isWord(_ c: UInt32) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
    static func isSpace(_ c: UInt32) -> Bool { c == 32 || c == 9 || c == 10 || c == 12 || c == 13 }

    let root: Node

    init(_ pattern: String) throws {
        var p = Parser(chars: pattern.unicodeScalars.map(\.value))
        root = try p.alternation()
        if p.i < p.chars.count { throw RegexSyntaxError(why: "unbalanced ')' at \(p.i)") }
    }

    struct Parser {
        let chars: [UInt32]
        var i = 0

        func peek(_ c: Character) -> Bool { i < chars.count && chars[i] == c.unicodeScalars.first!.value }

        mutating func alternation() throws -> Node {
            var branches = [try sequence()]
            while peek("|") {
                i += 1
                branches.append(try sequence())
            }
            return branches.count == 1 ? branches[0] : .alt(branches)
        }

        mutating func sequence() throws -> Node {
            var items: [Node] = []
            while i < chars.count && !peek("|") && !peek(")") {
                var atom = try self.atom()
                while let (lo, hi) = try quantifier() {
                    var greedy = true
                    if peek("?") {
                        greedy = false
                        i += 1
                    }
                    atom = .rep(atom, min: lo, max: hi, greedy: greedy)
                }
                items.append(atom)
            }
            return items.count == 1 ? items[0] : .seq(items)
        }

        mutating func number() -> Int? {
            var v: Int? = nil
            while i < chars.count, chars[i] >= 48, chars[i] <= 57 {
                v = (v ?? 0) * 10 + Int(chars[i] - 48)
                if v! > 1000 { return v }
                i += 1
            }
            return v
        }

        mutating func quantifier() throws -> (Int, Int?)? {
            guard i < chars.count else { return nil }
            switch chars[i] {
            case 42:
                i += 1
                return (0, nil) // *
            case 43:
                i += 1
                return (1, nil) // +
            case 63:
                i += 1
                return (0, 1) // ?
            case 123: // {
                let save = i
                i += 1
                guard let lo = number() else {
                    i = save
                    return nil
                }
                var hi: Int? = lo
                if peek(",") {
                    i += 1
                    hi = number()
                }
                guard peek("}") else {
                    i = save
                    return nil
                }
                i += 1
                if lo > 1000 || (hi ?? 0) > 1000 || (hi.map { $0 < lo } ?? false) {
                    throw RegexSyntaxError(why: "bad repetition count")
                }
                return (lo, hi)
            default: return nil
            }
        }

        mutating func escape(inClass: Bool) throws -> CharClass.Item {
            guard i < chars.count else { throw RegexSyntaxError(why: "trailing backslash") }
            let c = chars[i]
            i += 1
            switch Character(Unicode.Scalar(c)!) {
            case "d": return .digit(false)
            case "D": return .digit(true)
            case "w": return .word(false)
            case "W": return .word(true)
            case "s": return .space(false)
            case "S": return .space(true)
            case "n": return .range(10, 10)
            case "t": return .range(9, 9)
            case "r": return .range(13, 13)
            case "f": return .range(12, 12)
            case "v": return .range(11, 11)
            default:
                // Only punctuation may be escaped literally; letters and digits are other syntax.
                if RegexPattern.isWord(c) { throw RegexSyntaxError(why: "unsupported escape \\\(Character(Unicode.Scalar(c)!))") }
                return .range(c, c)
            }
        }

        mutating func atom() throws -> Node {
            let c = chars[i]
            i += 1
            switch c {
            case 40: // (
                if peek("?") {
                    guard i + 1 < chars.count, chars[i + 1] == 58 else { throw RegexSyntaxError(why: "unsupported group syntax") }
                    i += 2
                }
                let inner = try alternation()
                guard peek(")") else { throw RegexSyntaxError(why: "missing ')'") }
                i += 1
                return inner
            case 91: return .chars(try charClass())
            case 46: return .any
            case 94: return .lineStart
            case 36: return .lineEnd
            case 42, 43, 63: throw RegexSyntaxError(why: "nothing to repeat")
            case 92:
                if peek("b") {
                    i += 1
                    return .wordBoundary(true)
                }
                if peek("B") {
                    i += 1
                    return .wordBoundary(false)
                }
                if i < chars.count, chars[i] >= 49, chars[i] <= 57 { throw RegexSyntaxError(why: "backreferences are not supported") }
                return .chars(CharClass(items: [try escape(inClass: false)], negated: false))
            default:
                return .chars(CharClass(items: [.range(c, c)], negated: false))
            }
        }

        mutating func charClass() throws -> CharClass {
            var cls = CharClass(items: [], negated: false)
            if peek("^") {
                cls.negated = true
                i += 1
            }
            var first = true
            while i < chars.count && (first || !peek("]")) {
                first = false
                var item: CharClass.Item
                if peek("\\") {
                    i += 1
                    item = try escape(inClass: true)
                } else {
                    if peek("["), i + 1 < chars.count, chars[i + 1] == 58 { throw RegexSyntaxError(why: "POSIX classes are not supported") }
                    item = .range(chars[i], chars[i])
                    i += 1
                }
                // A range a-z (a '-' before ']' is literal).
                if case .range(let lo, let single) = item, lo == single, peek("-"), i + 1 < chars.count, chars[i + 1] != 93 {
                    i += 1
                    var hi = chars[i]
                    i += 1
                    if hi == 92 {
                        guard case .range(let h, let h2) = try escape(inClass: true), h == h2 else {
                            throw RegexSyntaxError(why: "bad class range")
                        }
                        hi = h
                    }
                    guard hi >= lo else { throw RegexSyntaxError(why: "bad class range") }
                    item = .range(lo, hi)
                }
                cls.items.append(item)
            }
            guard peek("]") else { throw RegexSyntaxError(why: "missing ']'") }
            i += 1
            return cls
        }
    }

    /// Whether the whole of `bytes` (UTF-8) matches.
    func fullMatch(_ bytes: [UInt8]) throws -> Bool {
        let s = String(decoding: bytes, as: UTF8.self).unicodeScalars.map(\.value)
        let m = Matcher(s: s)
        let hit = m.match(root, 0) { $0 == s.count }
        if m.budget < 0 { throw kernelError("the regular expression needs too many steps on this input") }
        return hit
    }

    /// Continuation-passing backtracking, with a step budget against exponential patterns.
    final class Matcher {
        let s: [UInt32]
        var budget = 5_000_000

        init(s: [UInt32]) { self.s = s }

        func wordAt(_ i: Int) -> Bool { i >= 0 && i < s.count && RegexPattern.isWord(s[i]) }

        func match(_ n: Node, _ i: Int, _ k: (Int) -> Bool) -> Bool {
            budget -= 1
            if budget < 0 { return false }
            switch n {
            case .chars(let c): return i < s.count && c.matches(s[i]) && k(i + 1)
            case .any: return i < s.count && s[i] != 10 && k(i + 1)
            case .lineStart: return i == 0 && k(i)
            case .lineEnd: return i == s.count && k(i)
            case .wordBoundary(let want): return (wordAt(i - 1) != wordAt(i)) == want && k(i)
            case .seq(let items): return matchSeq(items, 0, i, k)
            case .alt(let branches):
                for b in branches where match(b, i, k) { return true }
                return false
            case .rep(let node, let lo, let hi, let greedy): return matchRep(node, lo, hi, greedy, 0, i, k)
            }
        }

        func matchSeq(_ items: [Node], _ j: Int, _ i: Int, _ k: (Int) -> Bool) -> Bool {
            if j == items.count { return k(i) }
            return match(items[j], i) { p in self.matchSeq(items, j + 1, p, k) }
        }

        func matchRep(
            _ node: Node, _ lo: Int, _ hi: Int?, _ greedy: Bool, _ count: Int, _ i: Int,
            _ k: (Int) -> Bool
        ) -> Bool {
            let canMore = hi.map { count < $0 } ?? true
            if !greedy && count >= lo && k(i) { return true }
            if canMore && match(node, i, { p in (p != i || count < lo) && self.matchRep(node, lo, hi, greedy, count + 1, p, k) }) {
                return true
            }
            return greedy && count >= lo && k(i)
        }
    }
}

// MARK: - TfIdfVectorizer

/// Counts pool n-grams (with skips) per row and weights them (TF, IDF, TFIDF).
struct TfIdfVectorizer: Kernel {
    enum Mode { case tf, idf, tfidf }
    let mode: Mode
    let minN: Int, maxN: Int, maxSkip: Int
    let outputSize: Int
    let weights: [Float]
    /// n-gram (as pool keys) → output column.
    let stringGrams: [[[UInt8]]: Int]
    let intGrams: [[Int64]: Int]
    let usesStrings: Bool

    init(_ ctx: KernelBuildContext) throws {
        switch ctx.string("mode", default: "TF") {
        case "TF": mode = .tf
        case "IDF": mode = .idf
        case "TFIDF": mode = .tfidf
        case let m: throw ctx.invalid("unknown mode '\(m)'")
        }
        minN = Int(try ctx.int("min_gram_length"))
        maxN = Int(try ctx.int("max_gram_length"))
        maxSkip = Int(try ctx.int("max_skip_count"))
        guard minN >= 1, maxN >= minN, maxSkip >= 0 else { throw ctx.invalid("bad gram lengths or skip count") }
        let counts = (ctx.ints("ngram_counts") ?? []).map(Int.init)
        let indexes = (ctx.ints("ngram_indexes") ?? []).map(Int.init)
        weights = ctx.floats("weights") ?? []
        let ints = ctx.ints("pool_int64s") ?? []
        let strs: [[UInt8]] = {
            if case .strings(let s)? = ctx.attribute("pool_strings")?.value { return s } else { return [] }
        }()
        usesStrings = ints.isEmpty && !strs.isEmpty
        let total = usesStrings ? strs.count : ints.count
        guard indexes.allSatisfy({ $0 >= 0 && $0 < Int.max }) else { throw ctx.invalid("ngram_indexes must be non-negative") }
        outputSize = (indexes.max() ?? -1) + 1
        var sg: [[[UInt8]]: Int] = [:], ig: [[Int64]: Int] = [:]
        var id = 0
        for (g, start) in counts.enumerated() {
            let n = g + 1
            let end = g + 1 < counts.count ? counts[g + 1] : total
            guard start >= 0, start <= end, end <= total else { throw ctx.invalid("ngram_counts is inconsistent with the pool") }
            var p = start
            while p + n <= end {
                guard id < indexes.count else { throw ctx.invalid("ngram_indexes is too short") }
                if n >= minN && n <= maxN {
                    if usesStrings { sg[Array(strs[p..<(p + n)])] = indexes[id] } else { ig[Array(ints[p..<(p + n)])] = indexes[id] }
                }
                id += 1
                p += n
            }
        }
        stringGrams = sg
        intGrams = ig
    }

    func count<K: Hashable>(_ row: ArraySlice<K>, _ grams: [[K]: Int], into freq: inout [Int], offset: Int) {
        let c = row.count
        let base = row.startIndex
        var gram: [K] = []
        // Grams longer than the row, or skips wider than it, match nothing: the loops stop at
        // the row length whatever the attributes say.
        guard minN <= c else { return }
        for n in minN...min(maxN, c) {
            let skips = n == 1 ? 0 : min(maxSkip, (c - 1) / (n - 1))
            for skip in 0...skips {
                let d = skip + 1
                var start = 0
                while start + (n - 1) * d < c {
                    gram.removeAll(keepingCapacity: true)
                    for j in 0..<n { gram.append(row[base + start + j * d]) }
                    if let col = grams[gram] { freq[offset + col] += 1 }
                    start += 1
                }
            }
        }
    }

    func run(_ inputs: [Value?], _ context: ExecutionContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.rank <= 2 else { throw kernelError("the input must be [C] or [B, C]") }
        let rows = x.rank == 2 ? x.shape[0] : 1
        let c = x.rank == 0 ? 1 : x.shape[x.rank - 1]
        let shape = x.rank == 2 ? [rows, outputSize] : [outputSize]
        let out = try Tensor.allocate(.float32, shape)
        try checkTemporary(out.elementCount, of: Int.self, "the n-gram counts")
        var freq = [Int](repeating: 0, count: out.elementCount)
        if usesStrings {
            guard x.dtype == .string else { throw kernelError("the pool is strings but the input is \(x.dtype)") }
            for r in 0..<rows { count(x.strings[(r * c)..<(r * c + c)], stringGrams, into: &freq, offset: r * outputSize) }
        } else {
            guard let v = x.int64Values(), x.dtype == .int32 || x.dtype == .int64 else {
                throw kernelError("the pool is integers but the input is \(x.dtype)")
            }
            for r in 0..<rows { count(v[(r * c)..<(r * c + c)], intGrams, into: &freq, offset: r * outputSize) }
        }
        out.withMutableElements(as: Float.self) { out in
            for (p, f) in freq.enumerated() {
                let w: Float = weights.isEmpty ? 1 : (p % outputSize < weights.count ? weights[p % outputSize] : 0)
                switch mode {
                case .tf: out[p] = Float(f)
                case .idf: out[p] = f > 0 ? w : 0
                case .tfidf: out[p] = w * Float(f)
                }
            }
        }
        return [.tensor(out)]
    }
}
