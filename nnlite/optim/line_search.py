"""A line search for the strong Wolfe conditions (Nocedal & Wright Alg. 3.5 and 3.6).

Scalar code: it sees the objective only through ``phi(step, keep) -> (f, df)``,
the cost and directional derivative at ``x + step d``, so the caller decides
where trial points and their gradients are stored; the step it accepts is
always one already evaluated (the caller never evaluates it again).
"""

import math

__all__ = ["strong_wolfe_search"]


def _cubic_minimizer(a, fa, da, b, fb, db):
    """Minimiser of the cubic through ``(a, fa, da)`` and ``(b, fb, db)``, or None.

    Nocedal & Wright eq. 3.59; None when the cubic has no real minimiser
    or the arithmetic breaks down.
    """
    if a == b:
        return None
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    radicand = d1 * d1 - da * db
    if not radicand >= 0.0:
        return None
    d2 = math.copysign(math.sqrt(radicand), b - a)
    denominator = db - da + 2.0 * d2
    if denominator == 0.0:
        return None
    step = b - (b - a) * (db + d2 - d1) / denominator
    return step if math.isfinite(step) else None


def strong_wolfe_search(phi, f0, df0, step, c1=1e-4, c2=0.9, max_trials=20, xtol=0.1):
    """Find a step satisfying the strong Wolfe conditions along a descent direction.

    Parameters
    ----------
    phi : callable
        ``phi(step, keep) -> (f, df)``: the cost and the directional derivative
        ``g(x + step d)' d`` at a trial step (one evaluation per call).
        ``keep`` is an earlier trial step (or None) whose point and gradient
        the caller must still hold after this call: the search may accept it.
    f0, df0 : float
        ``phi(0)``; ``df0 < 0``.
    step : float
        First trial step (> 0).
    c1, c2 : float
        Sufficient-decrease and curvature constants, ``0 < c1 < c2 < 1``.
    max_trials : int
        Evaluations allowed.
    xtol : float
        The zoom gives up on the curvature condition once the bracket's
        width is at most ``xtol`` times its right end (scipy's L-BFGS-B uses
        0.1 too).

    Returns
    -------
    (step, f, df, strong) or None
        The accepted step (the last one evaluated or the ``keep`` of the
        last call) with ``strong`` True when it meets both conditions, False
        when it meets sufficient decrease only (trials used up, or the
        bracket too narrow, which happens when the cost is at its
        floating-point noise); None when no trial decreased the cost enough.

    Notes
    -----
    Strong Wolfe: ``f <= f0 + c1 step df0`` and ``|df| <= c2 |df0|``.
    Bracketing (Nocedal & Wright Alg. 3.5) extrapolates by a cubic step
    clipped to ``[2, 11]`` times the last step; the zoom (Alg. 3.6)
    interpolates by a cubic clipped to the middle 80% of the bracket, so the
    bracket shrinks by at least 10% per trial.
    """
    previous = (0.0, f0, df0)
    for trial in range(max_trials):
        f, df = phi(step, previous[0] or None)
        left = max_trials - trial - 1
        if f > f0 + c1 * step * df0 or (trial > 0 and f >= previous[1]):
            return _zoom(phi, f0, df0, previous, (step, f, df), c1, c2, left, xtol)
        if abs(df) <= -c2 * df0:
            return step, f, df, True
        if df >= 0.0:
            return _zoom(phi, f0, df0, (step, f, df), previous, c1, c2, left, xtol)
        low, high = step + (step - previous[0]), step + 10.0 * (step - previous[0])
        candidate = _cubic_minimizer(previous[0], previous[1], previous[2], step, f, df)
        previous = (step, f, df)
        step = low if candidate is None else min(max(candidate, low), high)
    return previous + (False,)  # still going down when the trials ran out


def _zoom(phi, f0, df0, lo, hi, c1, c2, max_trials, xtol):
    """Nocedal & Wright Alg. 3.6: shrink the bracket ``lo``/``hi`` (tuples ``(step, f, df)``).

    ``lo`` satisfies sufficient decrease with the lowest cost seen (step 0
    when no trial did), and ``df_lo (step_hi - step_lo) < 0``.
    """
    for _ in range(max_trials):
        left, right = sorted((lo[0], hi[0]))
        width = right - left
        if width <= xtol * right:
            break
        candidate = _cubic_minimizer(*lo, *hi)
        margin = 0.1 * width
        step = (0.5 * (left + right) if candidate is None
                else min(max(candidate, left + margin), right - margin))
        f, df = phi(step, lo[0] or None)
        if f > f0 + c1 * step * df0 or f >= lo[1]:
            hi = (step, f, df)
            continue
        if abs(df) <= -c2 * df0:
            return step, f, df, True
        if df * (hi[0] - lo[0]) >= 0.0:
            hi = lo
        lo = (step, f, df)
    return lo + (False,) if lo[0] > 0.0 else None
