"""L-BFGS training: cost goes down, sparsity is pursued, interruptions and failures are handled."""

import warnings

import numpy as np
import pytest

from nnlite import LBFGS, ConvergenceWarning, build_autoencoder


def _patches(rng, n=400, d=16):
    # Smooth-ish data with structure (low-rank) so the autoencoder has something to learn.
    basis = rng.uniform(0, 1, (4, d))
    return 0.1 + 0.8 * (rng.uniform(0, 1, (n, 4)) @ basis) / basis.sum(axis=0)


def test_short_lbfgs_run_lowers_cost_and_moves_mean_activation_toward_rho(rng):
    data = _patches(rng)
    net = build_autoencoder(16, 8, sparsity_param=0.05, beta=3.0, lambda_=1e-4)
    net.initialize(0)
    initial_mean = net.forward(data, stop=1).mean()
    result = LBFGS(max_iter=60).minimize(net.objective(data), net.theta)
    net.set_theta(result.theta)
    final_mean = net.forward(data, stop=1).mean()
    assert result.loss_curve[-1] < 0.5 * result.loss_curve[0]
    assert result.cost == pytest.approx(net.loss_and_grad(net.theta, data)[0])
    assert abs(final_mean - 0.05) < 0.5 * abs(initial_mean - 0.05)
    assert len(result.loss_curve) == result.n_iter + 1 == len(result.time_curve)
    assert all(b >= a for a, b in zip(result.time_curve, result.time_curve[1:]))


def test_same_seed_same_result(rng):
    data = _patches(rng)
    results = []
    for _ in range(2):
        net = build_autoencoder(16, 6)
        net.initialize(7)
        results.append(LBFGS(max_iter=10).minimize(net.objective(data), net.theta).theta)
    np.testing.assert_array_equal(results[0], results[1])


def test_keyboard_interrupt_keeps_the_best_parameters(rng):
    data = _patches(rng)
    net = build_autoencoder(16, 6)
    net.initialize(1)
    objective = net.objective(data)
    calls = {"n": 0}

    def interrupted(theta):
        calls["n"] += 1
        if calls["n"] == 15:
            raise KeyboardInterrupt
        return objective(theta)

    result = LBFGS(max_iter=100).minimize(interrupted, net.theta)
    assert result.interrupted and result.status == -1
    assert result.cost == pytest.approx(objective(result.theta)[0])
    assert result.cost <= min(result.loss_curve)


def test_abnormal_stop_warns(rng):
    # A gradient that points the wrong way makes every line search fail.
    def wrong(theta):
        return float(theta @ theta), -2 * theta

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LBFGS(max_iter=20).minimize(wrong, np.ones(3))
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)


def test_non_finite_cost_is_a_clear_error():
    with pytest.raises(ValueError, match="cost became nan"):
        LBFGS(max_iter=5).minimize(lambda theta: (float("nan"), np.zeros_like(theta)), np.ones(2))


def test_progress_is_printed(rng, capsys):
    net = build_autoencoder(16, 4)
    net.initialize(0)
    LBFGS(max_iter=5, verbose=1).minimize(net.objective(_patches(rng, 50)), net.theta)
    err = capsys.readouterr().err
    assert "iter     1/5" in err and "done:" in err


def test_callback_can_stop_training(rng):
    net = build_autoencoder(16, 4)
    net.initialize(0)
    result = LBFGS(max_iter=50, callback=lambda it, cost, theta: it >= 3).minimize(
        net.objective(_patches(rng, 50)), net.theta)
    assert result.n_iter == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"max_iter": 0}, "max_iter"), ({"tol": -1.0}, "tol"), ({"history_size": 0}, "history_size")])
def test_bad_trainer_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LBFGS(**kwargs)
