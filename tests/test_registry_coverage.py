"""Every kernel the engine registers is run by a passing test: none is dead, none only throws.

``swiftconv.get_registered_kernels()`` lists the standard registry. A (domain, op) is
*exercised* when a model that a passing engine test runs has a node of it:

- tests/test_backend_engine.py: each exported ONNX backend case (tests/backend_data.py)
  with at least one data set, minus the ``engine::`` lines of known_failures.txt (those
  run as xfail(strict=True), so they fail; an ``_expanded`` case, whose nodes are the
  function body of the op, counts only when it passes like any other);
- tests/test_rare_ops.py: ``rare_op_models()``, every model ``test_matches_onnxruntime`` runs;
- tests/test_real_models.py: the models of ``CASES`` (weights do not change the nodes, so
  the skeletons in tests/models are read);
- tests/test_examples_engine.py: the example models it is parametrized with.

Nodes count in the main graph, in subgraphs at any depth (If/Loop/Scan bodies) and in the
bodies of the model-local functions a graph calls, which the engine inlines (the call node
itself runs no kernel). A subgraph counts even when its branch is not taken.

``test_every_registered_op_is_exercised`` asserts registered ⊆ exercised (the ``tflite`` domain's
kernels are checked the same way against the TFLite fixtures, in tests/test_tflite_ops.py).

``test_registered_op_runs`` is the "no kernel only throws" check. The first check implies
it only when every listed case passes, which this file alone does not know. So for each
registered op it picks one witness (the cheapest listed case with a node of the op) and
runs it here through the same code as its own suite: outputs compared with onnx's expected
data or onnxruntime. A kernel that throws for every node (at session creation or at run
time) fails its witness; one that silently returns garbage fails the comparison.

    python -m pytest -q tests/test_registry_coverage.py
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Callable

import onnx
import pytest
import real_models
import test_examples_engine
import test_rare_ops
import test_real_models
from backend_data import engine_cases
from conftest import read_known_failures
from test_backend_engine import run_case

import swiftconv as sc

# Witnesses are tried cheapest first: backend cases, rare-op models, examples, real models.
TIERS = ("backend", "rare", "example", "real")


def canonical_domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def op_key(domain: str, op: str) -> str:
    return op if not domain else f"{domain}:{op}"


def model_ops(model: onnx.ModelProto) -> set[tuple[str, str]]:
    """(domain, op) of every node the engine builds a kernel for: main graph, subgraphs and
    the bodies of called model-local functions (looked up like the FunctionInlining pass)."""
    functions = {(f.domain, f.name): f for f in model.functions}
    ops: set[tuple[str, str]] = set()

    def function_for(node):
        found = functions.get((node.domain, node.op_type))
        if found is None and node.domain == "":
            found = functions.get(("ai.onnx", node.op_type))
        return found

    def walk(nodes, depth):
        for node in nodes:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g.node, depth)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for g in attr.graphs:
                        walk(g.node, depth)
            body = function_for(node)
            if body is None:
                ops.add((canonical_domain(node.domain), node.op_type))
            elif depth < 32:  # the engine's limit; deeper calls fail the model
                walk(body.node, depth + 1)

    walk(model.graph.node, 0)
    return ops


@dataclasses.dataclass(frozen=True)
class Source:
    """One model a passing engine test runs, and how to run it the way that test does."""

    tier: str
    label: str
    ops: frozenset
    run: Callable[[], None]

    @property
    def cost(self):
        return (TIERS.index(self.tier), len(self.ops), self.label)


def _backend_sources() -> list[Source]:
    known = read_known_failures("engine")
    out = []
    for case in engine_cases():
        if case.name in known or not case.data_sets():
            continue
        model = onnx.load(str(case.model_path), load_external_data=False)
        out.append(
            Source(
                "backend",
                f"tests/test_backend_engine.py {case.id}",
                frozenset(model_ops(model)),
                lambda case=case: run_case(sc, case),
            )
        )
    return out


def _rare_sources() -> list[Source]:
    return [
        Source(
            "rare",
            f"tests/test_rare_ops.py {case.id}",
            frozenset(model_ops(model)),
            lambda case=case: test_rare_ops.check(*case.build()),
        )
        for case, model in zip(test_rare_ops.CASES, test_rare_ops.rare_op_models())
    ]


def _parametrized(test, argname: str) -> list:
    """The values `test` is parametrized with for `argname` (from its pytest marks)."""
    for mark in getattr(test, "pytestmark", []):
        if mark.name == "parametrize" and mark.args[0] == argname:
            return list(mark.args[1])
    raise LookupError(f"{test.__name__} is not parametrized over {argname!r}")


def _example_sources() -> list[Source]:
    test = test_examples_engine.test_example_matches_onnxruntime
    batch = _parametrized(test, "batch")[0]
    return [
        Source(
            "example",
            f"tests/test_examples_engine.py {name}",
            frozenset(model_ops(onnx.load(str(test_examples_engine.EXAMPLES / name)))),
            lambda name=name: test(name, batch),
        )
        for name in _parametrized(test, "name")
    ]


def _real_sources() -> list[Source]:
    first_batch = {}
    for name, batch in test_real_models.CASES:
        first_batch.setdefault(name, batch)  # one batch per model is enough
    out = []
    for name, batch in first_batch.items():
        skeleton = real_models.MODELS / real_models.manifest()[name]["file"]
        model = onnx.load(str(skeleton), load_external_data=False)
        out.append(
            Source(
                "real",
                f"tests/test_real_models.py {name}",
                frozenset(model_ops(model)),
                lambda name=name, batch=batch: test_real_models.test_real_model_matches_onnxruntime(name, batch),
            )
        )
    return out


@cache
def sources() -> list[Source]:
    return sorted(_backend_sources() + _rare_sources() + _example_sources() + _real_sources(), key=lambda s: s.cost)


# The `tflite` domain's kernels run on TFLite files, not ONNX models: tests/test_tflite_ops.py
# checks that every one of them runs a passing TFLite fixture.
TFLITE_DOMAINS = {"tflite"}


@cache
def registered_ops() -> list[tuple[str, str]]:
    return sorted({(k.domain, k.op_type) for k in sc.get_registered_kernels() if k.domain not in TFLITE_DOMAINS})


def witness(op: tuple[str, str]) -> Source | None:
    """The cheapest source that runs `op`, or None."""
    return next((s for s in sources() if op in s.ops), None)


# ---------------------------------------------------------------- the listing


def test_registered_kernels_listing():
    kernels = sc.get_registered_kernels()
    assert kernels, "the registry is empty"
    assert kernels == sorted(set(kernels)), "entries are unique and sorted by (domain, op_type, since_version)"
    for k in kernels:
        assert isinstance(k, sc.KernelDef)
        assert isinstance(k.domain, str) and k.domain != "ai.onnx", k
        assert isinstance(k.op_type, str) and k.op_type, k
        assert isinstance(k.since_version, int) and k.since_version >= 1, k
    assert ("", "Conv", 11) in kernels
    assert "ai.onnx.ml" in {k.domain for k in kernels}
    assert list(json.loads(sc._core.registered_kernels_json())) == ["kernels", "schemas"]


def test_registered_kernels_json_rejects_null_out():
    lib = ctypes.CDLL(str(Path(sc.__file__).parent / "libswiftconv.so"))
    lib.sc_registered_kernels_json.restype = ctypes.c_void_p
    lib.sc_status_code.argtypes = [ctypes.c_void_p]
    lib.sc_status_release.argtypes = [ctypes.c_void_p]
    status = lib.sc_registered_kernels_json(None)
    assert status
    try:
        assert lib.sc_status_code(status) == 1  # SC_ERR_INVALID_ARGUMENT
    finally:
        lib.sc_status_release(status)


# ---------------------------------------------------------------- coverage


def test_every_registered_op_is_exercised():
    exercised = set().union(*(s.ops for s in sources()))
    missing = [op_key(*op) for op in registered_ops() if op not in exercised]
    assert not missing, (
        f"{len(missing)} registered op(s) run by no passing engine test (see this file's docstring "
        f"for what counts); add a test in tests/test_rare_ops.py style: {', '.join(missing)}"
    )


@pytest.mark.parametrize("op", registered_ops(), ids=[op_key(*op) for op in registered_ops()])
def test_registered_op_runs(op):
    source = witness(op)
    if source is None:
        pytest.fail(f"{op_key(*op)} is run by no passing engine test")
    source.run()
