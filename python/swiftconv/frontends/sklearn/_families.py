"""Every converter module, imported for its @converter registrations (one line per family)."""

from . import dummy, pipeline  # noqa: F401
