"""Kernel coverage per (domain, op, since-version), and the schema table against onnx.

A node runs the kernel of the newest registered since-version not above the model's opset
for its domain (`selected_kernels` computes it as the engine does). A registered
(domain, op, since) is *covered* when a model a passing test runs selects it:

- the models of tests/test_registry_coverage.py's sources (backend cases minus known
  failures, rare-op models, examples, real-model skeletons); nodes count in the main graph,
  in Loop/Scan bodies and in called model-local functions, not in If branches (a branch
  that is not taken runs nothing);
- the *version cases* here: a passing backend node case brought to an older opset, by
  `onnx.version_converter` or, when the checker accepts the node at that opset, by
  lowering the opset import (integer inputs may first become initializers, and the axes,
  k, shape or scales inputs of reductions, TopK, Reshape and Upsample the attributes older
  versions take). Each is run in swiftconv and compared with onnxruntime or,
  where onnxruntime has no kernel for that version, with `onnx.reference.ReferenceEvaluator`
  (the oracle's outputs are computed when the case is generated and cached in tests/.cache).

`test_every_kernel_version_is_covered` fails for a registered version that is neither
covered nor listed in tests/uncovered_kernel_versions.txt (with its checked reason), and for
a listed one that is covered.

    python -m pytest -q tests/test_kernel_versions.py
"""

from __future__ import annotations

import collections
import copy
import hashlib
import json
import pickle
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import onnx
import pytest
import test_registry_coverage
from backend_data import assert_values_close, engine_cases, load_data_set
from conftest import read_known_failures
from onnx import version_converter
from onnx.reference import ReferenceEvaluator

import swiftconv as sc

ort = pytest.importorskip("onnxruntime")

TESTS = Path(__file__).resolve().parent
MANIFEST = TESTS / "uncovered_kernel_versions.txt"
CANDIDATES_PER_VERSION = 6
RTOL, ATOL = 1e-4, 1e-5

Key = tuple  # (domain, op, since)


def canonical(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def key_text(key: Key) -> str:
    domain, op, since = key
    return f"{domain + ':' if domain else ''}{op}-{since}"


@cache
def listing() -> dict:
    return json.loads(sc._core.registered_kernels_json())


@cache
def kernel_versions() -> dict[tuple[str, str], list[int]]:
    out = collections.defaultdict(list)
    for k in sc.get_registered_kernels():
        out[(k.domain, k.op_type)].append(k.since_version)
    return dict(out)


def registered() -> set[Key]:
    """Every registered ONNX-domain kernel version (the `tflite` domain has one version, whose
    kernels tests/test_tflite_ops.py checks against the TFLite fixtures)."""
    return {(d, op, v) for (d, op), vs in kernel_versions().items() for v in vs if d != "tflite"}


def selected_kernels(model: onnx.ModelProto) -> set[Key]:
    """The (domain, op, since) of every kernel a session of `model` builds and runs."""
    opsets = {canonical(o.domain): o.version for o in model.opset_import}
    functions = {(f.domain, f.name): f for f in model.functions}
    out: set[Key] = set()

    def walk(nodes, depth):
        for node in nodes:
            if node.op_type != "If":
                for attr in node.attribute:
                    if attr.type == onnx.AttributeProto.GRAPH:
                        walk(attr.g.node, depth)
                    elif attr.type == onnx.AttributeProto.GRAPHS:
                        for g in attr.graphs:
                            walk(g.node, depth)
            body = functions.get((node.domain, node.op_type))
            if body is None and node.domain == "":
                body = functions.get(("ai.onnx", node.op_type))
            if body is not None:
                if depth < 32:
                    walk(body.node, depth + 1)
                continue
            domain = canonical(node.domain)
            versions = [v for v in kernel_versions().get((domain, node.op_type), []) if v <= opsets.get(domain, 0)]
            if versions:
                out.add((domain, node.op_type, max(versions)))

    walk(model.graph.node, 0)
    return out


# ---------------------------------------------------------------- the schema table


def test_schema_versions_match_onnx():
    """Our schema since-versions equal onnx's for every op of the standard domains we define."""
    ours = collections.defaultdict(set)
    for s in listing()["schemas"]:
        ours[(s["domain"], s["op_type"])].add(s["since_version"])
    theirs = collections.defaultdict(set)
    for s in onnx.defs.get_all_schemas_with_history():
        theirs[(canonical(s.domain), s.name)].add(s.since_version)
    standard = {"", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.preview"}
    wrong = {
        f"{d}:{op}": (sorted(v), sorted(theirs.get((d, op), ())))
        for (d, op), v in ours.items()
        if d in standard and v != theirs.get((d, op), set())
    }
    assert not wrong, f"schema since-versions differ from onnx {onnx.__version__} (ours, onnx): {wrong}"


def test_kernel_versions_equal_schema_versions():
    schemas = collections.defaultdict(set)
    for s in listing()["schemas"]:
        schemas[(s["domain"], s["op_type"])].add(s["since_version"])
    wrong = {
        op: (sorted(v), sorted(schemas.get(op, ())))
        for op, v in kernel_versions().items()
        if set(v) != schemas.get(op, set())
    }
    assert not wrong, f"kernel and schema since-versions differ: {wrong}"


# ---------------------------------------------------------------- coverage by the suites


@cache
def suite_models() -> list[onnx.ModelProto]:
    known = read_known_failures("engine")
    models = [
        onnx.load(str(c.model_path), load_external_data=False)
        for c in engine_cases()
        if c.name not in known and c.data_sets()
    ]
    models += test_registry_coverage.test_rare_ops.rare_op_models()
    test = test_registry_coverage.test_examples_engine.test_example_matches_onnxruntime
    for name in test_registry_coverage._parametrized(test, "name"):
        models.append(onnx.load(str(test_registry_coverage.test_examples_engine.EXAMPLES / name)))
    real = test_registry_coverage.real_models
    for name, _ in test_registry_coverage.test_real_models.CASES:
        models.append(onnx.load(str(real.MODELS / real.manifest()[name]["file"]), load_external_data=False))
    return models


@cache
def suite_covered() -> frozenset:
    return frozenset().union(*(selected_kernels(m) for m in suite_models()))


# ---------------------------------------------------------------- version cases


def _run(oracle: str, model: onnx.ModelProto, feed: dict) -> list | None:
    """The outputs of `oracle` ('onnxruntime' or 'reference') for `model`, or None when it refuses it."""
    try:
        if oracle == "onnxruntime":
            ort.set_default_logger_severity(4)
            return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return list(ReferenceEvaluator(model).run(None, feed))
    except Exception:  # noqa: BLE001 - an oracle without that version is an outcome
        return None


def _trusted(oracle: str, candidate: dict) -> bool:
    """Whether `oracle` may judge older versions of the candidate's model.

    onnxruntime is preferred (it implements each since-version; the reference evaluator has
    one implementation for most ops), except where it runs the candidate's own model and
    disagrees with onnx's expected outputs (MaxUnpool with output_shape, for one). The
    reference evaluator is used only where onnxruntime has no kernel, and only when it gives
    the expected outputs of the candidate's own model."""
    if candidate["expected"] is None:
        return oracle == "onnxruntime"
    outputs = _run(oracle, candidate["model"], candidate["feed"]())
    if outputs is None:
        return oracle == "onnxruntime"
    try:
        assert len(outputs) == len(candidate["expected"])
        for e, a in zip(candidate["expected"], outputs):
            assert_values_close(e, a, *candidate["tolerances"])
    except AssertionError:
        return False
    return True


def _older(model: onnx.ModelProto, domain: str, version: int) -> list[tuple[str, onnx.ModelProto]]:
    """`model` at `version` of `domain`: converted, and with only the import lowered."""
    out = []
    if domain == "":
        try:
            converted = version_converter.convert_version(model, version)
            onnx.checker.check_model(converted)
            out.append(("converted", converted))
        except Exception:  # noqa: BLE001 - no adapter for some op of the model
            pass
    relabeled = copy.deepcopy(model)
    for o in relabeled.opset_import:
        if canonical(o.domain) == domain:
            o.version = version
    try:
        onnx.checker.check_model(relabeled)
        out.append(("relabeled", relabeled))
    except Exception:  # noqa: BLE001 - the node is not valid at that version
        pass
    return out


def _frozen(model: onnx.ModelProto, feed: dict) -> tuple[onnx.ModelProto, dict] | None:
    """`model` with its integer inputs (axes, pads, sizes, k...) made initializers holding
    their fed values: onnx's converter moves only constant inputs into attributes."""
    ints = {k: v for k, v in feed.items() if isinstance(v, np.ndarray) and v.dtype.kind in "iu"}
    if not ints:
        return None
    frozen = copy.deepcopy(model)
    kept = [i for i in frozen.graph.input if i.name not in ints]
    del frozen.graph.input[:]
    frozen.graph.input.extend(kept)
    frozen.graph.initializer.extend(onnx.numpy_helper.from_array(v, k) for k, v in ints.items())
    return frozen, {k: v for k, v in feed.items() if k not in ints}


# Inputs that older versions of an op take as attributes: (input position, attribute, kind).
INPUT_ATTRIBUTES = {
    **{
        op: (1, "axes", "ints")
        for op in (
            "ReduceL1",
            "ReduceL2",
            "ReduceLogSum",
            "ReduceLogSumExp",
            "ReduceMax",
            "ReduceMean",
            "ReduceMin",
            "ReduceProd",
            "ReduceSum",
            "ReduceSumSquare",
        )
    },
    "TopK": (1, "k", "int"),
    "Reshape": (1, "shape", "ints"),
    "Upsample": (1, "scales", "floats"),
}


def _inputs_as_attributes(model: onnx.ModelProto, feed: dict) -> tuple[onnx.ModelProto, dict] | None:
    """`model` with the fed inputs of INPUT_ATTRIBUTES ops written as the attributes older
    versions take (axes, k, shape, scales), which onnx's converter does not do for them."""
    rewritten = copy.deepcopy(model)
    used = set()
    for node in rewritten.graph.node:
        spec = INPUT_ATTRIBUTES.get(node.op_type)
        if node.domain not in ("", "ai.onnx") or spec is None:
            continue
        position, name, kind = spec
        if len(node.input) <= position or node.input[position] not in feed:
            return None
        value = np.asarray(feed[node.input[position]]).ravel()
        if value.size == 0:
            return None
        attr = {
            "ints": [int(v) for v in value],
            "int": int(value[0]) if value.size == 1 else None,
            "floats": [float(v) for v in value],
        }[kind]
        if attr is None:
            return None
        used.add(node.input[position])
        del node.input[position:]
        node.attribute.append(onnx.helper.make_attribute(name, attr))
    if not used:
        return None
    kept = [i for i in rewritten.graph.input if i.name not in used]
    del rewritten.graph.input[:]
    rewritten.graph.input.extend(kept)
    return rewritten, {k: v for k, v in feed.items() if k not in used}


def _older_variants(candidate: dict, domain: str, version: int):
    """(how, model at `version`, feed) for the candidate, its frozen form and its form with
    inputs written as attributes."""
    for how, older in _older(candidate["model"], domain, version):
        yield how, older, candidate["feed"]
    for tag, rewrite in (("frozen", _frozen), ("attributes", _inputs_as_attributes)):
        rewritten = rewrite(candidate["model"], candidate["feed"]())
        if rewritten is not None:
            model, feed = rewritten
            for how, older in _older(model, domain, version):
                yield f"{how}-{tag}", older, lambda f=feed: copy.deepcopy(f)


def _candidates() -> dict[tuple[str, str], list[dict]]:
    """Models to bring to older opsets, cheapest first, per (domain, op): passing backend node
    cases (with their first data set and expected outputs) and rare-op models."""
    known = read_known_failures("engine")
    by_op = collections.defaultdict(list)
    for case in engine_cases():
        if case.name in known or not case.data_sets() or case.name.endswith("_expanded"):
            continue
        model = onnx.load(str(case.model_path), load_external_data=False)
        if any(n.domain not in ("", "ai.onnx", "ai.onnx.ml") for n in model.graph.node):
            continue
        names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
        feed, expected = load_data_set(model, case.data_sets()[0], names)
        candidate = {
            "cost": len(model.graph.node),
            "name": case.name,
            "model": model,
            "feed": lambda f=feed: copy.deepcopy(f),
            "expected": expected,
            "tolerances": case.tolerances(),
        }
        for op in {(canonical(n.domain), n.op_type) for n in model.graph.node}:
            by_op[op].append(candidate)
    for case, model in zip(
        test_registry_coverage.test_rare_ops.CASES, test_registry_coverage.test_rare_ops.rare_op_models()
    ):
        candidate = {
            "cost": len(model.graph.node) + 100,
            "name": case.id,
            "model": model,
            "feed": lambda c=case: c.build()[1],
            "expected": None,
            "tolerances": None,
        }
        for op in {(canonical(n.domain), n.op_type) for n in model.graph.node}:
            by_op[op].append(candidate)
    for op in by_op:
        by_op[op].sort(key=lambda c: (c["cost"], c["name"]))
    return by_op


def _cache_dir() -> Path:
    kernels = json.dumps(sorted(registered())).encode()
    tag = hashlib.sha256(kernels + onnx.__version__.encode() + ort.__version__.encode()).hexdigest()[:12]
    return TESTS / ".cache" / f"kernel-versions-{tag}"


@cache
def version_cases() -> list[dict]:
    """Generated once per kernel list, onnx and onnxruntime version; cached on disk."""
    folder = _cache_dir()
    index = folder / "index.json"
    if index.exists():
        return json.loads(index.read_text())
    covered = set(suite_covered())
    by_op = _candidates()
    cases = []
    for key in sorted(registered() - covered):
        if key in covered:
            continue
        domain, op, since = key
        for candidate in by_op.get((domain, op), [])[:CANDIDATES_PER_VERSION]:
            found = None
            for how, older, feed_of in _older_variants(candidate, domain, since):
                if key not in selected_kernels(older):
                    continue
                for oracle in ("onnxruntime", "reference"):
                    feed = feed_of()
                    outputs = _run(oracle, older, copy.deepcopy(feed))
                    if outputs is not None and _trusted(oracle, candidate):
                        found = (how, older, oracle, feed, outputs)
                        break
                if found:
                    break
            if found is None:
                continue
            how, older, oracle, feed, outputs = found
            case_name = f"{key_text(key)}--{candidate['name']}--{how}"
            folder.mkdir(parents=True, exist_ok=True)
            onnx.save(older, str(folder / f"{case_name}.onnx"))
            with open(folder / f"{case_name}.pkl", "wb") as f:
                pickle.dump({"feed": feed, "outputs": list(outputs)}, f)
            cases.append(
                {
                    "name": case_name,
                    "oracle": oracle,
                    "outputs": len(outputs),
                    "selects": sorted(selected_kernels(older)),
                }
            )
            covered |= selected_kernels(older)
            break
    folder.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps(cases, indent=1))
    return cases


def _case_ids():
    return [c["name"] for c in version_cases()]


@pytest.mark.parametrize("case", version_cases(), ids=_case_ids())
def test_older_version_matches_oracle(case):
    folder = _cache_dir()
    with open(folder / f"{case['name']}.pkl", "rb") as f:
        data = pickle.load(f)  # written by version_cases from the oracle's run
    actual = sc.InferenceSession(str(folder / f"{case['name']}.onnx")).run(None, data["feed"])
    assert len(actual) == case["outputs"]
    for i, (e, a) in enumerate(zip(data["outputs"], actual)):
        assert_values_close(e, a, RTOL, ATOL, f"{case['name']} ({case['oracle']}): output {i}")


# ---------------------------------------------------------------- the manifest


def read_manifest() -> dict[str, str]:
    out = {}
    for lineno, raw in enumerate(MANIFEST.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry, sep, reason = line.partition("#")
        assert sep and reason.strip(), f"{MANIFEST.name}:{lineno}: every entry needs '# reason'"
        out[entry.strip()] = reason.strip()
    return out


def test_every_kernel_version_is_covered():
    covered = set(suite_covered())
    for case in version_cases():
        covered |= {tuple(k) for k in case["selects"]}
    listed = read_manifest()
    missing = sorted(key_text(k) for k in registered() - covered if key_text(k) not in listed)
    stale = sorted(k for k in listed if k in {key_text(c) for c in covered})
    unknown = sorted(k for k in listed if k not in {key_text(r) for r in registered()})
    assert not missing, f"{len(missing)} kernel version(s) run by no test and not listed in {MANIFEST.name}: {missing}"
    assert not stale, f"listed in {MANIFEST.name} but covered (remove them): {stale}"
    assert not unknown, f"listed in {MANIFEST.name} but not registered: {unknown}"
