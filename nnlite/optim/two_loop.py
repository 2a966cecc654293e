"""Plain L-BFGS on the host: the two-loop recursion and a strong-Wolfe line search.

scipy's L-BFGS-B handles bound constraints through a compact representation and
a generalised Cauchy point; without bounds that work is pure overhead (about
18 ms per iteration at 154,192 parameters on a GPU host, several times the
CuPy cost evaluation).  :class:`TwoLoopLBFGS` does only what unconstrained
L-BFGS needs (Nocedal & Wright, *Numerical Optimization*, 2nd ed.):

* direction ``d = -H g`` by the two-loop recursion (Alg. 7.4) over the last
  ``m`` pairs ``s_i = x_{i+1} - x_i``, ``y_i = g_{i+1} - g_i`` kept in
  preallocated circular ``(m + 1, n)`` float64 arrays, with
  ``H0 = gamma I``, ``gamma = s'y / y'y`` of the newest pair (eq. 7.20);
* a line search for the strong Wolfe conditions
  (:func:`~nnlite.optim.line_search.strong_wolfe_search`: Alg. 3.5
  bracketing, Alg. 3.6 zoom with safeguarded cubic interpolation), one
  cost+gradient evaluation per trial step; trial points live in two work
  slots, so the accepted step's gradient is reused, never recomputed;
* ``2m`` dot products and ``2m`` in-place axpys per iteration, plus a
  handful of O(n) vector passes.
"""

import math
import time

import numpy as np
from scipy.linalg.blas import daxpy

from ..validation import check_non_negative, check_positive_int
from .common import (BlasThreads, Progress, TrainingResult, check_finite_cost,
                     print_every_from_verbose, warn_abnormal_stop)
from .line_search import strong_wolfe_search

__all__ = ["TwoLoopLBFGS"]

#: A pair is stored only when ``s'y > CURVATURE_EPS * ||s|| ||y||``.
CURVATURE_EPS = 1e-10


class _EvaluationLimit(Exception):
    """Raised by a trial evaluation when ``max_evaluations`` has been used up."""


class _Best:
    """The lowest-cost point seen, copied out of a work buffer only when that buffer is reused.

    Accepted iterates only go down in cost, so the best point is nearly
    always the current iterate, and copying it every iteration would be a
    wasted pass over ``theta``.
    """

    def __init__(self, theta0):
        self.cost = np.inf
        self.saved = theta0.copy()  # returned as is when nothing was evaluated
        self.holder = self.saved

    def offer(self, cost, buffer):
        """Note ``buffer`` (holding a point of cost ``cost``) when that cost is the lowest yet."""
        if cost < self.cost:
            self.cost, self.holder = cost, buffer

    def release(self, buffer):
        """Call before overwriting ``buffer``: keeps a copy when it holds the best point."""
        if self.holder is buffer:
            np.copyto(self.saved, buffer)
            self.holder = self.saved


class _TrialPoints:
    """Work buffers for two line-search trial points ``x + step d`` and their gradients.

    Each evaluation goes into the slot that does not hold ``keep`` (the
    earlier step the search may still accept), so whichever step is
    accepted, its gradient is at hand and never recomputed.
    """

    def __init__(self, n):
        self.x = [np.empty(n), np.empty(n)]
        self.g = [np.empty(n), np.empty(n)]
        self.steps = [None, None]
        self.latest = 1

    def clear(self):
        """Forget the steps (call when the base point or the direction changes)."""
        self.steps = [None, None]

    def slot_for(self, step, keep):
        """The slot to write the point at ``step`` into (not the one holding ``keep``)."""
        slot = 1 - self.latest
        if keep is not None and self.steps[slot] == keep:
            slot = self.latest
        self.steps[slot], self.latest = step, slot
        return slot


class _History:
    """The last ``m`` correction pairs in circular ``(m + 1, n)`` arrays (one slot spare).

    A new pair is written into the spare slot, so rejecting it (too little
    curvature) never overwrites the oldest stored pair.
    """

    def __init__(self, m, n):
        self.m = m
        self.S = np.empty((m + 1, n))
        self.Y = np.empty((m + 1, n))
        self.rho = np.zeros(m + 1)
        self.alpha = np.zeros(m + 1)
        self.start = self.count = 0
        self.gamma = None  # s'y / y'y of the newest pair ever stored

    def reset(self):
        """Forget every pair (``gamma``, the scale of ``H0``, stays)."""
        self.start = self.count = 0

    def _slots(self):
        return [(self.start + i) % (self.m + 1) for i in range(self.count)]  # oldest first

    def push(self, x_new, x_old, g_new, g_old):
        """Store ``s = x_new - x_old``, ``y = g_new - g_old``; False when skipped for low curvature."""
        slot = (self.start + self.count) % (self.m + 1)
        s, y = self.S[slot], self.Y[slot]
        np.subtract(x_new, x_old, out=s)
        np.subtract(g_new, g_old, out=y)
        sy, yy, ss = np.dot(s, y), np.dot(y, y), np.dot(s, s)
        if not sy > CURVATURE_EPS * math.sqrt(ss * yy):
            return False
        self.rho[slot] = 1.0 / sy
        self.gamma = sy / yy
        if self.count < self.m:
            self.count += 1
        else:
            self.start = (self.start + 1) % (self.m + 1)
        return True

    def direction(self, g, out):
        """``out = -H g`` by the two-loop recursion (Nocedal & Wright Alg. 7.4); returns ``out``."""
        S, Y, rho, alpha = self.S, self.Y, self.rho, self.alpha
        np.negative(g, out=out)
        slots = self._slots()
        for i in reversed(slots):
            alpha[i] = rho[i] * np.dot(S[i], out)
            daxpy(Y[i], out, a=-alpha[i])
        out *= self.gamma
        for i in slots:
            beta = rho[i] * np.dot(Y[i], out)
            daxpy(S[i], out, a=alpha[i] - beta)
        return out


class TwoLoopLBFGS:
    """Minimise a ``theta -> (cost, grad)`` function with plain (unconstrained) L-BFGS.

    Same interface and :class:`~nnlite.optim.common.TrainingResult` as
    :class:`~nnlite.optim.lbfgs.LBFGS`; much less work per iteration than
    scipy's L-BFGS-B (see the module docstring).

    Parameters
    ----------
    max_iter : int, default=400
        Iteration limit.
    tol : float, default=1e-9
        Stop when ``(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= tol``
        (scipy's ``ftol``).
    gtol : float, default=1e-9
        Stop when ``max |g| <= gtol``.
    max_evaluations : int, optional
        Limit on cost evaluations (default ``max(15000, 2 * max_iter)``).
    history_size : int, default=10
        Stored correction pairs ``m``.
    c1, c2 : float, default=1e-4, 0.9
        Strong Wolfe constants, ``0 < c1 < c2 < 1``.
    max_linesearch : int, default=20
        Evaluations allowed per line search.
    verbose : bool or int, default=False
        Print a progress line every ``verbose`` iterations (``True`` = 10).
    stream : file-like, default=sys.stderr
    callback : callable, optional
        ``callback(iteration, cost, theta)`` after each iteration (``theta``
        is a read-only view of the current iterate); return True to stop.
    optimizer_blas_threads : int or None, default=1
        BLAS threads for the optimiser's own dot products and axpys (the
        cost function always runs with the process's full thread count).
        None leaves the thread count alone.

    Notes
    -----
    Memory: ``2 (m + 1) + 8`` float64 vectors of ``n`` parameters.  Ctrl-C
    ends training cleanly with the best parameters seen and
    ``interrupted=True``.  The initial step is 1; along ``-g`` (first
    iteration, after a reset) it is ``1 / ||g||`` before any pair was
    stored, else ``gamma``.  When the cost is at its floating-point noise
    (float32 on a GPU, say) the line search accepts a step that only
    decreases the cost, as scipy's does, and the relative-reduction test
    then usually ends training.  When a line search finds no decrease at
    all, the history is dropped and the search retried once along ``-g``;
    if that fails too, training stops with ``status=2`` and a
    :class:`~nnlite.exceptions.ConvergenceWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> result = TwoLoopLBFGS(max_iter=50).minimize(lambda x: (x @ x, 2 * x), np.ones(3))
    >>> float(result.cost) < 1e-12
    True
    """

    def __init__(self, max_iter=400, tol=1e-9, gtol=1e-9, max_evaluations=None, history_size=10,
                 c1=1e-4, c2=0.9, max_linesearch=20, verbose=False, stream=None, callback=None,
                 optimizer_blas_threads=1):
        self.max_iter = check_positive_int(max_iter, "max_iter")
        self.tol = check_non_negative(tol, "tol")
        self.gtol = check_non_negative(gtol, "gtol")
        self.max_evaluations = (max(15000, 2 * self.max_iter) if max_evaluations is None
                                else check_positive_int(max_evaluations, "max_evaluations"))
        self.history_size = check_positive_int(history_size, "history_size")
        self.c1, self.c2 = check_non_negative(c1, "c1"), check_non_negative(c2, "c2")
        if not 0.0 < self.c1 < self.c2 < 1.0:
            raise ValueError(f"the line search needs 0 < c1 < c2 < 1, got c1={c1!r}, c2={c2!r}")
        self.max_linesearch = check_positive_int(max_linesearch, "max_linesearch")
        self.print_every = print_every_from_verbose(verbose)
        self.stream = stream
        self.callback = callback
        self.optimizer_blas_threads = (None if optimizer_blas_threads is None else
                                       check_positive_int(optimizer_blas_threads, "optimizer_blas_threads"))

    def __repr__(self):
        return (f"TwoLoopLBFGS(max_iter={self.max_iter}, tol={self.tol}, "
                f"history_size={self.history_size})")

    def minimize(self, fun, theta0):
        """Run L-BFGS from ``theta0``.

        Parameters
        ----------
        fun : callable
            ``fun(theta) -> (cost, grad)``, ``theta`` and ``grad`` of shape
            ``(n_params,)``; ``grad`` may be any array-like (it is copied).
        theta0 : array-like of shape (n_params,)

        Returns
        -------
        TrainingResult

        Raises
        ------
        ValueError
            When the cost becomes NaN or infinite, or the gradient non-finite.
        """
        start = time.perf_counter()
        x = np.array(theta0, dtype=np.float64).reshape(-1)
        n = x.size
        g, d = np.empty(n), np.empty(n)
        trials = _TrialPoints(n)
        best = _Best(x)
        history = _History(self.history_size, n)
        threads = BlasThreads(self.optimizer_blas_threads)
        progress = Progress(self.print_every, self.max_iter, self.stream)
        state = {"evaluations": 0, "iterations": 0, "cost": np.inf, "spread": 0.0}
        curve, times = [], []

        def evaluate(point, grad_out):
            if state["evaluations"] >= self.max_evaluations:
                raise _EvaluationLimit
            cost, grad = threads.evaluate(fun, point)
            state["evaluations"] += 1
            check_finite_cost(cost, state["iterations"])
            np.copyto(grad_out, np.asarray(grad).reshape(-1))
            best.offer(float(cost), point)
            return float(cost)

        def phi(step, keep):  # cost and slope at x + step d, into a trial slot
            slot = trials.slot_for(step, keep)
            x_trial, g_trial = trials.x[slot], trials.g[slot]
            best.release(x_trial)
            np.copyto(x_trial, x)
            daxpy(d, x_trial, a=step)
            cost = evaluate(x_trial, g_trial)
            change = abs(cost - state["cost"]) / max(abs(state["cost"]), 1.0)
            state["spread"] = max(state["spread"], change)
            slope = float(np.dot(g_trial, d))
            if not math.isfinite(slope):
                raise ValueError(f"the gradient became non-finite after {state['iterations']} iterations")
            return cost, slope

        status, message, interrupted = 1, "iteration limit reached", False
        try:
            with threads.optimizing():
                f = evaluate(x, g)
                curve.append(f)
                times.append(time.perf_counter() - start)
                if _gradient_max(g, 0) <= self.gtol:
                    status, message = 0, "converged: max |gradient| <= gtol"
                while status == 1 and state["iterations"] < self.max_iter:
                    state["cost"], state["spread"] = f, 0.0
                    accepted = self._line_search(phi, f, g, d, history, trials)
                    if accepted is None:
                        status, message = 2, (
                            f"the line search found no step that decreases the cost enough in "
                            f"{self.max_linesearch} evaluations, also along -gradient (trial costs "
                            f"within {state['spread']:.1e} of the current one, relatively); the "
                            f"gradient may be wrong, or the cost is at its floating-point precision")
                        break
                    (f_old, f), slot = (f, accepted[0]), accepted[1]
                    history.push(trials.x[slot], x, trials.g[slot], g)
                    x, trials.x[slot] = trials.x[slot], x
                    g, trials.g[slot] = trials.g[slot], g
                    state["iterations"] += 1
                    iteration = state["iterations"]
                    curve.append(f)
                    times.append(time.perf_counter() - start)
                    progress.iteration(iteration, f, state["evaluations"], times[-1])
                    if self.callback is not None and self.callback(iteration, f, _read_only(x)):
                        status, message = 99, "stopped by the callback"
                    elif _gradient_max(g, iteration) <= self.gtol:
                        status, message = 0, "converged: max |gradient| <= gtol"
                    elif (f_old - f) <= self.tol * max(abs(f_old), abs(f), 1.0):
                        status, message = 0, "converged: relative reduction of the cost <= tol"
        except _EvaluationLimit:
            status, message = 1, f"evaluation limit ({self.max_evaluations}) reached"
        except KeyboardInterrupt:
            interrupted, status, message = True, -1, "interrupted by the user (KeyboardInterrupt)"
            progress.interrupted(state["iterations"], best.cost)
        wall_time = time.perf_counter() - start
        if status == 2:
            warn_abnormal_stop("L-BFGS", state["iterations"], message)
        if not interrupted:
            progress.done(state["iterations"], state["evaluations"], best.cost, wall_time, message)
        return TrainingResult(theta=best.holder, cost=best.cost, n_iter=state["iterations"],
                              n_evaluations=state["evaluations"], loss_curve=curve, time_curve=times,
                              wall_time=wall_time, status=status, message=message,
                              interrupted=interrupted)

    def _line_search(self, phi, f, g, d, history, trials):
        """One iteration's step: fills ``d`` and a trial slot; ``(cost, slot)`` accepted, or None.

        Uses the two-loop direction when there is history (initial step 1).
        When there is none, or that search fails, or the direction does not
        go down, the history is dropped and the search runs along ``-g`` with
        initial step ``gamma`` (the last ``s'y / y'y``), or ``1 / ||g||``
        before any pair was stored.
        """
        search = dict(c1=self.c1, c2=self.c2, max_trials=self.max_linesearch)
        if history.count:
            slope = float(np.dot(history.direction(g, out=d), g))
            if slope < 0.0:
                trials.clear()
                found = strong_wolfe_search(phi, f, slope, 1.0, **search)
                if found is not None:
                    return found[1], trials.steps.index(found[0])
            history.reset()
        np.negative(g, out=d)
        norm_sq = float(np.dot(g, g))
        trials.clear()
        first_step = history.gamma if history.gamma is not None else 1.0 / math.sqrt(norm_sq)
        found = strong_wolfe_search(phi, f, -norm_sq, first_step, **search)
        return None if found is None else (found[1], trials.steps.index(found[0]))


def _gradient_max(g, n_iter):
    """``max |g_i|`` without a temporary array; ``ValueError`` when it is not finite."""
    value = max(float(g.max()), -float(g.min()))
    if not math.isfinite(value):
        raise ValueError(f"the gradient became non-finite after {n_iter} iterations")
    return value


def _read_only(v):
    view = v.view()
    view.flags.writeable = False
    return view
