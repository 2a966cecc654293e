"""The base class of nnlite's optimisers: settings, bookkeeping and the end of a run, once.

:class:`Optimizer` checks the settings every optimiser takes, and its
:meth:`~Optimizer.minimize` does everything around the algorithm: the
best-point tracker, counted and checked cost evaluations, the loss and time
curves, progress lines, Ctrl-C (which keeps the best parameters), the warning
on an abnormal stop and the :class:`~nnlite.optim.common.TrainingResult`.
A subclass only implements :meth:`~Optimizer._run`, its own algorithm.
"""

import time

import numpy as np

from ..validation import check_int, check_non_negative
from .common import (BlasThreads, Progress, TrainingResult, check_finite_cost,
                     print_every_from_verbose, warn_abnormal_stop)

__all__ = ["BestPoint", "Optimizer", "Run"]


class BestPoint:
    """The lowest-cost point seen.

    Two ways to offer a point: :meth:`offer_copy` copies it at once (for
    arrays the caller does not own, such as scipy's iterates);
    :meth:`offer` only notes a work buffer, which is copied out by
    :meth:`release` when that buffer is about to be reused.  Accepted
    iterates only go down in cost, so the best point is nearly always the
    current iterate, and copying it every iteration would be a wasted pass
    over ``theta``.

    Parameters
    ----------
    theta0 : ndarray of shape (n_params,)
        Returned (as a copy) when nothing better is offered.
    """

    def __init__(self, theta0):
        self.cost = np.inf
        self.saved = theta0.copy()
        self.holder = self.saved

    @property
    def theta(self):
        """ndarray of shape (n_params,): the best point."""
        return self.holder

    def offer(self, cost, buffer):
        """Note ``buffer`` (holding a point of cost ``cost``) when that cost is the lowest yet."""
        if cost < self.cost:
            self.cost, self.holder = cost, buffer

    def offer_copy(self, cost, theta, ties=False):
        """Copy ``theta`` when ``cost`` is the lowest yet (or equal to it, with ``ties``)."""
        if cost < self.cost or (ties and cost <= self.cost):
            self.cost = float(cost)
            np.copyto(self.saved, theta)
            self.holder = self.saved

    def release(self, buffer):
        """Call before overwriting ``buffer``: keeps a copy when it holds the best point."""
        if self.holder is buffer:
            np.copyto(self.saved, buffer)
            self.holder = self.saved


class Run:
    """The state of one :meth:`Optimizer.minimize` call that the algorithm updates.

    Attributes
    ----------
    theta0 : ndarray of shape (n_params,)
        The start point; the algorithm may use it as a work buffer.
    best : BestPoint
    n_evaluations, n_iter : int
    curve, times : list of float
        Cost at the start and after each iteration, and the seconds at each.
    progress : Progress
    threads : BlasThreads
    """

    def __init__(self, optimizer, theta0):
        self.start = time.perf_counter()
        self.theta0 = theta0
        self.best = BestPoint(theta0)
        self.n_evaluations = self.n_iter = 0
        self.curve, self.times = [], []
        self.progress = Progress(optimizer.print_every, optimizer.max_iter, optimizer.stream)
        self.threads = BlasThreads(optimizer.optimizer_blas_threads)

    def evaluate(self, fun, theta):
        """``fun(theta)`` with the full BLAS thread count, counted; ``ValueError`` on a non-finite cost."""
        cost, grad = self.threads.evaluate(fun, theta)
        self.n_evaluations += 1
        check_finite_cost(cost, self.n_iter)
        return cost, grad

    def record(self, cost):
        """Append ``cost`` and the elapsed seconds to the curves."""
        self.curve.append(cost)
        self.times.append(time.perf_counter() - self.start)

    def end_iteration(self, cost):
        """Count an iteration that ended at ``cost``, record it, print its line; returns its number."""
        self.n_iter += 1
        self.record(cost)
        self.progress.iteration(self.n_iter, cost, self.n_evaluations, self.times[-1])
        return self.n_iter


class Optimizer:
    """Minimise a ``theta -> (cost, grad)`` function; subclasses supply the algorithm.

    Parameters
    ----------
    max_iter : int, default=400
        Iteration limit.
    tol : float, default=1e-9
        Relative reduction of the cost below which training stops.
    gtol : float, default=1e-9
        Gradient tolerance.
    max_evaluations : int, optional
        Limit on cost evaluations (default ``max(15000, 2 * max_iter)``).
    history_size : int, default=10
        Stored correction pairs.
    verbose : bool or int, default=False
        Print a progress line every ``verbose`` iterations (``True`` = 10).
    stream : file-like, default=sys.stderr
    callback : callable, optional
        ``callback(iteration, cost, theta)`` after each iteration; return
        True to stop early.
    optimizer_blas_threads : int or None, default=1
        BLAS threads for the optimiser's own vector work (the cost function
        always runs with the process's full thread count); None leaves the
        thread count alone.

    Notes
    -----
    Ctrl-C during :meth:`minimize` ends training cleanly: the result holds
    the best parameters seen so far and ``interrupted=True``.  A stop for
    any reason but convergence, a limit or the callback emits a
    :class:`~nnlite.exceptions.ConvergenceWarning`.
    """

    #: How warnings name the algorithm.
    name = "optimizer"

    def __init__(self, max_iter=400, tol=1e-9, gtol=1e-9, max_evaluations=None, history_size=10,
                 verbose=False, stream=None, callback=None, optimizer_blas_threads=1):
        self.max_iter = check_int(max_iter, "max_iter", minimum=1)
        self.tol = check_non_negative(tol, "tol")
        self.gtol = check_non_negative(gtol, "gtol")
        self.max_evaluations = (max(15000, 2 * self.max_iter) if max_evaluations is None
                                else check_int(max_evaluations, "max_evaluations", minimum=1))
        self.history_size = check_int(history_size, "history_size", minimum=1)
        self.print_every = print_every_from_verbose(verbose)
        self.stream = stream
        self.callback = callback
        self.optimizer_blas_threads = (None if optimizer_blas_threads is None else
                                       check_int(optimizer_blas_threads, "optimizer_blas_threads", minimum=1))

    def minimize(self, fun, theta0):
        """Run the optimiser from ``theta0``.

        Parameters
        ----------
        fun : callable
            ``fun(theta) -> (cost, grad)``, ``theta`` and ``grad`` of shape
            ``(n_params,)``.
        theta0 : array-like of shape (n_params,)

        Returns
        -------
        TrainingResult

        Raises
        ------
        ValueError
            When the cost becomes NaN or infinite (or, for some optimisers,
            the gradient non-finite).
        """
        run = Run(self, self._start_point(theta0))
        interrupted = False
        try:
            with run.threads.optimizing():
                status, message = self._run(fun, run)
        except KeyboardInterrupt:
            interrupted, status, message = True, -1, "interrupted by the user (KeyboardInterrupt)"
            run.progress.interrupted(run.n_iter, run.best.cost)
        wall_time = time.perf_counter() - run.start
        if status not in (0, 1, -1) and "callback" not in message.lower():
            warn_abnormal_stop(self.name, run.n_iter, message)
        if not interrupted:
            run.progress.done(run.n_iter, run.n_evaluations, run.best.cost, wall_time, message)
        return TrainingResult(theta=run.best.theta, cost=run.best.cost, n_iter=run.n_iter,
                              n_evaluations=run.n_evaluations, loss_curve=run.curve,
                              time_curve=run.times, wall_time=wall_time, status=status,
                              message=message, interrupted=interrupted)

    def _start_point(self, theta0):
        """``theta0`` as the float64 array the algorithm starts from (a copy)."""
        return np.array(theta0, dtype=np.float64)

    def _run(self, fun, run):
        """The algorithm: minimise ``fun`` from ``run.theta0``, updating ``run``.

        Returns
        -------
        status : int
            0 converged, 1 a limit reached, 2 abnormal stop, 99 callback.
        message : str
        """
        raise NotImplementedError
