# ruff: noqa: I001
"""The layer-family modules, imported for their @layer registrations (one line per family)."""

from . import activations, core  # noqa: F401
from . import ops  # noqa: F401
from . import normalization  # noqa: F401
from . import merging  # noqa: F401
from . import preprocessing  # noqa: F401
