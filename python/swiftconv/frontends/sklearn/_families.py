"""Every converter module, imported for its @converter registrations (one line per family)."""

from . import mlp, naive_bayes, neighbors, svm  # noqa: F401
