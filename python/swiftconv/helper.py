"""Building models in Python without ONNX bytes, in the style of ``onnx.helper``.

    from swiftconv import helper
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", np.float32, ["batch", 4])],
                              [helper.make_tensor_value_info("y", np.float32, ["batch", 3])],
                              initializer={"w": weights})
    model = helper.make_model(graph)          # an sc.Model, validated

The graph is handed to the library's graph builder (``sc_graph_builder_*`` in the C API);
NumPy initializers and tensor attributes are shared, not copied: the model keeps the
array alive and sees later writes to it.
"""

import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._dtypes import array_to_tensor, code_of
from .errors import InvalidArgument
from .model import Model

__all__ = [
    "Graph",
    "Node",
    "ValueInfo",
    "make_graph",
    "make_model",
    "make_node",
    "make_tensor_value_info",
    "make_typed_value_info",
]

_INPUT, _OUTPUT, _VALUE_INFO = 0, 1, 2


@dataclass
class Node:
    """A node as make_node describes it; attrs maps names to Python values."""

    op_type: str
    inputs: list
    outputs: list
    name: str = ""
    domain: str = ""
    attrs: dict = field(default_factory=dict)


@dataclass
class ValueInfo:
    """A typed value: dtype is an ONNX element type code; shape a list (int, str, None) or None."""

    name: str
    dtype: int
    shape: list = None
    # A non-tensor type in ONNX Runtime's spelling ('seq(map(int64,tensor(float)))'); then
    # dtype and shape are not used.
    type: str | None = None


@dataclass
class Graph:
    """A graph as make_graph describes it; initializers maps names to numpy arrays."""

    nodes: list
    name: str
    inputs: list
    outputs: list
    initializers: dict = field(default_factory=dict)
    value_info: list = field(default_factory=list)


def _names(values, what):
    names = [values] if isinstance(values, str) else list(values)
    for n in names:
        if not isinstance(n, str):
            raise InvalidArgument(f"[make_node] {what} must be names (str), not {type(n).__name__}")
    return names


def make_node(op_type, inputs, outputs, name=None, domain=None, **attrs):
    """A node; attributes are keyword arguments (int, float, str/bytes, lists of those,
    numpy arrays for tensors, a Graph for subgraphs). None-valued attributes are left out."""
    if not isinstance(op_type, str) or not op_type:
        raise InvalidArgument("[make_node] op_type must be a non-empty str")
    return Node(
        op_type,
        _names(inputs, "inputs"),
        _names(outputs, "outputs"),
        name or "",
        domain or "",
        {k: v for k, v in attrs.items() if v is not None},
    )


def _dtype_code(dtype, name):
    """The ONNX element type code of a numpy dtype, a dtype name, or an int (TensorProto code)."""
    if isinstance(dtype, numbers.Integral) and not isinstance(dtype, bool):
        return int(dtype)  # the library rejects codes it does not know
    try:
        code = None if dtype is None else code_of(dtype)  # np.dtype(None) would be float64
    except TypeError:
        code = None
    if code is None:
        raise InvalidArgument(f"[make_tensor_value_info] value '{name}': dtype {dtype!r} has no swiftconv element type")
    return code


def make_tensor_value_info(name, dtype, shape):
    """A tensor value: dtype a numpy dtype, a name ('float32') or an onnx TensorProto code;
    shape None (unknown rank) or a list of int, str (symbolic) and None (unknown)."""
    if not isinstance(name, str) or not name:
        raise InvalidArgument("[make_tensor_value_info] name must be a non-empty str")
    if shape is not None:
        shape = list(shape)
        for d in shape:
            if d is not None and not isinstance(d, (str, numbers.Integral)):
                raise InvalidArgument(
                    f"[make_tensor_value_info] value '{name}': dimension {d!r} is not int, str or None"
                )
    return ValueInfo(name, _dtype_code(dtype, name), shape)


def make_typed_value_info(name, type_string):
    """A value of any ONNX type spelled as ONNX Runtime prints it: 'seq(map(int64,tensor(float)))',
    'map(string,tensor(double))', 'seq(tensor(int64))', 'optional(tensor(float))'. Tensors inside
    have an unknown shape; use make_tensor_value_info for a shaped tensor."""
    if not isinstance(name, str) or not name:
        raise InvalidArgument("[make_typed_value_info] name must be a non-empty str")
    if not isinstance(type_string, str) or not type_string:
        raise InvalidArgument(f"[make_typed_value_info] value '{name}': the type must be a non-empty str")
    return ValueInfo(name, 0, None, type_string)


def make_graph(nodes, name, inputs, outputs, initializer=None, value_info=None):
    """A graph; initializer is a dict name -> ndarray, or a list of (name, ndarray) pairs."""
    if initializer is None:
        initializer = {}
    pairs = initializer.items() if isinstance(initializer, dict) else initializer
    arrays = {}
    for key, array in pairs:
        if not isinstance(key, str) or not key:
            raise InvalidArgument("[make_graph] initializer names must be non-empty str")
        if not isinstance(array, np.ndarray):
            raise InvalidArgument(
                f"[make_graph] initializer '{key}' must be a numpy.ndarray, not {type(array).__name__}"
            )
        arrays[key] = array
    for what, items, kind in (
        ("nodes", nodes, Node),
        ("inputs", inputs, ValueInfo),
        ("outputs", outputs, ValueInfo),
        ("value_info", value_info or [], ValueInfo),
    ):
        for item in items:
            if not isinstance(item, kind):
                raise InvalidArgument(
                    f"[make_graph] {what} must hold {kind.__name__} objects, not {type(item).__name__}"
                )
    return Graph(list(nodes), name, list(inputs), list(outputs), arrays, list(value_info or []))


def _attribute(name, value):
    """(kind, value as _core.GraphBuilder.set_attribute takes it) for a Python attribute value."""
    if isinstance(value, Graph):
        return "graph", _builder(value, opsets=())
    if isinstance(value, np.ndarray):
        return "tensor", array_to_tensor(value)
    if isinstance(value, (bool, numbers.Integral)):
        return "int", int(value)
    if isinstance(value, numbers.Real):
        return "float", float(value)
    if isinstance(value, str):
        return "string", value.encode("utf-8")
    if isinstance(value, bytes):
        return "string", value
    if isinstance(value, (list, tuple)):
        items = list(value)
        if not items:
            raise InvalidArgument(f"[make_node] attribute '{name}': an empty list has no kind")
        # Plain Python numbers first, checked in C: a tree ensemble has lists of 10^5 entries.
        kinds = set(map(type, items))
        if kinds <= {int}:
            return "ints", items
        if kinds <= {float}:
            return "floats", items
        if kinds <= {str}:
            return "strings", [v.encode("utf-8") for v in items]
        if all(isinstance(v, (bool, numbers.Integral)) for v in items):
            return "ints", [int(v) for v in items]
        if all(isinstance(v, numbers.Real) for v in items):
            return "floats", [float(v) for v in items]
        if all(isinstance(v, (str, bytes)) for v in items):
            return "strings", [v.encode("utf-8") if isinstance(v, str) else v for v in items]
    raise InvalidArgument(f"[make_node] attribute '{name}': unsupported value of type {type(value).__name__}")


def _builder(graph, opsets, ir_version=0, producer_name=""):
    """A _core.GraphBuilder holding `graph` (subgraphs get builders of their own)."""
    b = _core.GraphBuilder(graph.name, ir_version, producer_name, opsets)
    for role, values in ((_INPUT, graph.inputs), (_OUTPUT, graph.outputs), (_VALUE_INFO, graph.value_info)):
        for v in values:
            if v.type is not None:
                b.add_typed_value(role, v.name, v.type)
            else:
                b.add_value(role, v.name, v.dtype, v.shape)
    for key, array in graph.initializers.items():
        b.add_initializer(key, array_to_tensor(array))
    for node in graph.nodes:
        index = b.add_node(node.op_type, node.domain, node.name, node.inputs, node.outputs)
        for key, value in node.attrs.items():
            kind, converted = _attribute(key, value)
            b.set_attribute(index, key, kind, converted)
    return b


def make_model(graph, opset_imports=None, ir_version=None, producer_name="swiftconv"):
    """A validated sc.Model of `graph`.

    opset_imports: {domain: version} ({'': 17} by default), (domain, version) pairs, or
    onnx.helper.make_opsetid results. ir_version None takes the one onnx pairs with the
    default-domain opset. A graph that breaks the rules raises ValidationError naming the node.
    """
    if not isinstance(graph, Graph):
        raise InvalidArgument(f"[make_model] expected a helper.Graph, not {type(graph).__name__}")
    if opset_imports is None:
        opset_imports = {"": 17}
    if isinstance(opset_imports, dict):
        opsets = list(opset_imports.items())
    else:  # (domain, version) pairs, or onnx OperatorSetIdProto objects
        opsets = [(o.domain, o.version) if hasattr(o, "version") else tuple(o) for o in opset_imports]
    return Model(_builder(graph, opsets, ir_version or 0, producer_name or "").finish())
