"""Every converter module, imported for its @converter registrations (one line per family)."""
from . import trees  # noqa: F401
