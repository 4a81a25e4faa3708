"""Every converter module, imported for its @converter registrations (one line per family)."""

# ruff: noqa: I001 -- one import line per family
from . import decomposition  # noqa: F401
from . import dummy, pipeline  # noqa: F401
from . import linear  # noqa: F401
from . import mlp, naive_bayes, neighbors, svm  # noqa: F401
from . import preprocessing  # noqa: F401
from . import trees  # noqa: F401
