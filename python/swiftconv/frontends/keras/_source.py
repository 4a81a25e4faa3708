"""Where a Keras model comes from: its architecture (the config, as JSON) and its weights.

Three sources give the same two things:
- a `.keras` file: a zip with `config.json` (Keras 3) and `model.weights.h5`, whose layers
  are stored under `layers/<class name in snake case>[_k]`, variables numbered under `vars/`;
- a legacy `.h5` file (tf_keras `model.save('x.h5')`, or Keras 3's legacy writer): the config
  in the root's `model_config` attribute, weights under `model_weights/<layer name>` listed by
  the group's `weight_names` attribute;
- a live `keras.Model` (Keras 3 or tf_keras): `to_json()` and each layer's own variables.

Every source answers `weights(path)` with a layer's arrays in `layer.get_weights()` order, so
layer converters never see where the weights came from. `path` is the layer's place in the
model as a tuple of `LayerRef`s (more than one for layers of nested models).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass

import numpy as np

from ...errors import ConversionError, InvalidArgument, ModelFormatError, SwiftconvIOError

# Bound on what we read from a zip member: a config or weights file past this is refused
# rather than inflated (a zip bomb must not exhaust memory).
MAX_MEMBER_BYTES = 4 << 30

# Sublayers whose variables follow the layer's own, in the order get_weights() lists them
# (Keras 3 files store them by attribute name, which sorts differently). Sublayers not named
# here follow in alphabetical order.
CHILD_ORDER = {
    "MultiHeadAttention": ("query_dense", "key_dense", "value_dense", "output_dense"),
    "Bidirectional": ("forward_layer", "backward_layer"),
}


@dataclass(frozen=True)
class LayerRef:
    """One step of a layer's path: its name and, for Keras 3 files, its storage key."""

    name: str
    key: str  # snake-case class name with a counter, as Keras 3's saving library writes it
    class_name: str


def snake_case(name: str) -> str:
    """Keras 3's `naming.to_snake_case`: 'Conv2D' -> 'conv2d', 'MultiHeadAttention' -> 'multi_head_attention'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


# Bound on the JSON nesting of a config: real ones are ~12 levels deep plus ~5 per nested model;
# a hostile one must not drive the (recursive) walker past Python's recursion limit.
MAX_CONFIG_DEPTH = 400


def load_config(raw, origin: str):
    """The parsed JSON config; ModelFormatError for bytes that are not JSON or nest too deeply."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else str(raw)
        config = json.loads(text)
    except RecursionError:
        raise ModelFormatError(f"[from_keras] {origin}: the model config nests too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ModelFormatError(f"[from_keras] {origin}: the model config is not JSON ({exc})") from None
    stack = [(config, 1)]
    while stack:  # iterative: the depth check itself must not recurse
        value, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise ModelFormatError(f"[from_keras] {origin}: the model config nests past {MAX_CONFIG_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return config


def _dataset(h5py, node, where: str) -> np.ndarray:
    """An HDF5 dataset's array; ModelFormatError when the entry is a group or unreadable."""
    if not isinstance(node, h5py.Dataset):
        raise ModelFormatError(f"[from_keras] weights entry {where} is not an array")
    try:
        array = np.asarray(node)
    except (OSError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"[from_keras] weights entry {where} cannot be read: {exc}") from None
    if array.dtype.kind not in "fiub":
        raise ModelFormatError(f"[from_keras] weights entry {where} holds {array.dtype}, not numbers")
    return array


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # the optional dependency of .keras / .h5 files
        raise InvalidArgument(
            "[from_keras] reading Keras weights files needs h5py: pip install 'swiftconv[keras]' (or h5py)"
        ) from exc
    return h5py


def _decode(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class KerasSource:
    """The config (a dict with 'class_name' and 'config') and a weights reader."""

    config: dict
    origin: str
    # 'keras3' or 'tf_keras' (Keras 2): which semantics the config's names have (a few
    # defaults differ, e.g. hard_sigmoid).
    dialect: str = "keras3"

    def weights(self, path: tuple[LayerRef, ...], class_name: str) -> list[np.ndarray]:
        raise NotImplementedError

    def close(self):
        pass


class Keras3File(KerasSource):
    """A `.keras` zip (Keras 3's native format)."""

    def __init__(self, path: str):
        self.origin = path
        try:
            archive = zipfile.ZipFile(path)
        except FileNotFoundError as exc:
            raise SwiftconvIOError(f"[from_keras] no such file: {path}") from exc
        except (zipfile.BadZipFile, OSError) as exc:
            raise ModelFormatError(f"[from_keras] {path} is not a .keras archive: {exc}") from exc
        with archive:
            self.config = load_config(_read_member(archive, "config.json", path), path)
            weights = _read_member(archive, "model.weights.h5", path, optional=True)
        self._file = None
        self._tree = None
        if weights is not None:
            try:
                self._file = _h5py().File(io.BytesIO(weights), "r")
            except (OSError, ValueError) as exc:
                raise ModelFormatError(f"[from_keras] {path}: model.weights.h5 is not HDF5: {exc}") from exc

    def weights(self, path, class_name):
        if self._file is None:
            raise ModelFormatError(f"[from_keras] {self.origin} has no model.weights.h5")
        if self._tree is None:
            self._tree = _group_tree(_h5py(), self._file)
        where = ""
        for ref in path:
            layers = _join(where, "layers")
            if layers not in self._tree or ref.key not in self._tree[layers][0]:
                return []  # a layer without variables may have no group at all
            where = _join(layers, ref.key)
        return self._flatten(where, class_name)

    def _flatten(self, where: str, class_name: str) -> list[np.ndarray]:
        """A Keras 3 layer group's arrays: its own `vars/0..n`, then its sublayers' (get_weights order)."""
        h5py = _h5py()
        groups, _ = self._tree[where]
        out = []
        if "vars" in groups:
            own = _join(where, "vars")
            own_groups, own_arrays = self._tree[own]
            for i in range(len(own_groups) + len(own_arrays)):
                if str(i) not in own_arrays and str(i) not in own_groups:
                    raise ModelFormatError(f"[from_keras] weights group /{own}/vars has no variable {i}")
                out.append(_dataset(h5py, self._file[_join(own, str(i))], f"/{own}/{i}"))
        children = [k for k in groups if k not in ("vars", "layers")]  # a nested model's layers are not its own
        first = [k for k in CHILD_ORDER.get(class_name, ()) if k in children]
        for key in first + sorted(k for k in children if k not in first):
            out.extend(self._flatten(_join(where, key), _child_class(key)))
        return out

    def close(self):
        if self._file is not None:
            self._file.close()


def _read_member(archive, name, path, optional=False):
    try:
        info = archive.getinfo(name)
    except KeyError:
        if optional:
            return None
        raise ModelFormatError(f"[from_keras] {path} has no {name}: not a Keras 3 .keras file") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise ModelFormatError(f"[from_keras] {path}: {name} declares {info.file_size} bytes, over the limit")
    with archive.open(info) as f:
        data = f.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise ModelFormatError(f"[from_keras] {path}: {name} inflates past the limit")
    return data


def _join(where: str, name: str) -> str:
    return f"{where}/{name}" if where else name


def _group_tree(h5py, root) -> dict:
    """Every group of an HDF5 file, by path ('' is the root): (its child groups, its datasets).
    One walk of the file: looking entries up one by one costs h5py about 0.1 ms each."""
    tree = {"": ([], [])}

    def visit(name, node):
        parent, _, leaf = name.rpartition("/")
        entry = tree.setdefault(parent, ([], []))
        if isinstance(node, h5py.Group):
            entry[0].append(leaf)
            tree.setdefault(name, ([], []))
        else:
            entry[1].append(leaf)

    root.visititems(visit)
    return tree


def _child_class(key: str) -> str:
    # Sublayer groups are attribute names; the ones with a fixed child order are known by them.
    return {"forward_layer": "RNN", "backward_layer": "RNN"}.get(key, key)


class LegacyH5File(KerasSource):
    """A legacy HDF5 model file (`model.save('x.h5')`)."""

    def __init__(self, path: str):
        self.origin = path
        h5py = _h5py()
        try:
            self._file = h5py.File(path, "r")
        except FileNotFoundError as exc:
            raise SwiftconvIOError(f"[from_keras] no such file: {path}") from exc
        except (OSError, ValueError) as exc:
            raise ModelFormatError(f"[from_keras] {path} is not an HDF5 file: {exc}") from exc
        try:
            raw = self._file.attrs.get("model_config")
            if raw is None:
                raise ModelFormatError(
                    f"[from_keras] {path} has no model_config: a weights-only .h5 cannot be converted without its model"
                )
            self.config = load_config(raw, path)
        except BaseException:
            self._file.close()
            raise
        version = _decode(self._file.attrs.get("keras_version", "2"))
        self.dialect = "keras3" if version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 3 else "tf_keras"
        self._weights = self._file["model_weights"] if "model_weights" in self._file else self._file

    def weights(self, path, class_name):
        h5py = _h5py()
        top = path[0].name
        if top not in self._weights:
            return []
        group = self._weights[top]
        if not isinstance(group, h5py.Group):
            raise ModelFormatError(f"[from_keras] {self.origin}: weights entry {group.name} is not a group")
        names = [_decode(n) for n in group.attrs.get("weight_names", [])]
        if len(path) > 1:
            # Inside a nested model every variable is named '<inner layer>/<variable>'.
            prefix = path[-1].name + "/"
            names = [n for n in names if n.startswith(prefix) or n.split("/", 1)[-1].startswith(prefix)]
        out = []
        for n in names:
            if n not in group:
                raise ModelFormatError(f"[from_keras] {self.origin}: weight {n} of layer {top} is missing")
            out.append(_dataset(h5py, group[n], f"{top}/{n}"))
        return out

    def close(self):
        self._file.close()


class LiveModel(KerasSource):
    """A `keras.Model` object (Keras 3 or tf_keras)."""

    def __init__(self, model):
        self.origin = f"{type(model).__module__}.{type(model).__name__} '{getattr(model, 'name', '?')}'"
        self._model = model
        package = sys.modules.get(type(model).__module__.split(".")[0])
        version = str(getattr(package, "__version__", "3"))
        major = version.split(".")[0]
        self.dialect = "keras3" if not major.isdigit() or int(major) >= 3 else "tf_keras"
        try:
            self.config = load_config(model.to_json(), self.origin)
        except NotImplementedError as exc:
            raise ConversionError(
                f"[from_keras] {self.origin} is a subclassed model without get_config(): Keras cannot give its "
                "functional graph; build it with the functional API or keras.Sequential"
            ) from exc
        except (TypeError, ValueError) as exc:
            raise ConversionError(f"[from_keras] {self.origin}: Keras cannot serialize its config ({exc})") from exc

    def weights(self, path, class_name):
        layer = self._model
        for ref in path:
            layer = layer.get_layer(ref.name)
        # get_weights() copies; the variables' own buffers are read where NumPy can share them.
        return [_as_array(w) for w in layer.weights]


def _as_array(variable) -> np.ndarray:
    # A CPU tensor's numpy() shares its buffer (TensorFlow eager, torch, jax on CPU).
    numpy = getattr(variable, "numpy", None)
    return np.asarray(numpy() if callable(numpy) else variable)


def open_source(model_or_path) -> KerasSource:
    """The source for a path (.keras zip, legacy .h5) or a live Keras model."""
    if isinstance(model_or_path, (str, os.PathLike)):
        path = os.fspath(model_or_path)
        if not os.path.exists(path):
            raise SwiftconvIOError(f"[from_keras] no such file: {path}")
        with open(path, "rb") as f:
            magic = f.read(8)
        if magic.startswith(b"PK"):
            return Keras3File(path)
        if magic == b"\x89HDF\r\n\x1a\n":
            return LegacyH5File(path)
        raise ModelFormatError(f"[from_keras] {path} is neither a .keras zip nor an HDF5 .h5 file")
    module = type(model_or_path).__module__
    if hasattr(model_or_path, "to_json") and hasattr(model_or_path, "get_layer"):
        return LiveModel(model_or_path)
    raise InvalidArgument(
        f"[from_keras] expected a keras.Model or a path to a .keras/.h5 file, got {module}.{type(model_or_path).__name__}"
    )
