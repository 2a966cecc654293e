"""L-BFGS training over ``scipy.optimize.minimize(method='L-BFGS-B', jac=True)``."""

from scipy.optimize import minimize

from .base import Optimizer
from .common import TrainingResult

__all__ = ["LBFGS", "TrainingResult"]


class LBFGS(Optimizer):
    """Minimise a ``theta -> (cost, grad)`` function with scipy's L-BFGS-B.

    The parameters are :class:`~nnlite.optim.base.Optimizer`'s, passed to scipy as
    ``maxiter`` (``max_iter``), ``ftol`` (``tol``, the relative reduction of
    the cost), ``gtol`` (the projected-gradient tolerance), ``maxfun``
    (``max_evaluations``) and ``maxcor`` (``history_size``).
    ``optimizer_blas_threads`` (default 1) limits BLAS while L-BFGS-B does
    its own work: it only does vector operations on ``theta``, for which
    multi-threaded BLAS is slower, not faster (on 2 cores, 400 iterations on
    154,192 parameters took 76 s with 2 threads and 3.9 s with 1,
    ``benchmarks/bench_loss.py --optimizer``).

    Notes
    -----
    Settings checks, Ctrl-C (the result keeps the best parameters seen and
    ``interrupted=True``), progress lines and the
    :class:`~nnlite.exceptions.ConvergenceWarning` on a scipy stop for any
    reason but convergence or a limit come from
    :class:`~nnlite.optim.base.Optimizer`.
    """

    name = "L-BFGS-B"

    def __repr__(self):
        return f"LBFGS(max_iter={self.max_iter}, tol={self.tol})"

    def _run(self, fun, run):
        """scipy's L-BFGS-B from ``run.theta0``; returns scipy's ``(status, message)``."""
        def tracked(theta):
            cost, grad = run.evaluate(fun, theta)
            run.best.offer_copy(cost, theta)
            if run.n_evaluations == 1:
                run.record(float(cost))
            return cost, grad

        def on_iteration(intermediate_result):
            cost = float(intermediate_result.fun)
            iteration = run.end_iteration(cost)
            if self.callback is not None and self.callback(iteration, cost, intermediate_result.x):
                raise StopIteration

        result = minimize(tracked, run.theta0, method="L-BFGS-B", jac=True, callback=on_iteration,
                          options={"maxiter": self.max_iter, "maxfun": self.max_evaluations,
                                   "ftol": self.tol, "gtol": self.gtol, "maxcor": self.history_size})
        run.best.offer_copy(result.fun, result.x, ties=True)
        return int(result.status), str(result.message)
