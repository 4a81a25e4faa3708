"""Every ONNX backend case through `sc.InferenceSession`, checked like onnx's runner.

Cases and test data come from tests/.cache/backend-data/<onnx version>/ (exported by
scripts/export-backend-cases.py on first use; see tests/backend_data.py). Each case
builds one session and runs every data set; outputs must match in dtype and shape and
be close (rtol=1e-3, atol=1e-7 unless the case says otherwise; integers, bools and
strings exact; NaN equal to NaN).

Known failures are `engine::<case>` lines of tests/known_failures.txt, run as
xfail(strict=True) so the list can only shrink; regenerate them with
scripts/update-known-failures.py. A crash of the engine kills the run, which fails it.

    python -m pytest tests/test_backend_engine.py -q
"""

import onnx
import pytest
from backend_data import assert_values_close, engine_cases, load_data_set
from conftest import read_known_failures

SUITE = "engine"


def _params():
    known = read_known_failures(SUITE)
    cases = engine_cases()
    stale = sorted(set(known) - {c.name for c in cases})
    if stale:
        raise ValueError(f"known_failures.txt names engine cases that do not exist: {stale}")
    return [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(reason=known[c.name], strict=True)] if c.name in known else [],
        )
        for c in cases
    ]


def run_case(sc, case, options=None) -> None:
    """Runs one case (in a session made with `options`, if given); raises on the first mismatch or error."""
    model = onnx.load(str(case.model_path), load_external_data=False)
    sess = sc.InferenceSession(str(case.model_path), options)
    feed_names = [i.name for i in sess.get_inputs()]
    rtol, atol = case.tolerances()
    for folder in case.data_sets():
        feed, expected = load_data_set(model, folder, feed_names)
        actual = sess.run(None, feed)
        assert len(actual) == len(expected), f"{len(actual)} outputs, expected {len(expected)}"
        for k, (e, a) in enumerate(zip(expected, actual)):
            assert_values_close(e, a, rtol, atol, f"{folder.name}: output {k} ('{model.graph.output[k].name}')")


@pytest.mark.parametrize("case", _params())
def test_backend_engine(sc, case):
    run_case(sc, case)
