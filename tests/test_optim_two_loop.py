"""TwoLoopLBFGS: minima found, parity with scipy's L-BFGS-B, line search, history, failure paths."""

import warnings

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

from nnlite import ConvergenceWarning, build_autoencoder
from nnlite.optim import LBFGS, OPTIMIZERS, TwoLoopLBFGS, make_optimizer
from nnlite.optim import two_loop
from nnlite.optim.line_search import strong_wolfe_search
from nnlite.optim.two_loop import _History

from conftest import low_rank_patches


def _rosenbrock(theta):
    return rosen(theta), rosen_der(theta)


def _assert_monotone(curve):
    assert all(b <= a for a, b in zip(curve, curve[1:]))


# ---------------------------------------------------------------- minima
def test_convex_quadratic_reaches_the_solution(rng):
    A = rng.standard_normal((30, 30))
    A = A @ A.T + np.eye(30)
    b = rng.standard_normal(30)
    result = TwoLoopLBFGS(max_iter=300, tol=0.0, gtol=1e-9).minimize(
        lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b), np.zeros(30))
    assert result.status == 0  # max |g| <= gtol, or no decrease left at float precision
    np.testing.assert_allclose(result.theta, np.linalg.solve(A, b), atol=1e-6)
    _assert_monotone(result.loss_curve)


@pytest.mark.parametrize("n", [2, 100])
def test_rosenbrock_reaches_all_ones(n):
    theta0 = np.full(n, -1.2)
    theta0[1::2] = 1.0
    result = TwoLoopLBFGS(max_iter=2000, tol=0.0, gtol=1e-8).minimize(_rosenbrock, theta0)
    assert result.status == 0
    np.testing.assert_allclose(result.theta, np.ones(n), atol=1e-6)
    _assert_monotone(result.loss_curve)
    # About as frugal as scipy: one evaluation per iteration nearly always.
    scipy_result = LBFGS(max_iter=2000, tol=0.0, gtol=1e-8).minimize(_rosenbrock, theta0)
    assert result.n_evaluations <= 1.2 * scipy_result.n_evaluations


def test_already_optimal_start_stops_at_once():
    result = TwoLoopLBFGS().minimize(lambda x: (float(x @ x), 2 * x), np.zeros(4))
    assert result.n_iter == 0 and result.n_evaluations == 1 and result.status == 0


# -------------------------------------------------- the sparse autoencoder
@pytest.mark.parametrize("max_iter", [20, 60])
def test_autoencoder_cost_matches_scipy_lbfgsb(rng, max_iter):
    data = low_rank_patches(rng)
    costs = {}
    for name in ("lbfgs", "lbfgs-b"):
        net = build_autoencoder(16, 8)
        net.initialize(0)
        result = make_optimizer(name, max_iter=max_iter).minimize(net.objective(data), net.theta)
        costs[name] = result
    ours = costs["lbfgs"]
    assert ours.cost <= 1.01 * costs["lbfgs-b"].cost
    _assert_monotone(ours.loss_curve)
    assert len(ours.loss_curve) == ours.n_iter + 1 == len(ours.time_curve)
    net.set_theta(ours.theta)
    assert ours.cost == pytest.approx(net.loss_and_grad(net.theta, data)[0], rel=1e-12)


def test_noisy_cost_ends_near_the_noiseless_minimum(rng):
    # A float32 GPU cost is noisy at about 1e-7 relative.  Training reaches the
    # noiseless minimum, then either meets a stopping test or ends on a failed
    # line search (2 x max_linesearch evaluations, a ConvergenceWarning).
    data = low_rank_patches(rng)
    net = build_autoencoder(16, 8)
    theta0 = net.initialize(0).copy()
    objective, noise = net.objective(data), np.random.default_rng(0)

    def noisy(theta):
        cost, grad = objective(theta)
        return cost * (1 + 1e-7 * noise.standard_normal()), grad * (1 + 1e-7 * noise.standard_normal(grad.shape))

    clean = TwoLoopLBFGS(max_iter=400).minimize(objective, theta0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = TwoLoopLBFGS(max_iter=400).minimize(noisy, theta0)
    assert result.status in (0, 2)
    _assert_monotone(result.loss_curve)
    assert objective(result.theta)[0] == pytest.approx(clean.cost, rel=1e-5)
    assert result.n_evaluations <= 1.3 * result.n_iter + 2 * 20 + 1


# ------------------------------------------------------------ line search
def _recording(function):
    """``phi(step, keep)`` over ``function(step) -> (f, df)``, recording each call."""
    calls = []

    def phi(step, keep):
        calls.append((step, keep))
        return function(step)

    return phi, calls


@pytest.mark.parametrize("first_step", [1.0, 0.01, 100.0])
def test_line_search_meets_strong_wolfe_and_accepts_an_evaluated_step(first_step):
    # f(a) = (a - 3)^2 + a^4 / 50 along some direction
    phi, calls = _recording(lambda a: ((a - 3) ** 2 + a ** 4 / 50, 2 * (a - 3) + 4 * a ** 3 / 50))
    f0, df0 = 9.0, -6.0
    step, f, df, strong = strong_wolfe_search(phi, f0, df0, first_step, c1=1e-4, c2=0.9)
    assert strong and f <= f0 + 1e-4 * step * df0 and abs(df) <= 0.9 * abs(df0)
    assert calls[-1][0] == step  # the accepted point is the last one computed


def test_line_search_reports_failure_when_no_step_decreases():
    phi, calls = _recording(lambda a: (1.0 + a, -1.0))
    assert strong_wolfe_search(phi, 1.0, -1.0, 1.0, max_trials=8) is None
    assert len(calls) == 8


def test_line_search_accepts_a_kept_step_that_only_decreases_the_cost():
    # The slope never shows curvature (as when the cost is at its noise): the
    # bracket narrows around step 1, which is accepted on sufficient decrease
    # alone; every later evaluation was told to keep it, so it is still at hand.
    phi, calls = _recording(lambda a: ((a - 1) ** 2, -2.0))
    step, f, df, strong = strong_wolfe_search(phi, 1.0, -2.0, 1.0)
    assert (step, f, strong) == (1.0, 0.0, False)
    later = calls[[c[0] for c in calls].index(1.0) + 1:]
    assert later and all(keep == 1.0 for _, keep in later)
    assert len(calls) < 20


def test_line_search_still_descending_after_its_trials_accepts_the_last_step():
    phi, calls = _recording(lambda a: (-a, -1.0))
    step, f, df, strong = strong_wolfe_search(phi, 0.0, -1.0, 1.0, max_trials=5)
    assert not strong and step == calls[-1][0] and f == -step


# ---------------------------------------------------------------- history
def _dense_inverse_hessian(pairs, n):
    s, y = pairs[-1]
    H = (s @ y) / (y @ y) * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return H


def test_two_loop_direction_equals_the_dense_lbfgs_matrix_after_wrapping(rng):
    n, m = 6, 3
    history = _History(m, n)
    pairs, x_old, g_old = [], np.zeros(n), np.zeros(n)
    for _ in range(m + 4):  # wraps around the circular store twice
        s = rng.standard_normal(n)
        y = s + 0.3 * rng.standard_normal(n)
        assert history.push(x_old + s, x_old, g_old + y, g_old)
        pairs.append((s, y))
    g = rng.standard_normal(n)
    expected = -_dense_inverse_hessian(pairs[-m:], n) @ g
    np.testing.assert_allclose(history.direction(g, out=np.empty(n)), expected, rtol=1e-10)


def test_pair_without_curvature_is_skipped_and_keeps_the_oldest_pair(rng):
    n = 5
    history = _History(2, n)
    zeros = np.zeros(n)
    for _ in range(2):
        assert history.push(rng.standard_normal(n) + 2, zeros, np.ones(n) * 3, zeros)
    stored = history.S.copy(), history.Y.copy(), history.start, history.count
    s = np.array([1.0, 0, 0, 0, 0])
    assert not history.push(s, zeros, np.array([0, 1.0, 0, 0, 0]), zeros)  # s'y = 0
    assert (history.start, history.count) == stored[2:]
    for slot in history._slots():
        np.testing.assert_array_equal(history.S[slot], stored[0][slot])
        np.testing.assert_array_equal(history.Y[slot], stored[1][slot])


# ---------------------------------------------------------- control flow
# (Ctrl-C, the callback, warnings, progress, settings common to both
# optimisers: test_core_training.py)
def test_callback_sees_a_read_only_iterate(rng):
    net = build_autoencoder(16, 4)
    net.initialize(0)
    writeable = []

    def callback(iteration, cost, theta):
        writeable.append(theta.flags.writeable)
        return iteration >= 2

    TwoLoopLBFGS(max_iter=50, callback=callback).minimize(net.objective(low_rank_patches(rng, 50)), net.theta)
    assert writeable == [False, False]


def test_failed_search_resets_the_history_and_retries_along_minus_gradient(monkeypatch):
    # A descent direction ten orders too long: its search runs out of trials;
    # the retry along -g (initial step 1 / ||g||) then succeeds.
    resets = []
    monkeypatch.setattr(_History, "direction", lambda self, g, out: np.multiply(g, -1e10, out=out))
    original_reset = _History.reset
    monkeypatch.setattr(_History, "reset", lambda self: (resets.append(1), original_reset(self)))
    curvature = np.linspace(1.0, 3.0, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = TwoLoopLBFGS(max_iter=4, max_linesearch=3, tol=0.0).minimize(
            lambda x: (0.5 * float(x @ (curvature * x)), curvature * x), np.ones(4))
    assert result.n_iter == 4 and result.status == 1 and len(resets) == 3
    _assert_monotone(result.loss_curve)


def test_non_finite_gradient_is_a_clear_error():
    with pytest.raises(ValueError, match="gradient became non-finite"):
        TwoLoopLBFGS(max_iter=5).minimize(lambda theta: (1.0, np.full_like(theta, np.inf)), np.ones(2))


def test_evaluation_limit_stops_training():
    result = TwoLoopLBFGS(max_iter=100, max_evaluations=5).minimize(_rosenbrock, np.array([-1.2, 1.0]))
    assert result.status == 1 and result.n_evaluations == 5 and "evaluation limit" in result.message


def test_relative_cost_reduction_stops_training():
    result = TwoLoopLBFGS(max_iter=500, tol=1e-6, gtol=0.0).minimize(_rosenbrock, np.array([-1.2, 1.0]))
    assert result.status == 0 and "relative reduction" in result.message
    f_before, f_after = result.loss_curve[-2:]
    assert (f_before - f_after) <= 1e-6 * max(abs(f_before), abs(f_after), 1.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"max_linesearch": 0}, "max_linesearch"), ({"max_linesearch": 1.5}, "max_linesearch"),
    ({"c1": 0.95}, "c1"), ({"c2": 1.5}, "c2"), ({"c1": -1.0}, "c1")])
def test_bad_line_search_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TwoLoopLBFGS(**kwargs)


# --------------------------------------------------------- make_optimizer
def test_make_optimizer_maps_names_to_classes():
    assert OPTIMIZERS == {"lbfgs-b": LBFGS, "lbfgs": TwoLoopLBFGS}
    assert type(make_optimizer()) is LBFGS
    optimizer = make_optimizer("lbfgs", max_iter=7, tol=1e-5)
    assert isinstance(optimizer, TwoLoopLBFGS) and optimizer.max_iter == 7 and optimizer.tol == 1e-5
    assert two_loop.TwoLoopLBFGS is TwoLoopLBFGS


def test_make_optimizer_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match=r"one of \['lbfgs', 'lbfgs-b'\], got 'adam'"):
        make_optimizer("adam")
    with pytest.raises(ValueError, match="'lbfgs-b' does not take c1"):
        make_optimizer("lbfgs-b", c1=1e-3)
