"""Every converter module, imported for its @converter registrations (one line per family)."""

# ruff: noqa: I001
from . import dummy, pipeline  # noqa: F401
from . import trees  # noqa: F401
