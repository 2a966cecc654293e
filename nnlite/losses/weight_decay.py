"""Weight decay (L2 penalty) over every parameter tagged ``'regularizable'``."""

from ..validation import check_non_negative
from .base import Regularizer


class WeightDecay(Regularizer):
    """``(lambda_ / 2) * sum ||W||_F^2`` over the regularizable parameters.

    Parameters
    ----------
    lambda_ : float >= 0
    tag : str, default='regularizable'
        Parameters carrying this tag are decayed (the weight matrices of
        :class:`~nnlite.layers.Dense`; biases are not).

    Notes
    -----
    Gradient: ``lambda_ * W``.  With SPEC's layout all weight matrices form one
    contiguous span of ``theta``, so this is one dot product and one axpy.
    """

    acts_on_parameters = True

    def __init__(self, lambda_=1e-4, tag="regularizable"):
        self.lambda_ = check_non_negative(lambda_, "lambda_")
        self.tag = tag

    def __repr__(self):
        return f"WeightDecay(lambda_={self.lambda_!r})"

    def parameter_penalty(self, backend, table, theta, grad):
        """Add ``lambda_ * W`` into ``grad`` and return ``lambda_/2 * ||W||^2``."""
        if self.lambda_ == 0.0:
            return 0.0
        penalty = 0.0
        for start, stop in table.spans(self.tag):
            weights = backend.view(theta, start, (stop - start,))
            penalty = penalty + backend.sum_squares(weights)
            backend.axpy_(self.lambda_, weights, backend.view(grad, start, (stop - start,)))
        return 0.5 * self.lambda_ * penalty
