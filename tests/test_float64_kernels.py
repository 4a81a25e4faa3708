"""float64 convolution and recurrent ops compute in double precision.

Conv (groups, dilations, pads, 1-D to 3-D, depthwise, fused with Relu or Sigmoid),
ConvTranspose, DeformConv, RNN, LSTM and GRU run on float64 inputs scaled so that
outputs reach tens, and must agree to rtol 1e-12 (a kernel that rounds through float32
misses by about 1e-7 relative) with ``onnx.reference.ReferenceEvaluator``, which computes
in float64. Where the reference cannot serve: grouped ConvTranspose is checked against one
reference run per group; DeformConv against a numpy evaluation of its definition (the
reference samples through GridSample, which rounds to float32); the reference ignores
sequence_lens, so the recurrent cases leave it out.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import swiftconv as sc

RTOL = 1e-12
D = TensorProto.DOUBLE


def model(nodes, inputs, outputs, initializers=(), opset=19):
    graph = helper.make_graph(nodes, "float64_kernels", inputs, outputs, initializer=list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="swiftconv-tests")
    m.ir_version = 9
    onnx.checker.check_model(m)
    return m


def vinfo(name, shape):
    return helper.make_tensor_value_info(name, D, shape)


def out_info(name, rank):
    """An output of known rank and unknown extents."""
    return helper.make_tensor_value_info(name, D, [None] * rank)


def check(
    m, feeds, optimization_levels=(sc.GraphOptimizationLevel.ORT_DISABLE_ALL, sc.GraphOptimizationLevel.ORT_ENABLE_ALL)
):
    expected = ReferenceEvaluator(m).run(None, feeds)
    data = m.SerializeToString()
    for level in optimization_levels:
        options = sc.SessionOptions()
        options.graph_optimization_level = level
        actual = sc.InferenceSession(data, options).run(None, feeds)
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert a.dtype == np.float64 and a.shape == e.shape
            scale = max(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
            assert scale > 5, "inputs should make outputs large enough to show float32 rounding"
            np.testing.assert_allclose(a, e, rtol=RTOL, atol=RTOL * scale)


def rng(seed):
    return np.random.default_rng(seed)


CONV_CASES = {
    "2d_pads": dict(x=(2, 3, 9, 8), w=(4, 3, 3, 3), attrs=dict(pads=[1, 1, 1, 1])),
    "2d_group_dilation": dict(
        x=(1, 4, 11, 10), w=(6, 2, 3, 3), attrs=dict(group=2, dilations=[2, 2], pads=[2, 1, 0, 2])
    ),
    "2d_depthwise_stride": dict(
        x=(1, 5, 12, 12), w=(5, 1, 3, 3), attrs=dict(group=5, strides=[2, 2], pads=[1, 1, 1, 1])
    ),
    "2d_pointwise": dict(x=(2, 6, 5, 7), w=(3, 6, 1, 1), attrs={}),
    "2d_same_upper": dict(x=(1, 2, 7, 9), w=(3, 2, 4, 2), attrs=dict(auto_pad="SAME_UPPER", strides=[2, 1])),
    "1d": dict(x=(2, 3, 17), w=(4, 3, 5), attrs=dict(pads=[2, 1], strides=[2])),
    "3d": dict(x=(1, 2, 5, 6, 4), w=(3, 2, 3, 2, 3), attrs=dict(pads=[1, 0, 1, 1, 1, 0], dilations=[1, 2, 1])),
}


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv(case, bias):
    c = CONV_CASES[case]
    r = rng(len(case))
    x = r.normal(0, 4, c["x"])
    w = r.normal(0, 2, c["w"])
    feeds = {"x": x, "w": w}
    inputs = [vinfo("x", list(c["x"])), vinfo("w", list(c["w"]))]
    names = ["x", "w"]
    if bias:
        feeds["b"] = r.normal(0, 3, (c["w"][0],))
        inputs.append(vinfo("b", [c["w"][0]]))
        names.append("b")
    node = helper.make_node("Conv", names, ["y"], **c["attrs"])
    check(model([node], inputs, [out_info("y", len(c["x"]))]), feeds)


@pytest.mark.parametrize("activation", ["Relu", "Sigmoid"])
def test_conv_with_activation_and_constant_weights(activation):
    """Constant weights and a following activation: what the optimizer fuses into FusedConv."""
    r = rng(5)
    w = r.normal(0, 2, (4, 3, 3, 3))
    b = r.normal(0, 3, (4,))
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node(activation, ["c"], ["y"]),
    ]
    inits = [helper.make_tensor("w", D, w.shape, w.ravel()), helper.make_tensor("b", D, b.shape, b.ravel())]
    m = model(nodes, [vinfo("x", [1, 3, 8, 8])], [out_info("y", 4)], inits)
    feeds = {"x": r.normal(0, 4, (1, 3, 8, 8))}
    if activation == "Sigmoid":
        # Outputs lie in (0, 1): an absolute tolerance near double rounding.
        expected = ReferenceEvaluator(m).run(None, feeds)[0]
        actual = sc.InferenceSession(m.SerializeToString()).run(None, feeds)[0]
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-15)
    else:
        check(m, feeds)


CONV_TRANSPOSE_CASES = {
    "stride2_pads": dict(x=(1, 3, 5, 4), w=(3, 2, 3, 3), attrs=dict(strides=[2, 2], pads=[1, 0, 1, 1])),
    "group_output_padding": dict(
        x=(2, 4, 4, 5), w=(4, 3, 3, 2), attrs=dict(group=2, strides=[3, 2], output_padding=[1, 1])
    ),
    "1d": dict(x=(1, 2, 7), w=(2, 3, 4), attrs=dict(strides=[2], pads=[1, 2])),
    "3d": dict(x=(1, 2, 3, 4, 3), w=(2, 2, 2, 3, 2), attrs=dict(strides=[2, 1, 2])),
}


@pytest.mark.parametrize("case", sorted(CONV_TRANSPOSE_CASES))
def test_conv_transpose(case):
    c = CONV_TRANSPOSE_CASES[case]
    r = rng(len(case) + 100)
    out_channels = c["w"][1] * c["attrs"].get("group", 1)
    feeds = {"x": r.normal(0, 4, c["x"]), "w": r.normal(0, 2, c["w"]), "b": r.normal(0, 3, (out_channels,))}
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **c["attrs"])
    inputs = [vinfo("x", list(c["x"])), vinfo("w", list(c["w"])), vinfo("b", [out_channels])]
    m = model([node], inputs, [out_info("y", len(c["x"]))])
    group = c["attrs"].get("group", 1)
    if group == 1:
        check(m, feeds)
        return
    # The onnx reference cannot run grouped ConvTranspose: one reference run per group, concatenated.
    per_group = {k: v for k, v in c["attrs"].items() if k != "group"}
    cg, mg = c["x"][1] // group, c["w"][1]
    parts = []
    for g in range(group):
        part = {
            "x": feeds["x"][:, g * cg : (g + 1) * cg],
            "w": feeds["w"][g * cg : (g + 1) * cg],
            "b": feeds["b"][g * mg : (g + 1) * mg],
        }
        single = model(
            [helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **per_group)],
            [vinfo(k, list(v.shape)) for k, v in part.items()],
            [out_info("y", len(c["x"]))],
        )
        parts.append(ReferenceEvaluator(single).run(None, part)[0])
    expected = np.concatenate(parts, axis=1)
    actual = sc.InferenceSession(m.SerializeToString()).run(None, feeds)[0]
    assert actual.dtype == np.float64 and actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * np.max(np.abs(expected)))


@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("group,offset_group", [(1, 1), (2, 2)])
def test_deform_conv(with_mask, group, offset_group):
    r = rng(7 + group)
    n, c, h, w_ = 1, 4, 6, 7
    m, kh, kw = 4, 3, 2
    pads, strides, dil = [1, 0, 1, 1], [1, 2], [1, 1]
    oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (w_ + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    feeds = {
        "x": r.normal(0, 4, (n, c, h, w_)),
        "w": r.normal(0, 2, (m, c // group, kh, kw)),
        "offset": r.normal(0, 1.5, (n, offset_group * kh * kw * 2, oh, ow)),
        "b": r.normal(0, 3, (m,)),
    }
    names = ["x", "w", "offset", "b"]
    inputs = [vinfo(k, list(v.shape)) for k, v in feeds.items()]
    if with_mask:
        feeds["mask"] = r.uniform(0.2, 1.5, (n, offset_group * kh * kw, oh, ow))
        names.append("mask")
        inputs.append(vinfo("mask", list(feeds["mask"].shape)))
    node = helper.make_node(
        "DeformConv",
        names,
        ["y"],
        group=group,
        offset_group=offset_group,
        kernel_shape=[kh, kw],
        pads=pads,
        strides=strides,
        dilations=dil,
    )
    m_ = model([node], inputs, [out_info("y", 4)])
    expected = deform_conv_numpy(
        feeds["x"], feeds["w"], feeds["offset"], feeds["b"], feeds.get("mask"), group, offset_group, pads, strides, dil
    )
    # The onnx reference samples through GridSample, which rounds its weights to float32:
    # it confirms the oracle above only to float32 precision.
    np.testing.assert_allclose(ReferenceEvaluator(m_).run(None, feeds)[0], expected, rtol=1e-4, atol=1e-4)
    actual = sc.InferenceSession(m_.SerializeToString()).run(None, feeds)[0]
    assert actual.dtype == np.float64
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * np.max(np.abs(expected)))


def deform_conv_numpy(x, w, offset, b, mask, group, offset_group, pads, strides, dilations):
    """DeformConv from its definition in float64: bilinear samples (zero outside the image)
    at the offset window positions, times the mask, weighted by W, plus B."""
    n, c, ih, iw = x.shape
    m, cg, kh, kw = w.shape
    oh, ow = offset.shape[2:]
    off = offset.reshape(n, offset_group, kh, kw, 2, oh, ow)
    msk = np.ones((n, offset_group, kh, kw, oh, ow)) if mask is None else mask.reshape(n, offset_group, kh, kw, oh, ow)
    y = np.zeros((n, m, oh, ow)) + b[None, :, None, None]
    mg, per_offset_group = m // group, c // offset_group

    def sample(plane, hh, ww):
        h0, w0 = np.floor(hh).astype(np.int64), np.floor(ww).astype(np.int64)
        fh, fw = hh - h0, ww - w0

        def at(r, q):
            inside = (r >= 0) & (r < ih) & (q >= 0) & (q < iw)
            return np.where(inside, plane[np.clip(r, 0, ih - 1), np.clip(q, 0, iw - 1)], 0.0)

        return (1 - fh) * ((1 - fw) * at(h0, w0) + fw * at(h0, w0 + 1)) + fh * (
            (1 - fw) * at(h0 + 1, w0) + fw * at(h0 + 1, w0 + 1)
        )

    rows, cols = np.arange(oh)[:, None], np.arange(ow)[None, :]
    for bi in range(n):
        for ci in range(c):
            og, g = ci // per_offset_group, ci // cg
            for a in range(kh):
                for k in range(kw):
                    hh = rows * strides[0] - pads[0] + a * dilations[0] + off[bi, og, a, k, 0]
                    ww = cols * strides[1] - pads[1] + k * dilations[1] + off[bi, og, a, k, 1]
                    v = sample(x[bi, ci], hh, ww) * msk[bi, og, a, k]
                    for mi in range(g * mg, (g + 1) * mg):
                        y[bi, mi] += w[mi, ci - g * cg, a, k] * v
    return y


def recurrent_model(op, hidden, direction, extra_attrs, with_initial, seq=5, batch=3, inp=4, seed=0):
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    dirs = 2 if direction == "bidirectional" else 1
    r = rng(seed)
    feeds = {
        "X": r.normal(0, 3, (seq, batch, inp)),
        "W": r.normal(0, 0.5, (dirs, gates * hidden, inp)),
        "R": r.normal(0, 0.5, (dirs, gates * hidden, hidden)),
        "B": r.normal(0, 0.5, (dirs, 2 * gates * hidden)),
    }
    names = ["X", "W", "R", "B"]
    if with_initial:
        # The onnx reference ignores sequence_lens: an empty name leaves it out.
        feeds["h0"] = r.normal(0, 1, (dirs, batch, hidden))
        names += ["", "h0"]
        if op == "LSTM":
            feeds["c0"] = r.normal(0, 1, (dirs, batch, hidden))
            feeds["P"] = r.normal(0, 0.5, (dirs, 3 * hidden))
            names += ["c0", "P"]
    inputs = [vinfo(k, list(v.shape)) for k, v in feeds.items()]
    outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, names, outputs, hidden_size=hidden, direction=direction, **extra_attrs)
    return model([node], inputs, [out_info(o, 4 if o == "Y" else 3) for o in outputs], opset=14), feeds


def check_recurrent(m, feeds):
    """Recurrent outputs are bounded by their activations, so the absolute tolerance is tight too."""
    expected = ReferenceEvaluator(m).run(None, feeds)
    actual = sc.InferenceSession(m.SerializeToString()).run(None, feeds)
    for a, e in zip(actual, expected):
        assert a.dtype == np.float64 and a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=1e-13)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("with_initial", [False, True])
@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
def test_recurrent(op, direction, with_initial):
    m, feeds = recurrent_model(op, 6, direction, {}, with_initial, seed=len(op) + len(direction))
    check_recurrent(m, feeds)


@pytest.mark.parametrize(
    "op,attrs",
    [
        ("GRU", dict(linear_before_reset=1)),
        ("RNN", dict(activations=["Affine"], activation_alpha=[0.5], activation_beta=[2.0])),
    ],
)
def test_recurrent_options(op, attrs):
    m, feeds = recurrent_model(op, 5, "forward", attrs, True, seed=3)
    check_recurrent(m, feeds)


def test_float32_rounding_would_fail():
    """The tolerance above is tight enough to catch a float32 computation."""
    r = rng(1)
    x, w = r.normal(0, 4, (1, 3, 9, 9)), r.normal(0, 2, (4, 3, 3, 3))
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    m = model([node], [vinfo("x", [1, 3, 9, 9]), vinfo("w", [4, 3, 3, 3])], [out_info("y", 4)])
    expected = ReferenceEvaluator(m).run(None, {"x": x, "w": w})[0]
    in_float32 = ReferenceEvaluator(m).run(
        None, {"x": x.astype(np.float32).astype(np.float64), "w": w.astype(np.float32).astype(np.float64)}
    )[0]
    scale = float(np.max(np.abs(expected)))
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(in_float32, expected, rtol=RTOL, atol=RTOL * scale)
