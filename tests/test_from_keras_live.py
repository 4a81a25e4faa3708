"""Every Keras fixture loaded by Keras itself and converted as a live model (weights read from
the model's variables), against the outputs Keras computed. Needs Keras 3 (and tf_keras for the
.h5 fixtures), so it runs where Keras is installed: CI has neither, and the same fixtures are
converted from their files by the other test_from_keras_* suites. Run it with

    PYTHONPATH=python /work/venv-tf/bin/python -m pytest -q tests/test_from_keras_live.py
"""

import pytest

keras = pytest.importorskip("keras")

from keras_oracle import check_live, fixtures  # noqa: E402


def _has_tf_keras():
    try:
        import tf_keras  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name)
def test_live_model(path):
    if path.suffix == ".h5" and not _has_tf_keras():
        pytest.skip("tf_keras is not installed")
    check_live(path)
