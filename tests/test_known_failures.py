"""tests/known_failures.txt may only shrink, and its reasons are root causes, not error text.

``ALLOWED`` is the list as it stood on main when each reason was checked by hand; an entry
that is not in it fails the test, so rerunning a script or a careless edit cannot grow the
list. A fixed case is removed from both (its xfail(strict=True) fails the suite when it
starts passing). A reason that is an exception's first line (``AssertionError: ...``,
``UnsupportedOp: ...``) fails too.

    python -m pytest -q tests/test_known_failures.py
"""

from __future__ import annotations

import re

from conftest import KNOWN_FAILURES_FILE

ALLOWED = frozenset(
    {
        "engine::test_attention_4d_causal_fp16_expanded",
        "engine::test_attention_4d_fp16_expanded",
        "engine::test_bernoulli",
        "engine::test_bernoulli_double",
        "engine::test_bernoulli_double_expanded",
        "engine::test_bernoulli_expanded",
        "engine::test_bernoulli_seed",
        "engine::test_bernoulli_seed_expanded",
        "engine::test_dft_inverse",
        "engine::test_dft_inverse_opset19",
        "engine::test_flexattention",
        "engine::test_flexattention_causal_mask",
        "engine::test_flexattention_diff_head_sizes",
        "engine::test_flexattention_double",
        "engine::test_flexattention_fp16",
        "engine::test_flexattention_gqa",
        "engine::test_flexattention_prob_mod",
        "engine::test_flexattention_relative_positional",
        "engine::test_flexattention_scaled",
        "engine::test_flexattention_score_mod",
        "engine::test_flexattention_soft_cap",
        "engine::test_image_decoder_decode_bmp_rgb",
        "engine::test_image_decoder_decode_jpeg2k_rgb",
        "engine::test_image_decoder_decode_jpeg_bgr",
        "engine::test_image_decoder_decode_jpeg_grayscale",
        "engine::test_image_decoder_decode_jpeg_rgb",
        "engine::test_image_decoder_decode_png_rgb",
        "engine::test_image_decoder_decode_pnm_rgb",
        "engine::test_image_decoder_decode_tiff_rgb",
        "engine::test_image_decoder_decode_webp_rgb",
        "engine::test_training_dropout",
        "engine::test_training_dropout_default",
        "engine::test_training_dropout_default_mask",
        "engine::test_training_dropout_mask",
        "engine::test_gradient_of_add",
        "engine::test_gradient_of_add_and_mul",
    }
)

ERROR_TEXT = re.compile(r"^\w*(Error|Exception|UnsupportedOp|InvalidArgument|InvalidModel|Fail)\b")


def entries() -> dict[str, str]:
    out = {}
    for raw in KNOWN_FAILURES_FILE.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            entry, _, reason = line.partition("#")
            out[entry.strip()] = reason.strip()
    return out


def test_no_entry_was_added():
    listed = entries()
    assert listed, "known_failures.txt lists nothing: read the wrong file?"
    added = sorted(set(listed) - ALLOWED)
    assert not added, f"entries not on main's list (fix the case instead, or justify it in review): {added}"


def test_reasons_are_root_causes():
    as_errors = {e: r for e, r in entries().items() if ERROR_TEXT.match(r)}
    assert not as_errors, f"reasons copied from an error message: {as_errors}"
