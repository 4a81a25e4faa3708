/// Signal processing: DFT, STFT, MelWeightMatrix, the Hann, Hamming and Blackman windows.
enum SignalOps {
    static func register(into r: inout OpRegistry) {
        r.add("DFT", since: [17], inputs: "1??", outputs: "1", attributes: "axis:i inverse:i onesided:i", rule: nil)
        r.add("DFT", since: [20], inputs: "1??", outputs: "1", attributes: "inverse:i onesided:i", rule: nil)
        r.add("STFT", since: [17], inputs: "11??", outputs: "1", attributes: "onesided:i", rule: nil)
        r.add(
            "MelWeightMatrix", since: [17], inputs: "11111", outputs: "1", attributes: "output_datatype:i",
            rule: { ctx in
                let t = DType(rawValue: Int32(clamping: ctx.int("output_datatype", default: 1))) ?? .float32
                let bins: Dim = ctx.ints(1)?.first.map { .known($0 / 2 + 1) } ?? .unknown
                ctx.setOutput(0, t, [bins, ctx.values(0)?.first ?? .unknown])
            })
        for name in ["HannWindow", "HammingWindow", "BlackmanWindow"] {
            r.add(
                name, since: [17], inputs: "1", outputs: "1", attributes: "output_datatype:i periodic:i",
                rule: { ctx in
                    let t = DType(rawValue: Int32(clamping: ctx.int("output_datatype", default: 1))) ?? .float32
                    ctx.setOutput(0, t, [ctx.values(0)?.first ?? .unknown])
                })
        }
    }
}
