"""What every optimiser must do: lower the cost, repeat itself, keep the best point on Ctrl-C, fail clearly.

Each test runs for both optimisers of :data:`nnlite.optim.OPTIMIZERS`
(scipy's L-BFGS-B and the two-loop L-BFGS); tests of one optimiser's own
algorithm live in ``test_optim_two_loop.py``.
"""

import warnings

import numpy as np
import pytest

from nnlite import ConvergenceWarning, build_autoencoder
from nnlite.optim import OPTIMIZERS, make_optimizer

from conftest import low_rank_patches

#: How each optimiser says that every line search failed.
ABNORMAL_MESSAGE = {"lbfgs-b": "ABNORMAL", "lbfgs": "line search"}


@pytest.fixture(params=sorted(OPTIMIZERS))
def optimizer(request):
    """The name of each optimiser in turn."""
    return request.param


def test_short_run_lowers_cost_and_moves_mean_activation_toward_rho(rng, optimizer):
    data = low_rank_patches(rng)
    net = build_autoencoder(16, 8, sparsity_param=0.05, beta=3.0, lambda_=1e-4)
    net.initialize(0)
    initial_mean = net.forward(data, stop=1).mean()
    result = make_optimizer(optimizer, max_iter=60).minimize(net.objective(data), net.theta)
    net.set_theta(result.theta)
    final_mean = net.forward(data, stop=1).mean()
    assert result.loss_curve[-1] < 0.5 * result.loss_curve[0]
    assert result.cost == pytest.approx(net.loss_and_grad(net.theta, data)[0], rel=1e-12)
    assert abs(final_mean - 0.05) < 0.5 * abs(initial_mean - 0.05)
    assert len(result.loss_curve) == result.n_iter + 1 == len(result.time_curve)
    assert all(b >= a for a, b in zip(result.time_curve, result.time_curve[1:]))
    assert result.status == 1 and not result.interrupted


def test_same_seed_same_result(rng, optimizer):
    data = low_rank_patches(rng, n=100)
    thetas = []
    for _ in range(2):
        net = build_autoencoder(16, 6)
        net.initialize(7)
        thetas.append(make_optimizer(optimizer, max_iter=15).minimize(net.objective(data), net.theta).theta)
    np.testing.assert_array_equal(thetas[0], thetas[1])


def test_keyboard_interrupt_keeps_the_best_parameters(rng, optimizer, capsys):
    data = low_rank_patches(rng, n=100)
    net = build_autoencoder(16, 6)
    net.initialize(1)
    objective = net.objective(data)
    calls = {"n": 0}

    def interrupted(theta):
        calls["n"] += 1
        if calls["n"] == 15:
            raise KeyboardInterrupt
        return objective(theta)

    result = make_optimizer(optimizer, max_iter=100, verbose=True).minimize(interrupted, net.theta)
    assert result.interrupted and result.status == -1 and result.n_evaluations == 14
    assert result.cost == pytest.approx(objective(result.theta)[0])
    assert result.cost <= min(result.loss_curve)
    err = capsys.readouterr().err
    assert "keeping the best parameters" in err and "done:" not in err


def test_abnormal_stop_warns_and_keeps_the_start(optimizer):
    # A gradient that points the wrong way makes every line search fail.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = make_optimizer(optimizer, max_iter=20).minimize(lambda x: (float(x @ x), -2 * x), np.ones(3))
    assert result.status == 2 and ABNORMAL_MESSAGE[optimizer] in result.message
    assert result.cost == 3.0 and result.n_iter == 0
    warned = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(warned) == 1 and warned[0].filename == __file__  # attributed to the caller


def test_non_finite_cost_is_a_clear_error(optimizer):
    with pytest.raises(ValueError, match="cost became nan"):
        make_optimizer(optimizer, max_iter=5).minimize(
            lambda theta: (float("nan"), np.zeros_like(theta)), np.ones(2))


def test_progress_is_printed(rng, capsys, optimizer):
    net = build_autoencoder(16, 4)
    net.initialize(0)
    make_optimizer(optimizer, max_iter=5, verbose=1).minimize(
        net.objective(low_rank_patches(rng, 50)), net.theta)
    err = capsys.readouterr().err
    assert "iter     1/5" in err and "iter     5/5" in err and "done: 5 iterations" in err


def test_silent_by_default(rng, capsys, optimizer):
    net = build_autoencoder(16, 4)
    net.initialize(0)
    make_optimizer(optimizer, max_iter=3).minimize(net.objective(low_rank_patches(rng, 50)), net.theta)
    assert capsys.readouterr().err == ""


def test_callback_can_stop_training(rng, optimizer):
    net = build_autoencoder(16, 4)
    net.initialize(0)
    seen = []

    def callback(iteration, cost, theta):
        seen.append(cost)
        return iteration >= 3

    result = make_optimizer(optimizer, max_iter=50, callback=callback).minimize(
        net.objective(low_rank_patches(rng, 50)), net.theta)
    assert result.n_iter == 3 and result.status == 99 and seen == result.loss_curve[1:]


@pytest.mark.parametrize("kwargs, message", [
    ({"max_iter": 0}, "max_iter"), ({"max_iter": True}, "max_iter"), ({"max_iter": 2.0}, "max_iter"),
    ({"tol": -1.0}, "tol"), ({"gtol": -1.0}, "gtol"), ({"max_evaluations": 0}, "max_evaluations"),
    ({"history_size": 0}, "history_size"), ({"optimizer_blas_threads": 0}, "optimizer_blas_threads"),
    ({"verbose": -1}, "verbose"), ({"verbose": "yes"}, "verbose")])
def test_bad_settings(kwargs, message, optimizer):
    with pytest.raises(ValueError, match=message):
        make_optimizer(optimizer, **kwargs)
