"""A line search for the strong Wolfe conditions (Nocedal & Wright Alg. 3.5 and 3.6).

Scalar code: it sees the objective only through ``phi(step) -> (f, df)``,
the cost and directional derivative at ``x + step d``, so the caller decides
where trial points and their gradients are stored.
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


def strong_wolfe_search(phi, f0, df0, step, c1=1e-4, c2=0.9, max_trials=20):
    """Find a step satisfying the strong Wolfe conditions along a descent direction.

    Parameters
    ----------
    phi : callable
        ``phi(step) -> (f, df)``: the cost and the directional derivative
        ``g(x + step d)' d`` at a trial step (one evaluation per call).
    f0, df0 : float
        ``phi(0)``; ``df0 < 0``.
    step : float
        First trial step (> 0).
    c1, c2 : float
        Sufficient-decrease and curvature constants, ``0 < c1 < c2 < 1``.
    max_trials : int
        Evaluations allowed.

    Returns
    -------
    (step, f, df) or None
        The accepted step, always the last one ``phi`` was called with;
        None when no step was found within ``max_trials``.

    Notes
    -----
    Accepts ``step`` when ``f <= f0 + c1 step df0`` and ``|df| <= c2 |df0|``.
    Bracketing (Nocedal & Wright Alg. 3.5) extrapolates by a cubic step
    clipped to ``[2, 11]`` times the last step; the zoom (Alg. 3.6)
    interpolates by a cubic clipped to the middle 80% of the bracket, so the
    bracket shrinks by at least 10% per trial.
    """
    previous = (0.0, f0, df0)
    for trial in range(max_trials):
        f, df = phi(step)
        if f > f0 + c1 * step * df0 or (trial > 0 and f >= previous[1]):
            return _zoom(phi, f0, df0, previous, (step, f, df), c1, c2, max_trials - trial - 1)
        if abs(df) <= -c2 * df0:
            return step, f, df
        if df >= 0.0:
            return _zoom(phi, f0, df0, (step, f, df), previous, c1, c2, max_trials - trial - 1)
        low, high = step + (step - previous[0]), step + 10.0 * (step - previous[0])
        candidate = _cubic_minimizer(previous[0], previous[1], previous[2], step, f, df)
        previous = (step, f, df)
        step = low if candidate is None else min(max(candidate, low), high)
    return None


def _zoom(phi, f0, df0, lo, hi, c1, c2, max_trials):
    """Nocedal & Wright Alg. 3.6: shrink the bracket ``lo``/``hi`` (tuples ``(step, f, df)``).

    ``lo`` satisfies sufficient decrease with the lowest cost seen, and
    ``df_lo (step_hi - step_lo) < 0``.
    """
    for _ in range(max_trials):
        left, right = sorted((lo[0], hi[0]))
        width = right - left
        if width <= 1e-12 * right:
            return None
        candidate = _cubic_minimizer(*lo, *hi)
        margin = 0.1 * width
        step = (0.5 * (left + right) if candidate is None
                else min(max(candidate, left + margin), right - margin))
        f, df = phi(step)
        if f > f0 + c1 * step * df0 or f >= lo[1]:
            hi = (step, f, df)
            continue
        if abs(df) <= -c2 * df0:
            return step, f, df
        if df * (hi[0] - lo[0]) >= 0.0:
            hi = lo
        lo = (step, f, df)
    return None
