"""ONNX inference with onnxruntime's Python API (API.md section 2).

Code written for ``onnxruntime.InferenceSession`` runs unchanged: the same constructor,
``get_inputs()/get_outputs()`` NodeArgs, ``run(output_names, input_feed)`` and options.
There is one provider, ``CPUExecutionProvider``. Like onnxruntime when a requested
provider is not available, any other provider name gives a ``UserWarning`` and is
ignored (the session runs on the CPU), so scripts that ask for CUDA keep working.

Inputs are read in place when they are C-contiguous numpy arrays of the declared dtype;
anything else is converted once with ``numpy.asarray`` (a Python list becomes float64 or
int64, exactly as in numpy), and a dtype that differs from the model's is an error
(``InvalidArgument``), never a silent cast, as in onnxruntime. Outputs are numpy arrays
over engine memory: writable when the engine allocated them for this run, read-only when
they share memory with an input or a weight (e.g. the output of Identity).
"""

import enum
import json
import warnings
from collections import namedtuple

import numpy as np

from . import _core
from ._dtypes import array_to_tensor, tensor_to_numpy
from .errors import InvalidArgument, SwiftconvIOError
from .model import load

__all__ = [
    "InferenceSession",
    "SessionOptions",
    "RunOptions",
    "GraphOptimizationLevel",
    "ExecutionMode",
    "ExecutionOrder",
    "NodeArg",
    "ModelMetadata",
    "get_available_providers",
    "get_all_providers",
    "get_device",
    "get_registered_kernels",
    "KernelDef",
]

_CPU = "CPUExecutionProvider"


def get_available_providers():
    """Execution providers this build can use: ``['CPUExecutionProvider']``."""
    return [_CPU]


def get_all_providers():
    """Every provider name swiftconv knows (the same single one)."""
    return [_CPU]


def get_device():
    """'CPU', as onnxruntime's CPU package reports."""
    return "CPU"


KernelDef = namedtuple("KernelDef", ["domain", "op_type", "since_version"])
KernelDef.__doc__ = """One registered kernel: ``domain`` ('' for ai.onnx), ``op_type`` and ``since_version``."""


def get_registered_kernels():
    """Every kernel of the engine, as a list of ``KernelDef(domain, op_type, since_version)``.

    One entry per registered since-version, sorted by domain, op type and version; the
    default domain is ``''`` (as ``onnx.defs`` and onnxruntime write it). A node runs when
    its (domain, op_type) has an entry whose ``since_version`` is not above the model's
    opset for that domain; the newest such entry is used. The engine's counterpart of
    ``onnxruntime.get_all_operator_schema`` (which lists schemas, not kernels)::

        >>> ("", "Conv", 11) in swiftconv.get_registered_kernels()
        True
    """
    entries = json.loads(_core.registered_kernels_json())["kernels"]
    return [KernelDef(e["domain"], e["op_type"], e["since_version"]) for e in entries]


class GraphOptimizationLevel(enum.IntEnum):
    """How much the session may rewrite the graph (onnxruntime's values)."""

    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    """Accepted for compatibility; nodes always run in order, each node using intra-op threads."""

    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class ExecutionOrder(enum.IntEnum):
    """Accepted for compatibility; swiftconv keeps the model's topological order."""

    DEFAULT = 0
    PRIORITY_BASED = 1
    MEMORY_EFFICIENT = 2


def _non_negative_int(value, what, owner="SessionOptions"):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"[{owner}] {what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise InvalidArgument(f"[{owner}] {what} must be >= 0, not {value}")
    if value >= 1 << 63:
        raise InvalidArgument(f"[{owner}] {what} must be below 2**63, not {value}")
    return int(value)


def _non_negative_int_option(name):
    """A SessionOptions property holding an int >= 0, checked when set."""

    def get(self):
        return getattr(self, "_" + name)

    def set(self, value):
        setattr(self, "_" + name, _non_negative_int(value, name))

    return property(get, set)


class SessionOptions:
    """onnxruntime's SessionOptions. ``intra_op_num_threads`` (0 = all cores),
    ``graph_optimization_level``, ``enable_profiling`` and ``profile_file_prefix`` are used;
    the rest is accepted and kept so that existing code runs, but has no effect (logging,
    memory arenas, inter-op threads).

    swiftconv adds two memory limits, checked before every tensor is allocated (at session
    creation and in every run); past one, the call raises ``ResourceExhausted`` naming the
    node instead of the process running out of memory. ``max_tensor_bytes``: the largest
    single tensor; ``max_run_bytes``: what a run's tensors may hold at once. 0 (the
    default) means half of the machine's physical memory and all of it, respectively."""

    def __init__(self):
        self._intra_op_num_threads = 0
        self._max_tensor_bytes = 0
        self._max_run_bytes = 0
        self._graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.inter_op_num_threads = 0
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.execution_order = ExecutionOrder.DEFAULT
        self.enable_profiling = False
        self.profile_file_prefix = "onnxruntime_profile_"
        self.enable_cpu_mem_arena = True
        self.enable_mem_pattern = True
        self.enable_mem_reuse = True
        self.use_deterministic_compute = False
        self.use_per_session_threads = True
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.optimized_model_filepath = ""
        self._config = {}

    intra_op_num_threads = _non_negative_int_option("intra_op_num_threads")
    max_tensor_bytes = _non_negative_int_option("max_tensor_bytes")
    max_run_bytes = _non_negative_int_option("max_run_bytes")

    @property
    def graph_optimization_level(self):
        return self._graph_optimization_level

    @graph_optimization_level.setter
    def graph_optimization_level(self, value):
        try:
            self._graph_optimization_level = GraphOptimizationLevel(int(value))
        except (TypeError, ValueError):
            raise InvalidArgument(
                f"[SessionOptions] graph_optimization_level must be a GraphOptimizationLevel, not {value!r}"
            ) from None

    def add_session_config_entry(self, key, value):
        self._config[str(key)] = str(value)

    def get_session_config_entry(self, key):
        if key not in self._config:
            raise InvalidArgument(f"[SessionOptions] no session config entry named {key!r}")
        return self._config[key]

    def add_free_dimension_override_by_name(self, name, value):
        raise NotImplementedError("[SessionOptions] free dimension overrides are not supported by swiftconv")

    def register_custom_ops_library(self, path):
        raise NotImplementedError("[SessionOptions] custom op libraries are not supported by swiftconv")

    def __repr__(self):
        return (
            f"<swiftconv.SessionOptions intra_op_num_threads={self.intra_op_num_threads} "
            f"graph_optimization_level={self.graph_optimization_level.name}>"
        )


class RunOptions:
    """onnxruntime's RunOptions. ``terminate = True``, set from any thread, stops a run
    that uses these options within about a second (before its next node, Loop or Scan
    iteration) with ``RunTerminated``; a run started while it is set fails at once, as in
    onnxruntime. ``max_run_bytes`` (0: the session's) lowers the run's memory limit. The
    logging fields are accepted and unused."""

    def __init__(self):
        self._handle = _core.RunOptions()
        self._max_run_bytes = 0
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.only_execute_path_to_fetches = False
        self._config = {}

    @property
    def terminate(self):
        return self._handle.terminate

    @terminate.setter
    def terminate(self, value):
        self._handle.terminate = bool(value)

    @property
    def max_run_bytes(self):
        return self._max_run_bytes

    @max_run_bytes.setter
    def max_run_bytes(self, value):
        value = _non_negative_int(value, "max_run_bytes", "RunOptions")
        self._handle.set_max_run_bytes(value)
        self._max_run_bytes = value

    def add_run_config_entry(self, key, value):
        self._config[str(key)] = str(value)

    def get_run_config_entry(self, key):
        return self._config[key]


class NodeArg:
    """A model input or output as onnxruntime describes it: ``name``, ``type`` such as
    ``'tensor(float)'`` or ``'seq(tensor(int64))'``, and ``shape``, a list of int (static),
    str (symbolic) or None (unknown) entries; ``[]`` for scalars, non-tensors and
    tensors of unknown rank (as onnxruntime)."""

    __slots__ = ("name", "type", "shape", "_dtype")

    def __init__(self, name, type, shape, dtype=None):
        self.name = name
        self.type = type
        self.shape = shape
        self._dtype = dtype

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"

    def __eq__(self, other):
        if not isinstance(other, NodeArg):
            return NotImplemented
        return (self.name, self.type, self.shape) == (other.name, other.type, other.shape)

    __hash__ = None


def _node_args(entries):
    return [NodeArg(e["name"], e["type"], list(e["shape"] or []), e["dtype"]) for e in entries]


class ModelMetadata:
    """onnxruntime's ModelMetadata: facts from the model file."""

    __slots__ = (
        "producer_name",
        "graph_name",
        "domain",
        "description",
        "graph_description",
        "version",
        "custom_metadata_map",
    )

    def __init__(self, facts, graph_description=""):
        self.producer_name = facts["producer_name"]
        self.graph_name = facts["graph_name"]
        self.domain = facts["domain"]
        self.description = facts["doc_string"]
        self.graph_description = graph_description
        self.version = facts["model_version"]
        self.custom_metadata_map = dict(facts["metadata"])

    def __repr__(self):
        return f"<swiftconv.ModelMetadata graph_name={self.graph_name!r} producer_name={self.producer_name!r}>"


def _provider_names(providers, provider_options):
    """Checks providers like onnxruntime; unknown ones warn and are dropped."""
    if providers is None:
        if provider_options is not None:
            raise ValueError("'provider_options' needs 'providers'")
        return [_CPU], [{}]
    if isinstance(providers, str):
        raise ValueError("'providers' must be a list of provider names or (name, options) tuples")
    providers = list(providers)
    if provider_options is not None and len(provider_options) != len(providers):
        raise ValueError("'providers' and 'provider_options' should be the same length if both are given.")
    names, options = [], []
    for i, p in enumerate(providers):
        opts = provider_options[i] if provider_options is not None else {}
        if isinstance(p, tuple):
            if len(p) != 2 or not isinstance(p[0], str) or not isinstance(p[1], dict):
                raise ValueError("a provider tuple must be (name, dict of options)")
            p, opts = p
        if not isinstance(p, str):
            raise ValueError(f"a provider must be a str or a (name, options) tuple, not {type(p).__name__}")
        if p != _CPU:
            warnings.warn(
                f"Specified provider '{p}' is not in available provider names.Available providers: '{_CPU}'",
                UserWarning,
                stacklevel=3,
            )
            continue
        if p not in names:
            names.append(p)
            options.append({str(k): str(v) for k, v in dict(opts).items()})
    if not names:
        names, options = [_CPU], [{}]
    return names, options


class InferenceSession:
    """Runs an ONNX model on the CPU with onnxruntime's API.

    ``path_or_bytes`` is a path, bytes, an ``onnx.ModelProto`` or a ``swiftconv.Model``.
    Unsupported operators raise ``UnsupportedOp`` here, naming every such node with its
    op, domain and opset version. ``run`` releases the GIL and may be called from several
    threads at once.
    """

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, **kwargs):
        if sess_options is None:
            sess_options = SessionOptions()
        elif not isinstance(sess_options, SessionOptions):
            # An onnxruntime.SessionOptions works too: read the two settings that matter.
            try:
                options = SessionOptions()
                options.intra_op_num_threads = sess_options.intra_op_num_threads
                options.graph_optimization_level = int(sess_options.graph_optimization_level)
                options.enable_profiling = bool(sess_options.enable_profiling)
                options.profile_file_prefix = str(sess_options.profile_file_prefix)
                sess_options = options
            except AttributeError:
                raise InvalidArgument(
                    f"[InferenceSession] sess_options must be a SessionOptions, not {type(sess_options).__name__}"
                ) from None
        self._providers, self._provider_options = _provider_names(providers, provider_options)
        self._sess_options = sess_options
        self._model = load(path_or_bytes)
        self._model_path = path_or_bytes if isinstance(path_or_bytes, str) else None
        self._sess = _core.Session(
            self._model._handle,
            intra_op_threads=sess_options.intra_op_num_threads,
            graph_optimization_level=int(sess_options.graph_optimization_level),
            max_tensor_bytes=getattr(sess_options, "max_tensor_bytes", 0),
            max_run_bytes=getattr(sess_options, "max_run_bytes", 0),
        )
        self._profile_prefix = str(sess_options.profile_file_prefix)
        if sess_options.enable_profiling:
            self._sess.start_profiling()
        info = json.loads(self._sess.info_json())
        self._inputs = _node_args(info["inputs"])
        self._outputs = _node_args(info["outputs"])
        self._overridable = _node_args(info["overridable_initializers"])
        # Every name that may be fed, with its ONNX type string.
        self._feed_types = {a.name: a.type for a in self._inputs + self._overridable}
        self._output_names = [a.name for a in self._outputs]

    # ------------------------------------------------------------ signature

    def get_inputs(self):
        """Inputs the caller must feed (initializers excluded), as NodeArgs."""
        return list(self._inputs)

    def get_outputs(self):
        return list(self._outputs)

    def get_overridable_initializers(self):
        """Initializers listed as graph inputs, which ``run`` may override (IR >= 4)."""
        return list(self._overridable)

    def get_modelmeta(self):
        return ModelMetadata(self._model._facts())

    def get_providers(self):
        return list(self._providers)

    def get_provider_options(self):
        return {p: dict(o) for p, o in zip(self._providers, self._provider_options)}

    def get_session_options(self):
        return self._sess_options

    def set_providers(self, providers=None, provider_options=None):
        self._providers, self._provider_options = _provider_names(providers, provider_options)

    def get_profiling_start_time_ns(self):
        """Epoch nanoseconds at which the profile starts (session creation); 0 when not profiling."""
        return self._sess.profiling_start_ns()

    def end_profiling(self):
        """Stops profiling and writes the profile (onnxruntime's JSON trace format) to
        ``<profile_file_prefix>_<date>_<time>.json``; returns that file name, or '' when the
        session was not profiling (``enable_profiling`` off, or already ended)."""
        data = self._sess.end_profiling()
        if data is None:
            return ""
        import datetime  # only here: import swiftconv stays cheap

        now = datetime.datetime.now()
        path = f"{self._profile_prefix}_{now:%Y-%m-%d_%H-%M-%S}_{now.microsecond // 1000:03d}.json"
        try:
            with open(path, "wb") as f:
                f.write(data)
        except OSError as e:
            raise SwiftconvIOError(f"[end_profiling] cannot write the profile to {path!r}: {e}") from None
        return path

    # ------------------------------------------------------------------ run

    def run(self, output_names, input_feed, run_options=None):
        """Runs the model: ``output_names`` None (or empty) means every output; returns
        a list of numpy arrays (lists for sequences, dicts for maps, None for empty
        optionals) in the order asked."""
        if not isinstance(input_feed, dict):
            raise InvalidArgument(f"[run] input_feed must be a dict of name -> array, not {type(input_feed).__name__}")
        if output_names is not None and not isinstance(output_names, (list, tuple)):
            raise InvalidArgument(
                f"[run] output_names must be a list of str or None, not {type(output_names).__name__}"
            )
        names = list(output_names) if output_names else self._output_names
        missing = [a.name for a in self._inputs if a.name not in input_feed]
        if missing:
            raise InvalidArgument(f"Required inputs ({missing}) are missing from input feed ({list(input_feed)}).")
        feed_names, feed_values = [], []
        for name, value in input_feed.items():
            if not isinstance(name, str):
                raise InvalidArgument(f"[run] input names must be str, not {type(name).__name__}")
            feed_names.append(name)
            feed_values.append(_to_value(value, self._feed_types.get(name), name))
        handle = _run_options_handle(run_options)
        outputs = self._sess.run(feed_names, feed_values, names, handle)
        return [_from_value(o) for o in outputs]

    def run_with_iobinding(self, *args, **kwargs):
        raise NotImplementedError("[run_with_iobinding] not supported: run() already reads inputs in place")

    def __repr__(self):
        ins = ", ".join(a.name for a in self._inputs)
        return f"<swiftconv.InferenceSession inputs=[{ins}]>"


def _run_options_handle(run_options):
    """The _core.RunOptions behind ``run_options``; an onnxruntime RunOptions is read once."""
    if run_options is None:
        return None
    if isinstance(run_options, RunOptions):
        return run_options._handle
    if hasattr(run_options, "terminate"):
        handle = _core.RunOptions()
        handle.terminate = bool(run_options.terminate)
        return handle
    raise InvalidArgument(f"[run] run_options must be a RunOptions, not {type(run_options).__name__}")


_MAP_VALUE_DTYPES = {"float": np.float32, "double": np.float64, "int64": np.int64, "string": object}


def _to_value(value, type_string, name):
    """A Python feed as what _core.Session.run takes (Tensor, list, (keys, values) or None)."""
    kind = (type_string or "tensor").split("(", 1)[0]
    if kind == "optional":
        if value is None:
            return None
        return _to_value(value, type_string[len("optional(") : -1], name)
    if kind == "seq":
        if not isinstance(value, (list, tuple)):
            raise InvalidArgument(
                f"input '{name}' is a sequence ({type_string}); feed a list, not {type(value).__name__}"
            )
        element = type_string[len("seq(") : -1]
        return [_to_value(v, element, name) for v in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise InvalidArgument(f"input '{name}' is a map ({type_string}); feed a dict, not {type(value).__name__}")
        # Python dicts hold Python scalars: convert them to the declared types, as onnxruntime does.
        key_type, value_type = type_string[len("map(") : -1].split(",", 1)
        element = value_type[len("tensor(") : -1] if value_type.startswith("tensor(") else value_type
        keys = np.array(list(value.keys()), dtype=object if key_type == "string" else np.int64)
        values = np.array(list(value.values()), dtype=_MAP_VALUE_DTYPES.get(element))
        return (_tensor(keys, name), _tensor(values, name))
    if value is None:
        raise InvalidArgument(
            f"input '{name}' is {type_string or 'a tensor'}; None is only allowed for optional inputs"
        )
    return _tensor(value, name)


def _tensor(value, name):
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if array.dtype.kind in "OUS":
        return _string_tensor(array, name)
    try:
        return array_to_tensor(array)
    except InvalidArgument as e:
        raise InvalidArgument(f"input '{name}': {e}") from None


def _string_tensor(array, name):
    items = []
    for item in array.reshape(-1).tolist():
        if isinstance(item, str):
            items.append(item.encode("utf-8"))
        elif isinstance(item, (bytes, bytearray, memoryview)):
            items.append(bytes(item))
        else:
            raise InvalidArgument(f"input '{name}': a string tensor holds str or bytes, not {type(item).__name__}")
    return _core.tensor_from_strings(array.shape, items)


def _from_value(value):
    if isinstance(value, _core.Tensor):  # packed sub-byte type
        return tensor_to_numpy(value)
    if isinstance(value, list):
        return [_from_value(v) for v in value]
    return value
