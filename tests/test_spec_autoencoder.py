"""spec_api.autoencoder and spec_api.gradient: SPEC's signatures, equal to the library."""

import numpy as np
import pytest

from nnlite import build_autoencoder
from nnlite.gradcheck import relative_error
from spec_api import autoencoder as spec
from spec_api.gradient import check_gradient, compute_gradient


@pytest.mark.parametrize("hidden", [np.array([75]), np.array([20, 8, 20])])
def test_initialize_follows_spec(hidden):
    spec.set_random_state(0)
    theta = spec.initialize(hidden, 192)
    sizes = [192] + list(hidden) + [192]
    n_weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    assert theta.shape == (n_weights + sum(sizes[1:]),)
    assert np.all(theta[n_weights:] == 0)
    offset = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        block = theta[offset:offset + n_in * n_out]
        bound = np.sqrt(6 / (n_in + n_out + 1))
        assert np.all(np.abs(block) <= bound) and np.abs(block).max() > 0.9 * bound
        offset += n_in * n_out
    spec.set_random_state(0)
    np.testing.assert_array_equal(spec.initialize(hidden, 192), theta)


@pytest.mark.parametrize("hidden", [np.array([6]), np.array([8, 3, 8])])
def test_loss_and_transform_equal_the_library(hidden, rng):
    data = rng.uniform(0.1, 0.9, (40, 16))
    theta = spec.initialize(hidden, 16) + rng.normal(0, 0.05, size=spec.initialize(hidden, 16).shape)
    cost, grad = spec.autoencoder_loss(theta, 16, hidden, 1e-3, 0.05, 2.0, data)
    assert isinstance(cost, float) and grad.shape == theta.shape
    net = build_autoencoder(16, list(hidden), lambda_=1e-3, sparsity_param=0.05, beta=2.0)
    lib_cost, lib_grad = net.loss_and_grad(theta, data)
    assert cost == lib_cost
    np.testing.assert_array_equal(grad, lib_grad)
    np.testing.assert_array_equal(spec.autoencoder_transform(theta, 16, hidden, 1, data), data)
    for layer_number in range(2, len(hidden) + 3):
        np.testing.assert_array_equal(spec.autoencoder_transform(theta, 16, hidden, layer_number, data),
                                      net.forward(data, stop=layer_number - 1))
    assert spec.autoencoder_transform(theta, 16, hidden, 2, data).shape == (40, hidden[0])


def test_spec_defaults_gradient_matches_numeric(rng):
    hidden = np.array([4])
    data = rng.uniform(0.1, 0.9, (10, 8))
    theta = spec.initialize(hidden, 8) + rng.normal(0, 0.1, size=spec.initialize(hidden, 8).shape)

    def J(t):
        return spec.autoencoder_loss(t, 8, hidden, 1e-4, 0.01, 3.0, data)

    assert relative_error(compute_gradient(J, theta), J(theta)[1]) <= 1e-7


def test_check_gradient_reports_small_error(capsys):
    assert check_gradient() < 1e-7
    assert "relative error" in capsys.readouterr().out


def test_compute_gradient_accepts_a_plain_function():
    np.testing.assert_allclose(compute_gradient(lambda x: np.sum(x ** 2), np.array([1.0, -2.0])),
                               [2.0, -4.0], rtol=1e-9)


@pytest.mark.parametrize("call, message", [
    (lambda d: spec.autoencoder_loss(np.zeros(5), 16, np.array([6]), 1e-4, 0.01, 3, d), "length 5, expected"),
    (lambda d: spec.autoencoder_loss(spec.initialize(np.array([6]), 16), 16, np.array([6, 3]), 1e-4, 0.01, 3, d), "symmetric"),
    (lambda d: spec.autoencoder_loss(spec.initialize(np.array([6]), 16), 16, np.array([6]), 1e-4, 1.2, 3, d), "sparsity_param"),
    (lambda d: spec.autoencoder_loss(spec.initialize(np.array([6]), 16), 16, np.array([6]), -1, 0.01, 3, d), "lambda_"),
    (lambda d: spec.autoencoder_loss(spec.initialize(np.array([6]), 16), 16, np.array([6]), 1e-4, 0.01, -3, d), "beta"),
    (lambda d: spec.autoencoder_loss(spec.initialize(np.array([6]), 16), 16, np.array([6]), 1e-4, 0.01, 3, d[:, :5]), "5 columns, expected 16"),
    (lambda d: spec.autoencoder_transform(spec.initialize(np.array([6]), 16), 16, np.array([6]), 4, d), r"layer_number must be an integer in \[1, 3\], got 4"),
    (lambda d: spec.autoencoder_transform(spec.initialize(np.array([6]), 16), 16, np.array([6]), 0, d), "layer_number"),
    (lambda d: spec.initialize(np.array([]), 16), "at least one hidden layer"),
    (lambda d: spec.initialize(np.array([0]), 16), "> 0"),
])
def test_bad_inputs(call, message, rng):
    with pytest.raises(ValueError, match=message):
        call(rng.uniform(0.1, 0.9, (10, 16)))


def test_data_with_nan_is_refused(rng):
    data = rng.uniform(0.1, 0.9, (10, 16))
    data[3, 4] = np.inf
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        spec.autoencoder_loss(spec.initialize(np.array([6]), 16), 16, np.array([6]), 1e-4, 0.01, 3, data)
