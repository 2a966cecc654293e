"""L-BFGS training over ``scipy.optimize.minimize(method='L-BFGS-B', jac=True)``."""

import contextlib
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ..exceptions import ConvergenceWarning

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
    ThreadpoolController = None
from ..validation import check_non_negative, check_positive_int


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
        scipy's status (0 converged, 1 iteration/evaluation limit, 2 stopped
        abnormally); -1 when interrupted by Ctrl-C.
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


class LBFGS:
    """Minimise a ``theta -> (cost, grad)`` function with scipy's L-BFGS-B.

    Parameters
    ----------
    max_iter : int, default=400
        Iteration limit (scipy's ``maxiter``).
    tol : float, default=1e-9
        Relative reduction of the cost below which scipy stops (``ftol``).
    gtol : float, default=1e-9
        Projected-gradient tolerance.
    max_evaluations : int, optional
        Limit on cost evaluations (default ``max(15000, 2 * max_iter)``).
    history_size : int, default=10
        Stored correction pairs (scipy's ``maxcor``).
    verbose : bool or int, default=False
        Print a progress line every ``verbose`` iterations (``True`` = 10).
    stream : file-like, default=sys.stderr
    callback : callable, optional
        ``callback(iteration, cost, theta)`` after each iteration; return
        True to stop early.
    optimizer_blas_threads : int or None, default=1
        BLAS threads while scipy's L-BFGS-B does its own work (the cost
        function always runs with the process's full BLAS thread count).
        L-BFGS-B only does vector operations on ``theta``, for which
        multi-threaded BLAS is slower, not faster: on 2 cores, 400
        iterations on 154,192 parameters took 76 s with 2 threads and 3.9 s
        with 1 (``benchmarks/bench_loss.py --optimizer``).  None leaves the
        thread count alone.

    Notes
    -----
    Ctrl-C during :meth:`minimize` ends training cleanly: the result holds
    the best parameters seen so far and ``interrupted=True``.  A scipy stop
    for any reason but convergence or the iteration limit emits a
    :class:`~nnlite.exceptions.ConvergenceWarning`.
    """

    def __init__(self, max_iter=400, tol=1e-9, gtol=1e-9, max_evaluations=None, history_size=10,
                 verbose=False, stream=None, callback=None, optimizer_blas_threads=1):
        self.max_iter = check_positive_int(max_iter, "max_iter")
        self.tol = check_non_negative(tol, "tol")
        self.gtol = check_non_negative(gtol, "gtol")
        self.max_evaluations = (max(15000, 2 * self.max_iter) if max_evaluations is None
                                else check_positive_int(max_evaluations, "max_evaluations"))
        self.history_size = check_positive_int(history_size, "history_size")
        self.print_every = int(verbose) if not isinstance(verbose, bool) else (10 if verbose else 0)
        self.stream = stream
        self.callback = callback
        self.optimizer_blas_threads = (None if optimizer_blas_threads is None else
                                       check_positive_int(optimizer_blas_threads, "optimizer_blas_threads"))

    def __repr__(self):
        return f"LBFGS(max_iter={self.max_iter}, tol={self.tol})"

    def _print(self, text):
        print(text, file=self.stream or sys.stderr, flush=True)

    def minimize(self, fun, theta0):
        """Run L-BFGS-B from ``theta0``.

        Parameters
        ----------
        fun : callable
            ``fun(theta) -> (cost, grad)`` with ``grad`` of ``theta``'s shape.
        theta0 : ndarray of shape (n_params,)

        Returns
        -------
        TrainingResult

        Raises
        ------
        ValueError
            When the cost becomes NaN or infinite.
        """
        theta0 = np.array(theta0, dtype=np.float64)
        start = time.perf_counter()
        best = {"cost": np.inf, "theta": theta0.copy()}
        counters = {"evaluations": 0, "iterations": 0}
        curve, times = [], []

        controller = (ThreadpoolController() if ThreadpoolController is not None
                      and self.optimizer_blas_threads is not None else None)
        full_threads = controller.info() if controller is not None else None

        def evaluate(theta):
            if controller is None:
                return fun(theta)
            with controller.limit(limits=full_threads):
                return fun(theta)

        def tracked(theta):
            cost, grad = evaluate(theta)
            counters["evaluations"] += 1
            if not np.isfinite(cost):
                raise ValueError(
                    f"the cost became {cost} after {counters['iterations']} iterations; check that "
                    f"the data is normalised (e.g. to [0.1, 0.9]) and finite, or lower the penalties")
            if cost < best["cost"]:
                best["cost"] = float(cost)
                best["theta"][...] = theta
            if counters["evaluations"] == 1:
                curve.append(float(cost))
                times.append(time.perf_counter() - start)
            return cost, grad

        def on_iteration(intermediate_result):
            counters["iterations"] += 1
            iteration, cost = counters["iterations"], float(intermediate_result.fun)
            curve.append(cost)
            times.append(time.perf_counter() - start)
            if self.print_every and (iteration % self.print_every == 0 or iteration == 1):
                self._print(f"iter {iteration:5d}/{self.max_iter}  cost {cost:.6e}  "
                            f"evals {counters['evaluations']:5d}  {times[-1]:8.2f}s")
            if self.callback is not None and self.callback(iteration, cost, intermediate_result.x):
                raise StopIteration

        interrupted = False
        status, message = 0, ""
        optimizer_threads = (controller.limit(limits=self.optimizer_blas_threads, user_api="blas")
                             if controller is not None else contextlib.nullcontext())
        try:
            with optimizer_threads:
                result = minimize(tracked, theta0, method="L-BFGS-B", jac=True, callback=on_iteration,
                                  options={"maxiter": self.max_iter, "maxfun": self.max_evaluations,
                                           "ftol": self.tol, "gtol": self.gtol,
                                           "maxcor": self.history_size})
            status, message = int(result.status), str(result.message)
            if result.fun <= best["cost"]:
                best["cost"], best["theta"] = float(result.fun), np.array(result.x, dtype=np.float64)
        except KeyboardInterrupt:
            interrupted, status, message = True, -1, "interrupted by the user (KeyboardInterrupt)"
            if self.print_every:
                self._print(f"interrupted after {counters['iterations']} iterations; "
                            f"keeping the best parameters (cost {best['cost']:.6e})")
        wall_time = time.perf_counter() - start
        if status not in (0, 1, -1) and "callback" not in message.lower():
            warnings.warn(f"L-BFGS-B stopped abnormally after {counters['iterations']} iterations: "
                          f"{message}", ConvergenceWarning, stacklevel=2)
        if self.print_every and not interrupted:
            self._print(f"done: {counters['iterations']} iterations, {counters['evaluations']} "
                        f"evaluations, cost {best['cost']:.6e}, {wall_time:.2f}s ({message})")
        return TrainingResult(theta=best["theta"], cost=best["cost"], n_iter=counters["iterations"],
                              n_evaluations=counters["evaluations"], loss_curve=curve,
                              time_curve=times, wall_time=wall_time, status=status,
                              message=message, interrupted=interrupted)
