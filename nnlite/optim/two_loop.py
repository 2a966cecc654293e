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

import numpy as np
from scipy.linalg.blas import daxpy

from ..validation import check_int, check_non_negative
from .base import Optimizer
from .line_search import strong_wolfe_search

__all__ = ["TwoLoopLBFGS"]

#: A pair is stored only when ``s'y > CURVATURE_EPS * ||s|| ||y||``.
CURVATURE_EPS = 1e-10


class _EvaluationLimit(Exception):
    """Raised by a trial evaluation when ``max_evaluations`` has been used up."""


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


class TwoLoopLBFGS(Optimizer):
    """Minimise a ``theta -> (cost, grad)`` function with plain (unconstrained) L-BFGS.

    Same interface and :class:`~nnlite.optim.common.TrainingResult` as
    :class:`~nnlite.optim.lbfgs.LBFGS`; much less work per iteration than
    scipy's L-BFGS-B (see the module docstring).

    Parameters
    ----------
    c1, c2 : float, default=1e-4, 0.9
        Strong Wolfe constants, ``0 < c1 < c2 < 1``.
    max_linesearch : int, default=20
        Evaluations allowed per line search.
    max_iter, tol, gtol, max_evaluations, history_size, verbose, stream, callback, optimizer_blas_threads
        As in :class:`~nnlite.optim.base.Optimizer`, here meaning:
        stop when ``(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= tol``
        (scipy's ``ftol``) or ``max |g| <= gtol``; ``history_size`` is the
        number ``m`` of stored pairs; ``callback`` gets a read-only view of
        the current iterate; ``optimizer_blas_threads`` limits BLAS in the
        optimiser's own dot products and axpys.

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

    name = "L-BFGS"

    def __init__(self, max_iter=400, tol=1e-9, gtol=1e-9, max_evaluations=None, history_size=10,
                 c1=1e-4, c2=0.9, max_linesearch=20, verbose=False, stream=None, callback=None,
                 optimizer_blas_threads=1):
        super().__init__(max_iter=max_iter, tol=tol, gtol=gtol, max_evaluations=max_evaluations,
                         history_size=history_size, verbose=verbose, stream=stream,
                         callback=callback, optimizer_blas_threads=optimizer_blas_threads)
        self.c1, self.c2 = check_non_negative(c1, "c1"), check_non_negative(c2, "c2")
        if not 0.0 < self.c1 < self.c2 < 1.0:
            raise ValueError(f"the line search needs 0 < c1 < c2 < 1, got c1={c1!r}, c2={c2!r}")
        self.max_linesearch = check_int(max_linesearch, "max_linesearch", minimum=1)

    def __repr__(self):
        return (f"TwoLoopLBFGS(max_iter={self.max_iter}, tol={self.tol}, "
                f"history_size={self.history_size})")

    def _start_point(self, theta0):
        return np.array(theta0, dtype=np.float64).reshape(-1)

    def _run(self, fun, run):
        """L-BFGS from ``run.theta0`` (used as the iterate's buffer); returns ``(status, message)``.

        ``grad`` from ``fun`` may be any array-like (it is copied); a
        non-finite gradient raises ``ValueError``.
        """
        x = run.theta0
        n = x.size
        g, d = np.empty(n), np.empty(n)
        trials = _TrialPoints(n)
        best = run.best
        history = _History(self.history_size, n)
        state = {"cost": np.inf, "spread": 0.0}

        def evaluate(point, grad_out):
            if run.n_evaluations >= self.max_evaluations:
                raise _EvaluationLimit
            cost, grad = run.evaluate(fun, point)
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
                raise ValueError(f"the gradient became non-finite after {run.n_iter} iterations")
            return cost, slope

        status, message = 1, "iteration limit reached"
        try:
            f = evaluate(x, g)
            run.record(f)
            if _gradient_max(g, 0) <= self.gtol:
                status, message = 0, "converged: max |gradient| <= gtol"
            while status == 1 and run.n_iter < self.max_iter:
                state["cost"], state["spread"] = f, 0.0
                accepted = self._line_search(phi, f, g, d, history, trials)
                if accepted is None:
                    return 2, (f"the line search found no step that decreases the cost enough in "
                               f"{self.max_linesearch} evaluations, also along -gradient (trial costs "
                               f"within {state['spread']:.1e} of the current one, relatively); the "
                               f"gradient may be wrong, or the cost is at its floating-point precision")
                (f_old, f), slot = (f, accepted[0]), accepted[1]
                history.push(trials.x[slot], x, trials.g[slot], g)
                x, trials.x[slot] = trials.x[slot], x
                g, trials.g[slot] = trials.g[slot], g
                iteration = run.end_iteration(f)
                if self.callback is not None and self.callback(iteration, f, _read_only(x)):
                    status, message = 99, "stopped by the callback"
                elif _gradient_max(g, iteration) <= self.gtol:
                    status, message = 0, "converged: max |gradient| <= gtol"
                elif (f_old - f) <= self.tol * max(abs(f_old), abs(f), 1.0):
                    status, message = 0, "converged: relative reduction of the cost <= tol"
        except _EvaluationLimit:
            status, message = 1, f"evaluation limit ({self.max_evaluations}) reached"
        return status, message

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
