"""Warnings and errors nnlite raises."""

try:  # Share scikit-learn's class so existing warning filters apply.
    from sklearn.exceptions import ConvergenceWarning as _Base
except ImportError:  # pragma: no cover - scikit-learn is a dependency
    _Base = UserWarning


class ConvergenceWarning(_Base):
    """The optimiser stopped for a reason other than convergence or its iteration limit."""


class ModelFileError(ValueError):
    """A model file is missing, damaged, inconsistent, or from an incompatible version."""


class DataRangeWarning(UserWarning):
    """Training data far outside the range the decoder can produce (e.g. 0..255 pixels for a sigmoid).

    The fit still runs, to a cost that measures the mismatch rather than
    the features: normalise the data to [0, 1] (``nnlite.preprocessing``,
    ``PatchModel``'s ``normalization='spec'``) or use a linear decoder
    (``output_activation='identity'``).
    """
