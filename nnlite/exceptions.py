"""Warnings and errors nnlite raises."""

try:  # Share scikit-learn's class so existing warning filters apply.
    from sklearn.exceptions import ConvergenceWarning as _Base
except ImportError:  # pragma: no cover - scikit-learn is a dependency
    _Base = UserWarning


class ConvergenceWarning(_Base):
    """The optimiser stopped for a reason other than convergence or its iteration limit."""


class ModelFileError(ValueError):
    """A model file is missing, damaged, inconsistent, or from an incompatible version."""
