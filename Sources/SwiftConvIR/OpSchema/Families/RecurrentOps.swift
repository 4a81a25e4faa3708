/// Recurrent layers: LSTM, GRU, RNN, and the opset 27 LinearAttention and CausalConvWithState.
enum RecurrentOps {
    static func register(into r: inout OpRegistry) {
        let common = "activation_alpha:fs activation_beta:fs activations:ss clip:f direction:s hidden_size:i"
        r.add(
            "LSTM", since: [1, 7], inputs: "111?????", outputs: "???", attributes: common + " input_forget:i",
            rule: { recurrent(&$0, gates: 4) })
        r.add(
            "LSTM", since: [14, 22], inputs: "111?????", outputs: "???", attributes: common + " input_forget:i layout:i",
            rule: { recurrent(&$0, gates: 4) })
        r.add(
            "GRU", since: [1, 3, 7], inputs: "111???", outputs: "??", attributes: common + " linear_before_reset:i",
            rule: { recurrent(&$0, gates: 3) })
        r.add(
            "GRU", since: [14, 22], inputs: "111???", outputs: "??",
            attributes: common + " layout:i linear_before_reset:i", rule: { recurrent(&$0, gates: 3) })
        r.add("RNN", since: [1, 7], inputs: "111???", outputs: "??", attributes: common, rule: { recurrent(&$0, gates: 1) })
        r.add(
            "RNN", since: [14, 22], inputs: "111???", outputs: "??", attributes: common + " layout:i",
            rule: { recurrent(&$0, gates: 1) })
        r.add(
            "LinearAttention", since: [27], inputs: "111???", outputs: "11",
            attributes: "chunk_size:i kv_num_heads:i! q_num_heads:i! scale:f update_rule:s", rule: nil)
        r.add("CausalConvWithState", since: [27], inputs: "11??", outputs: "11", attributes: "activation:s", rule: nil)
    }

    /// Y: [seq, dirs, batch, hidden] (layout 0) or [batch, seq, dirs, hidden]; Y_h, Y_c: [dirs, batch, hidden].
    static func recurrent(_ ctx: inout InferenceContext, gates: Int) {
        let dtype = ctx.dtype(0)
        let dirs: Dim = .known(ctx.string("direction", default: "forward") == "bidirectional" ? 2 : 1)
        var hidden: Dim = ctx.int("hidden_size").map { .known($0) } ?? .unknown
        if hidden == .unknown, let rShape = ctx.shape(2), rShape.count == 3 { hidden = rShape[2] }
        let layout = ctx.int("layout", default: 0)
        var seq = Dim.unknown, batch = Dim.unknown
        if let x = ctx.shape(0), x.count == 3 {
            (seq, batch) = layout == 0 ? (x[0], x[1]) : (x[1], x[0])
        }
        ctx.setOutput(0, dtype, layout == 0 ? [seq, dirs, batch, hidden] : [batch, seq, dirs, hidden])
        let state: Shape = layout == 0 ? [dirs, batch, hidden] : [batch, dirs, hidden]
        ctx.setOutput(1, dtype, state)
        if gates == 4 { ctx.setOutput(2, dtype, state) }
    }
}
