/// Fused transformer blocks: Attention, RotaryEmbedding, SwiGLU and the opset 27 linear-attention ops.
enum AttentionOps {
    static func register(into r: inout OpRegistry) {
        r.add("Attention", since: [23, 24, 25], inputs: "111????", outputs: "1???",
              attributes: "is_causal:i kv_num_heads:i left_window_size:i q_num_heads:i qk_matmul_output_mode:i right_window_size:i scale:f softcap:f softmax_precision:i",
              rule: { ctx in
            // Q is [B, heads, S, head] or [B, S, hidden]; the output keeps Q's layout with V's head size.
            guard let q = ctx.shape(0), let v = ctx.shape(2) else { ctx.setOutput(0, ctx.dtype(0), nil); return }
            if q.count == 4, v.count == 4 { ctx.setOutput(0, ctx.dtype(0), [q[0], q[1], q[2], v[3]]) }
            else if q.count == 3 { ctx.setOutput(0, ctx.dtype(0), [q[0], q[1], .unknown]) }
        })
        r.add("RotaryEmbedding", since: [23], inputs: "111?", outputs: "1",
              attributes: "interleaved:i num_heads:i rotary_embedding_dim:i", rule: ElementwiseOps.unary)
        r.add("SwiGLU", since: [28], inputs: "11", outputs: "1", attributes: "alpha:f", rule: ElementwiseOps.unary)
        r.add("LinearAttention", since: [27], inputs: "111???", outputs: "11",
              attributes: "chunk_size:i kv_num_heads:i! q_num_heads:i! scale:f update_rule:s", rule: nil)
        r.add("CausalConvWithState", since: [27], inputs: "11??", outputs: "11", attributes: "activation:s", rule: nil)
    }
}
