"""What nnlite's optimisers share: the result record, progress lines, BLAS threads, checks.

Both :class:`~nnlite.optim.lbfgs.LBFGS` (scipy's L-BFGS-B) and
:class:`~nnlite.optim.two_loop.TwoLoopLBFGS` use these pieces, so a training
run reports, fails and returns the same way whichever optimiser ran it.
"""

import contextlib
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import ConvergenceWarning
from ..validation import check_int

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
    ThreadpoolController = None


@dataclass
class TrainingResult:
    """What a training run produced.

    Attributes
    ----------
    theta : ndarray of shape (n_params,)
        Best parameters seen (lowest cost).
    cost : float
        Cost at ``theta``.
    n_iter : int
        L-BFGS iterations completed.
    n_evaluations : int
        Cost/gradient evaluations.
    loss_curve : list of float
        Cost after each iteration (index 0: the starting point).
    time_curve : list of float
        Seconds since the start, matching ``loss_curve``.
    wall_time : float
        Total seconds.
    status : int
        scipy's status codes, which both optimisers use: 0 converged,
        1 iteration/evaluation limit, 2 stopped abnormally (for example a
        failed line search), 99 stopped by the callback; -1 when interrupted
        by Ctrl-C.
    message : str
    interrupted : bool
        True when KeyboardInterrupt ended training.
    """

    theta: np.ndarray
    cost: float
    n_iter: int
    n_evaluations: int
    loss_curve: list = field(default_factory=list)
    time_curve: list = field(default_factory=list)
    wall_time: float = 0.0
    status: int = 0
    message: str = ""
    interrupted: bool = False


def print_every_from_verbose(verbose):
    """Iterations between progress lines: ``True`` -> 10, ``False`` -> 0 (never), an int >= 0 as is."""
    if isinstance(verbose, (bool, np.bool_)):
        return 10 if verbose else 0
    return check_int(verbose, "verbose", minimum=0)


class Progress:
    """The progress lines a training run prints (to ``stream``, default ``sys.stderr``).

    Parameters
    ----------
    print_every : int
        Print an iteration line every ``print_every`` iterations (and after
        the first); 0 prints nothing at all.
    max_iter : int
    stream : file-like, optional
    """

    def __init__(self, print_every, max_iter, stream=None):
        self.print_every = print_every
        self.max_iter = max_iter
        self.stream = stream

    def _print(self, text):
        print(text, file=self.stream or sys.stderr, flush=True)

    def iteration(self, iteration, cost, n_evaluations, elapsed):
        """Line after iteration ``iteration`` when it is due."""
        if self.print_every and (iteration % self.print_every == 0 or iteration == 1):
            self._print(f"iter {iteration:5d}/{self.max_iter}  cost {cost:.6e}  "
                        f"evals {n_evaluations:5d}  {elapsed:8.2f}s")

    def interrupted(self, n_iter, best_cost):
        """Line after Ctrl-C."""
        if self.print_every:
            self._print(f"interrupted after {n_iter} iterations; "
                        f"keeping the best parameters (cost {best_cost:.6e})")

    def done(self, n_iter, n_evaluations, cost, wall_time, message):
        """Summary line at the end of a run that was not interrupted."""
        if self.print_every:
            self._print(f"done: {n_iter} iterations, {n_evaluations} "
                        f"evaluations, cost {cost:.6e}, {wall_time:.2f}s ({message})")


def check_finite_cost(cost, n_iter):
    """Raise ``ValueError`` (with advice) when ``cost`` is NaN or infinite."""
    if not np.isfinite(cost):
        raise ValueError(
            f"the cost became {cost} after {n_iter} iterations; check that "
            f"the data is normalised (e.g. to [0.1, 0.9]) and finite, or lower the penalties")


def warn_abnormal_stop(optimizer_name, n_iter, message):
    """Emit a :class:`~nnlite.exceptions.ConvergenceWarning` attributed to ``minimize``'s caller."""
    warnings.warn(f"{optimizer_name} stopped abnormally after {n_iter} iterations: {message}",
                  ConvergenceWarning, stacklevel=3)


class BlasThreads:
    """Run the optimiser's own vector work with few BLAS threads, the cost function with all.

    Parameters
    ----------
    optimizer_threads : int or None
        BLAS threads inside :meth:`optimizing`; None leaves the count alone
        (both context managers then do nothing).

    Examples
    --------
    >>> threads = BlasThreads(1)
    >>> with threads.optimizing():          # doctest: +SKIP
    ...     cost, grad = threads.evaluate(fun, theta)   # with the full thread count
    """

    def __init__(self, optimizer_threads):
        self.optimizer_threads = optimizer_threads
        self._controller = (ThreadpoolController() if ThreadpoolController is not None
                            and optimizer_threads is not None else None)
        self._full = self._controller.info() if self._controller is not None else None

    def optimizing(self):
        """Context manager: BLAS limited to ``optimizer_threads``."""
        if self._controller is None:
            return contextlib.nullcontext()
        return self._controller.limit(limits=self.optimizer_threads, user_api="blas")

    def evaluate(self, fun, theta):
        """``fun(theta)`` with the thread counts the process had when this object was made."""
        if self._controller is None:
            return fun(theta)
        with self._controller.limit(limits=self._full):
            return fun(theta)
