"""Optimisers that train a network's flat parameter vector.

* ``'lbfgs-b'`` -- :class:`LBFGS`: scipy's L-BFGS-B (the default);
* ``'lbfgs'`` -- :class:`TwoLoopLBFGS`: plain L-BFGS with a strong-Wolfe line
  search, much less work per iteration (for GPU training, where scipy's own
  work dominates).

Both derive from :class:`~nnlite.optim.base.Optimizer` (settings, best
point, Ctrl-C, progress, the result); :func:`make_optimizer` is the one place
that maps these names to classes.
"""

import inspect

from .base import Optimizer
from .common import TrainingResult
from .lbfgs import LBFGS
from .two_loop import TwoLoopLBFGS

#: Optimiser classes by the name users give.
OPTIMIZERS = {"lbfgs-b": LBFGS, "lbfgs": TwoLoopLBFGS}

#: The optimiser used when none is named.
DEFAULT_OPTIMIZER = "lbfgs-b"


def make_optimizer(name=None, **options):
    """Build the optimiser called ``name`` with ``options``.

    Parameters
    ----------
    name : {'lbfgs-b', 'lbfgs'} or None, default=None
        None means :data:`DEFAULT_OPTIMIZER` (``'lbfgs-b'``).
    **options
        Constructor arguments (``max_iter``, ``tol``, ``verbose``, ...).

    Returns
    -------
    LBFGS or TwoLoopLBFGS

    Raises
    ------
    ValueError
        For an unknown name (the message lists the choices), or an option
        that optimiser does not take.
    """
    key = DEFAULT_OPTIMIZER if name is None else name
    if key not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    cls = OPTIMIZERS[key]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"optimizer {key!r} does not take {', '.join(unknown)}; "
                         f"its options are {', '.join(sorted(accepted))}")
    return cls(**options)


__all__ = ["DEFAULT_OPTIMIZER", "LBFGS", "OPTIMIZERS", "Optimizer", "TrainingResult", "TwoLoopLBFGS",
           "make_optimizer"]
