"""Every converter module, imported for its @converter registrations (one line per family)."""

from . import linear  # noqa: F401
