#!/usr/bin/env python3
"""Writes every ONNX backend test case (model + test data) of the installed onnx into
tests/.cache/backend-data/<onnx version>/<kind>/<case>/ so that tools that cannot import
onnx (the Swift conformance runner) can read them. onnx >= 1.23 builds the `node` cases
in memory; the other kinds ship as files and are copied."""

import os
import shutil

import numpy as np
import onnx
import onnx.backend.test.case.node as node_cases
from onnx import numpy_helper

root = os.path.join(os.path.dirname(__file__), "..", "tests", ".cache", "backend-data", onnx.__version__)


def write_value(path, value, info):
    """Serializes `value` as the proto its graph input/output type calls for."""
    t = info.type
    if t.HasField("map_type"):
        proto = numpy_helper.from_dict(value, info.name)
    elif t.HasField("sequence_type"):
        proto = numpy_helper.from_list(value, info.name)
    elif t.HasField("optional_type"):
        proto = numpy_helper.from_optional(value, info.name)
    elif isinstance(value, onnx.TensorProto):
        proto = value
    else:
        proto = numpy_helper.from_array(np.asarray(value), info.name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def main():
    n = 0
    for case in node_cases.collect_testcases(None):
        d = os.path.join(root, "node", case.name)
        if os.path.exists(os.path.join(d, "model.onnx")):
            n += 1
            continue
        os.makedirs(d, exist_ok=True)
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(d, f"test_data_set_{i}")
            os.makedirs(ds, exist_ok=True)
            for k, v in enumerate(inputs):
                write_value(os.path.join(ds, f"input_{k}.pb"), v, case.model.graph.input[k])
            for k, v in enumerate(outputs):
                write_value(os.path.join(ds, f"output_{k}.pb"), v, case.model.graph.output[k])
        onnx.save(case.model, os.path.join(d, "model.onnx"))
        n += 1
    data = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    for kind in ("simple", "pytorch-converted", "pytorch-operator"):
        for name in sorted(os.listdir(os.path.join(data, kind))):
            dst = os.path.join(root, kind, name)
            if not os.path.exists(dst):
                shutil.copytree(os.path.join(data, kind, name), dst)
            n += 1
    print(f"{n} cases in {os.path.abspath(root)}")


if __name__ == "__main__":
    main()
