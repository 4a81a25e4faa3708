"""The graph a front end builds: nodes, constants, inputs and outputs, with fresh names.

A front end asks for names (`unique`), adds constants (`constant`, shared zero-copy with the
library), nodes (`node`) and the interface (`input`, `output`), and gets an sc.Model from
`model()`, validated by the library's checker. Opset versions are collected per domain.
"""

from __future__ import annotations

import numpy as np

from .. import helper
from ..errors import InvalidArgument


class GraphBuilder:
    """One ONNX graph under construction; see the module docstring."""

    def __init__(self, name: str, opsets: dict[str, int]):
        self.name = name
        self.opsets = dict(opsets)
        self._nodes: list = []
        self._inputs: list = []
        self._outputs: list = []
        self._initializers: dict[str, np.ndarray] = {}
        self._names: set[str] = set()
        self._counter = 0

    def unique(self, hint: str) -> str:
        """A value or node name not used yet, `hint` itself when free."""
        hint = hint or "v"
        name = hint
        while name in self._names:
            self._counter += 1
            name = f"{hint}_{self._counter}"
        self._names.add(name)
        return name

    def reserve(self, name: str) -> str:
        """Claims `name` exactly (an interface name); an error if it is taken."""
        if name in self._names:
            raise InvalidArgument(f"[front end] the name '{name}' is used twice")
        self._names.add(name)
        return name

    def constant(self, value, hint: str = "const", dtype=None) -> str:
        """An initializer holding `value` (an array or a Python scalar/list); returns its name."""
        array = np.asarray(value, dtype=dtype)
        if array.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
            array = array.astype(np.float32)
        if array.dtype.kind == "U" or array.dtype.kind == "O":
            array = np.asarray([str(v) for v in array.ravel()], dtype=object).reshape(array.shape)
        name = self.unique(hint)
        if array.dtype != object and not array.flags.c_contiguous:
            array = array.copy(order="C")  # (np.ascontiguousarray would make a 0-d scalar 1-d)
        self._initializers[name] = array
        return name

    def node(self, op_type: str, inputs, outputs=1, *, domain: str = "", name: str | None = None, **attrs):
        """Adds a node; `outputs` is a count (fresh names from the op type) or a list of names.
        Returns the output name when there is one output, else the list."""
        if isinstance(outputs, int):
            outputs = [self.unique(f"{op_type.lower()}_out") for _ in range(outputs)]
        else:
            outputs = list(outputs)
        if domain not in self.opsets:
            raise InvalidArgument(f"[front end] domain '{domain}' has no opset version (op {op_type})")
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self._nodes.append(
            helper.make_node(op_type, list(inputs), outputs, name=name or self.unique(op_type), domain=domain, **attrs)
        )
        return outputs[0] if len(outputs) == 1 else outputs

    def input(self, name: str, dtype, shape) -> str:
        """Declares a graph input with exactly this name."""
        self.reserve(name)
        self._inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, value: str, name: str, dtype, shape) -> str:
        """Declares `value` as the graph output `name` (an Identity renames it when they differ)."""
        if value != name:
            self.reserve(name)
            self._nodes.append(helper.make_node("Identity", [value], [name], name=self.unique(f"{name}_identity")))
        self._outputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def typed_output(self, value: str, name: str, type_string: str) -> str:
        """Declares `value` as the graph output `name` of a non-tensor type in ONNX Runtime's
        spelling, e.g. 'seq(map(int64,tensor(float)))' (ZipMap's output)."""
        if value != name:
            self.reserve(name)
            self._nodes.append(helper.make_node("Identity", [value], [name], name=self.unique(f"{name}_identity")))
        self._outputs.append(helper.make_typed_value_info(name, type_string))
        return name

    def model(self, producer_name: str = "swiftconv"):
        """The finished graph as a validated sc.Model."""
        graph = helper.make_graph(self._nodes, self.name, self._inputs, self._outputs, initializer=self._initializers)
        return helper.make_model(graph, opset_imports=self.opsets, producer_name=producer_name)
