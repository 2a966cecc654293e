"""L-BFGS training over ``scipy.optimize.minimize(method='L-BFGS-B', jac=True)``."""

import time

import numpy as np
from scipy.optimize import minimize

from ..validation import check_non_negative, check_positive_int
from .common import (BlasThreads, Progress, TrainingResult, check_finite_cost,
                     print_every_from_verbose, warn_abnormal_stop)

__all__ = ["LBFGS", "TrainingResult"]


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
        self.print_every = print_every_from_verbose(verbose)
        self.stream = stream
        self.callback = callback
        self.optimizer_blas_threads = (None if optimizer_blas_threads is None else
                                       check_positive_int(optimizer_blas_threads, "optimizer_blas_threads"))

    def __repr__(self):
        return f"LBFGS(max_iter={self.max_iter}, tol={self.tol})"

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

        threads = BlasThreads(self.optimizer_blas_threads)
        progress = Progress(self.print_every, self.max_iter, self.stream)

        def tracked(theta):
            cost, grad = threads.evaluate(fun, theta)
            counters["evaluations"] += 1
            check_finite_cost(cost, counters["iterations"])
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
            progress.iteration(iteration, cost, counters["evaluations"], times[-1])
            if self.callback is not None and self.callback(iteration, cost, intermediate_result.x):
                raise StopIteration

        interrupted = False
        status, message = 0, ""
        try:
            with threads.optimizing():
                result = minimize(tracked, theta0, method="L-BFGS-B", jac=True, callback=on_iteration,
                                  options={"maxiter": self.max_iter, "maxfun": self.max_evaluations,
                                           "ftol": self.tol, "gtol": self.gtol,
                                           "maxcor": self.history_size})
            status, message = int(result.status), str(result.message)
            if result.fun <= best["cost"]:
                best["cost"], best["theta"] = float(result.fun), np.array(result.x, dtype=np.float64)
        except KeyboardInterrupt:
            interrupted, status, message = True, -1, "interrupted by the user (KeyboardInterrupt)"
            progress.interrupted(counters["iterations"], best["cost"])
        wall_time = time.perf_counter() - start
        if status not in (0, 1, -1) and "callback" not in message.lower():
            warn_abnormal_stop("L-BFGS-B", counters["iterations"], message)
        if not interrupted:
            progress.done(counters["iterations"], counters["evaluations"], best["cost"], wall_time, message)
        return TrainingResult(theta=best["theta"], cost=best["cost"], n_iter=counters["iterations"],
                              n_evaluations=counters["evaluations"], loss_curve=curve,
                              time_curve=times, wall_time=wall_time, status=status,
                              message=message, interrupted=interrupted)
