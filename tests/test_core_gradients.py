"""Numerical gradient checks (float64, relative error <= 1e-7) of every piece and whole networks."""

import numpy as np
import pytest

from nnlite import Dense, KLSparsity, Network, SquaredError, WeightDecay, build_autoencoder
from nnlite.gradcheck import check_gradient, numerical_gradient, relative_error

TOLERANCE = 1e-7


def _random_theta(net, rng, bias_scale=0.5):
    """SPEC initialisation plus non-zero biases, so no ReLU pre-activation sits exactly on its kink."""
    net.initialize(rng)
    theta = net.theta.copy()
    start = net.table.entry(0, "b").offset
    theta[start:] = rng.uniform(-bias_scale, bias_scale, size=net.n_params - start)
    return theta


def _assert_close_to_numeric(net, data, theta, epsilon=1e-4):
    result = check_gradient(net.objective(data), theta, epsilon=epsilon)
    assert result.relative_error <= TOLERANCE, str(result)
    return result


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "identity"])
def test_each_activation_as_hidden_and_output_layer(activation, rng):
    # Only the loss: isolates the activation's derivative in hidden and output positions.
    net = Network([Dense(6, 4, activation), Dense(4, 6, activation)], regularizers=[])
    data = rng.uniform(0.1, 0.9, (15, 6))
    _assert_close_to_numeric(net, data, _random_theta(net, rng))


def test_squared_error_loss_alone(rng):
    net = Network([Dense(5, 5, "identity")], loss=SquaredError())
    data = rng.uniform(0.1, 0.9, (10, 5))
    theta = _random_theta(net, rng)
    _assert_close_to_numeric(net, data, theta)
    cost, _ = net.loss_and_grad(theta, data)
    W, b = theta[:25].reshape(5, 5), theta[25:]
    np.testing.assert_allclose(cost, 0.5 * np.sum((data @ W.T + b - data) ** 2) / 10, rtol=1e-12)


def test_weight_decay_alone(rng):
    net = Network([Dense(5, 3, "identity"), Dense(3, 5, "identity")], regularizers=[WeightDecay(0.3)])
    data = rng.uniform(0.1, 0.9, (10, 5))
    _assert_close_to_numeric(net, data, _random_theta(net, rng))


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_kl_sparsity_alone(activation, rng):
    net = Network([Dense(6, 4, activation), Dense(4, 6, "sigmoid")], regularizers=[KLSparsity(0.05, 2.0)])
    data = rng.uniform(0.1, 0.9, (20, 6))
    _assert_close_to_numeric(net, data, _random_theta(net, rng))


@pytest.mark.parametrize("hidden", [[5], [7, 3, 7]])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_whole_autoencoder(hidden, activation, rng):
    net = build_autoencoder(10, hidden, activation=activation, lambda_=1e-3, sparsity_param=0.1, beta=3.0)
    data = rng.uniform(0.1, 0.9, (25, 10))
    # ReLU units can have a tiny mean activation (0.002 here), where the sparsity penalty's third
    # derivative (2 rho / rho_hat^3) is huge: the central difference's truncation error
    # (eps^2 f'''/6) then dominates at eps = 1e-4 (measured 2.9e-6) and falls as eps^2
    # (2.9e-8 at 1e-5, 7e-10 at 1e-6), so the check uses a finer step, not a looser tolerance.
    epsilon = 1e-6 if activation == "relu" else 1e-4
    _assert_close_to_numeric(net, data, _random_theta(net, rng), epsilon)


def test_spec_defaults_with_linear_decoder(rng):
    net = build_autoencoder(12, 6, output_activation="identity")
    data = rng.uniform(0.1, 0.9, (20, 12))
    _assert_close_to_numeric(net, data, _random_theta(net, rng))


def test_directional_check_on_a_full_size_network(rng):
    net = build_autoencoder(192, 75)
    data = rng.uniform(0.1, 0.9, (200, 192))
    result = check_gradient(net.objective(data), _random_theta(net, rng), n_directions=5, random_state=0)
    assert result.relative_error <= TOLERANCE, str(result)


def test_gradient_checker_catches_a_wrong_gradient(rng):
    net = build_autoencoder(6, 3)
    objective = net.objective(rng.uniform(0.1, 0.9, (8, 6)))

    def broken(theta):
        cost, grad = objective(theta)
        grad[0] *= 1.01
        return cost, grad

    result = check_gradient(broken, _random_theta(net, rng))
    assert result.relative_error > TOLERANCE
    assert "analytic" in str(result) and "numeric" in str(result)


def test_numerical_gradient_of_a_quadratic_is_exact():
    matrix = np.array([[2.0, 1.0], [1.0, 3.0]])
    point = np.array([0.3, -1.2])
    numeric = numerical_gradient(lambda x: 0.5 * x @ matrix @ x, point)
    assert relative_error(numeric, matrix @ point) < 1e-10
    with pytest.raises(ValueError, match="epsilon"):
        numerical_gradient(lambda x: x @ x, point, epsilon=0)
