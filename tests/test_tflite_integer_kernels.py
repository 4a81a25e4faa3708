"""Integer and dynamic-range tflite kernels against LiteRT's BUILTIN_REF outputs.

Every per-op and whole-model fixture with an int8, int8float or dynamic variant is run through
sc.Interpreter; int8 outputs must equal LiteRT's reference kernels exactly, float outputs of
dynamic-range models must be within 1e-4. Fixtures whose ops have no integer kernel yet are
listed in KNOWN_UNSUPPORTED (the interpreter must refuse them with UnsupportedOp, not run them).
"""

from pathlib import Path

import numpy as np
import pytest

sc = pytest.importorskip("swiftconv")
if not hasattr(sc, "Interpreter"):
    pytest.skip("sc.Interpreter is not available in this build", allow_module_level=True)

ROOT = Path(__file__).parent / "fixtures" / "tflite"
VARIANTS = ("_int8", "_int8float", "_dynamic")

# Quantized ops without an integer kernel (refused at session creation), and the reason.
KNOWN_UNSUPPORTED = {
    "div_broadcast_int8": "DIV int8 (reciprocal fixed point) not implemented",
    "div_broadcast_relu_int8": "DIV int8",
    "div_broadcast_relu6_int8": "DIV int8",
    "div_same_shape_int8": "DIV int8",
    "exp_int8": "EXP int8",
    "log_int8": "LOG int8",
    "log_softmax_int8": "LOG_SOFTMAX int8",
    "sqrt_int8": "SQRT int8",
    "reduce_prod_axes0_2_keep_int8": "REDUCE_PROD int8",
    "reduce_prod_axes1_2_drop_int8": "REDUCE_PROD int8",
    "reduce_prod_axes1_2_keep_int8": "REDUCE_PROD int8",
    "reduce_prod_axesm1_drop_int8": "REDUCE_PROD int8",
    "tconv_weights1152_dynamic": "dynamic-range TRANSPOSE_CONV",
}
# LiteRT's BUILTIN_REF int8 SUM returns values unrelated to the sums; we match its default kernel.
COMPARE_DEFAULT = {"sum_axes0_2_keep_int8", "sum_axes1_2_drop_int8", "sum_axes1_2_keep_int8", "sum_axesm1_drop_int8"}


def _cases():
    for folder in (ROOT, ROOT / "ops"):
        for npz in sorted(folder.glob("*.npz")):
            if npz.stem.endswith(VARIANTS) and (folder / f"{npz.stem}.tflite").exists():
                yield pytest.param(folder / f"{npz.stem}.tflite", npz, id=npz.stem)


@pytest.mark.parametrize("model,data", list(_cases()))
def test_integer_kernels_match_litert_reference(model, data):
    d = np.load(data)
    name = model.stem
    if name in KNOWN_UNSUPPORTED:
        with pytest.raises(Exception):
            it = sc.Interpreter(model_path=str(model))
            it.allocate_tensors()
            for k, det in enumerate(it.get_input_details()):
                it.set_tensor(det["index"], d[f"input_{k}"])
            it.invoke()
        return
    it = sc.Interpreter(model_path=str(model))
    it.allocate_tensors()
    for k, det in enumerate(it.get_input_details()):
        it.set_tensor(det["index"], d[f"input_{k}"])
    it.invoke()
    prefix = "out_default" if name in COMPARE_DEFAULT else "out_ref"
    for k, det in enumerate(it.get_output_details()):
        got, want = it.get_tensor(det["index"]), d[f"{prefix}_{k}"]
        assert got.shape == want.shape, (name, k)
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"{name} output {k}")
        else:
            assert got.dtype == want.dtype and np.array_equal(got, want), f"{name} output {k}"
