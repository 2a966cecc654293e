"""KL sparsity: keep each hidden unit's mean activation near a small target.

For sigmoid units (outputs in (0, 1)) the penalty is the KL divergence of two
Bernoulli distributions, as in SPEC::

    beta * sum_j KL(rho || rho_hat_j),
    KL = rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat))

whose derivative adds ``beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))``
to every sample's hidden delta (before ``f'``), divided by ``m`` with the
rest of the gradient.

**Keeping the logarithm finite.**  ``rho_hat`` is clipped into
``[eps, 1 - eps]`` before the logarithms and reciprocals (``eps = 1e-12`` in
float64, ``1e-6`` in float32).  A sigmoid unit's mean can only reach the
clip when every sample saturates it, which L-BFGS never does from SPEC's
initialisation; the clip only prevents ``log(0)`` and division by zero.

**ReLU units.**  A ReLU's mean activation lies in ``[0, inf)``, so the
Bernoulli KL is undefined above 1.  For such units nnlite uses the
generalised KL divergence between non-negative measures (the Poisson KL)::

    KL_+(rho || rho_hat) = rho log(rho / rho_hat) - rho + rho_hat,

which is >= 0, is 0 exactly at ``rho_hat = rho``, is defined for every
``rho_hat > 0``, and agrees with the Bernoulli KL to first order for small
``rho`` and ``rho_hat``.  Its derivative is ``1 - rho / rho_hat``.  A dead unit
(``rho_hat = 0``) is clipped to ``eps``; its delta is multiplied by
``f' = 0`` for every sample, so the clip never moves any weight.
Activations that can be negative (identity) have no sparsity penalty:
asking for one raises ``ValueError``.
"""

import numpy as np

from ..validation import check_non_negative, check_open_unit_interval
from .base import Regularizer

#: Clipping margin for rho_hat by dtype.
CLIP_EPS = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-6}


class KLSparsity(Regularizer):
    """KL sparsity penalty on hidden activations.

    Parameters
    ----------
    sparsity_param : float in (0, 1)
        ``rho``, the target mean activation.
    beta : float >= 0
        Weight of the penalty.
    """

    acts_on_activations = True
    uses_column_means = True

    def __init__(self, sparsity_param=0.01, beta=3.0):
        self.sparsity_param = check_open_unit_interval(sparsity_param, "sparsity_param")
        self.beta = check_non_negative(beta, "beta")

    def __repr__(self):
        return f"KLSparsity(sparsity_param={self.sparsity_param!r}, beta={self.beta!r})"

    @staticmethod
    def kind_for(activation):
        """The penalty form for an activation, or ``ValueError`` when it has none."""
        if activation.sparsity_kind is None:
            raise ValueError(
                f"KL sparsity needs non-negative hidden activations; {activation.name!r} can be "
                f"negative (use 'sigmoid' or 'relu' on hidden layers, or beta=0)")
        return activation.sparsity_kind

    def check_activation(self, activation):
        """Refuse activations that can be negative (see the module notes)."""
        self.kind_for(activation)

    def activity_term(self, backend, activation, activations, workspace):
        """``beta * sum KL`` and the row ``beta * dKL/drho_hat`` added to every sample's delta."""
        if self.beta == 0.0:
            return 0.0, None
        mean, grad = workspace["mean"], workspace["grad"]
        backend.column_sum(activations, mean, 1.0 / activations.shape[0])
        penalty = backend.kl_sparsity(mean, self.sparsity_param, self.kind_for(activation),
                                      CLIP_EPS[backend.dtype], grad)
        grad *= self.beta
        return self.beta * penalty, grad
