# ruff: noqa: I001
"""The layer-family modules, imported for their @layer registrations (one line per family)."""

from . import activations, core  # noqa: F401
from . import attention  # noqa: F401
from . import convolution, pooling, reshaping  # noqa: F401
from . import embedding, recurrent  # noqa: F401
from . import ops, normalization, merging, preprocessing  # noqa: F401
