"""Real models exported by `torch.onnx.export` (torchvision mobilenet_v2, resnet18 and
squeezenet1_1 at opsets 13 and 17, one with a dynamic batch axis; an LSTM classifier; a
Transformer encoder) run on swiftconv and match onnxruntime within 1e-4 in float32."""

import numpy as np
import pytest
import real_models

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _batches(name):
    shapes = [spec["shape"][0] for spec in real_models.manifest()[name]["inputs"]]
    return [1, 3] if "batch" in shapes else [1]


CASES = [(name, batch) for name in real_models.names() for batch in _batches(name)]


@pytest.mark.parametrize("name,batch", CASES, ids=[f"{n}-b{b}" for n, b in CASES])
def test_real_model_matches_onnxruntime(name, batch):
    model = real_models.build(name)
    feeds = real_models.inputs(name, batch)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    want = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = sc.InferenceSession(model).run(None, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        # The comparison only means something if the outputs are not all near zero.
        assert np.std(w) > 0.01, f"reference output of {name} is degenerate (std {np.std(w):.3g})"
        np.testing.assert_array_less(np.abs(g - w).max(), 1e-4)


def test_every_model_has_a_dynamic_batch_or_fixed_inputs():
    # The acceptance list asks for at least one model with a dynamic batch axis.
    assert any(
        len(_batches(name)) > 1 for name in real_models.names() if name.startswith(("mobilenet", "resnet", "squeeze"))
    )


def test_threads_share_a_session_on_a_real_model():
    """Four Python threads running one squeezenet session at once (its kernels use the
    session's thread pool, which then runs loops on the calling thread when busy) get the
    results of runs made one at a time."""
    import threading

    name = "squeezenet1_1_op13"
    sess = sc.InferenceSession(real_models.build(name))
    feeds = [
        {"image": x}
        for x in (np.random.default_rng(i).standard_normal((1, 3, 224, 224)).astype(np.float32) for i in range(4))
    ]
    expected = [sess.run(None, f)[0] for f in feeds]
    errors = []

    def work(k):
        try:
            for i in range(10):
                got = sess.run(None, feeds[(k + i) % 4])[0]
                np.testing.assert_allclose(got, expected[(k + i) % 4], rtol=1e-6, atol=1e-7)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
