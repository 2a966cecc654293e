"""New layer types defined here, outside the package, run in a Network unchanged.

Two layers written only against :class:`nnlite.layers.Layer` and the array
backend's operations:

* ``TiedDense``: a decoder ``f(x W_enc + c)`` that reuses the transpose of an
  encoder's ``W``; it owns only its bias ``c`` and adds its part of
  ``dJ/dW_enc`` into the encoder's gradient (``backward_shared``);
* ``Scale``: ``f(s * x)`` with one learnable scalar per unit.

Networks built from them with SquaredError + WeightDecay + KLSparsity are
checked against central differences (float64, relative error <= 1e-7) and
their cost against a direct numpy formula.
"""

import numpy as np
import pytest

from nnlite import Dense, KLSparsity, Network, SquaredError, WeightDecay
from nnlite.gradcheck import check_gradient
from nnlite.layers import Layer, get_activation
from nnlite.parameters import ParamSpec

TOLERANCE = 1e-7


class TiedDense(Layer):
    """Decoder tied to ``encoder``: ``a = f(x W + c)``, ``W`` the encoder's ``(n_in, n_out)`` matrix."""

    def __init__(self, encoder, activation="sigmoid"):
        super().__init__()
        self.encoder = encoder
        self.n_in, self.n_out = encoder.n_out, encoder.n_in
        self.activation = get_activation(activation)

    def __repr__(self):
        return f"TiedDense({self.encoder!r})"

    def param_specs(self):
        return [ParamSpec("c", (self.n_out,), "biases")]

    def shared_params(self):
        return {"W": (self.encoder, "W")}

    def initialize(self, rng):
        self.parameters["c"][...] = 0.0

    def buffer_shapes(self, n_samples):
        return {"W_grad": (self.n_in, self.n_out)}

    def forward(self, backend, inputs, params, out):
        backend.backprop(inputs, params["W"], out)            # x @ W
        backend.add_row_(out, params["c"])
        return self.activation.apply_(backend, out)

    def backward(self, backend, inputs, outputs, delta_out, params, grads, delta_in, scale,
                 scratch, row=None, buffers=None):
        backend.add_row_mul_derivative_(self.activation.name, outputs, delta_out, row, scratch)
        backend.column_sum(delta_out, grads["c"], scale)
        if delta_in is not None:
            backend.backprop(delta_out, params["W"].T, delta_in)   # D @ W^T
        return delta_in

    def backward_shared(self, backend, inputs, delta_out, params, grads, scale, buffers=None):
        # dJ/dW_enc += scale * x^T D  (shape (n_in, n_out) = the encoder's W).
        contribution = backend.weight_grad(inputs, delta_out, buffers["W_grad"], scale)
        backend.axpy_(1.0, contribution, grads["W"])


class Scale(Layer):
    """``a = f(s * x)`` with a learnable scale ``s`` of shape ``(n,)`` (not decayed)."""

    def __init__(self, n, activation="sigmoid"):
        super().__init__()
        self.n_in = self.n_out = self.check_size(n, "n")
        self.activation = get_activation(activation)

    def __repr__(self):
        return f"Scale({self.n_in}, {self.activation.name!r})"

    def param_specs(self):
        return [ParamSpec("s", (self.n_out,), "weights")]

    def initialize(self, rng):
        self.parameters["s"][...] = 1.0

    def forward(self, backend, inputs, params, out):
        backend.xp.multiply(inputs, params["s"], out=out)
        return self.activation.apply_(backend, out)

    def backward(self, backend, inputs, outputs, delta_out, params, grads, delta_in, scale,
                 scratch, row=None, buffers=None):
        backend.add_row_mul_derivative_(self.activation.name, outputs, delta_out, row, scratch)
        backend.xp.multiply(delta_out, inputs, out=scratch)
        backend.column_sum(scratch, grads["s"], scale)
        if delta_in is not None:
            backend.xp.multiply(delta_out, params["s"], out=delta_in)
        return delta_in


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def kl(rho, rho_hat):
    return np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))


LAMBDA, RHO, BETA = 1e-3, 0.1, 3.0


def regularizers():
    return [WeightDecay(LAMBDA), KLSparsity(RHO, BETA)]


def randomize(net, rng):
    """Random parameters, biases and scales included, written into the network's theta."""
    net.initialize(rng)
    theta = net.theta.copy()
    first_bias = min(entry.offset for entry in net.table if entry.name in ("b", "c"))
    theta[first_bias:] = rng.uniform(-0.5, 0.5, net.n_params - first_bias)
    for entry in net.table:
        if entry.name == "s":
            theta[entry.offset:entry.stop] = rng.uniform(0.5, 1.5, entry.size)
    return net.set_theta(theta).copy()


def assert_gradient(net, data, theta):
    result = check_gradient(net.objective(data), theta)
    assert result.relative_error <= TOLERANCE, str(result)


def tied_network(visible=8, hidden=5, dtype="float64"):
    encoder = Dense(visible, hidden, "sigmoid")
    return Network([encoder, TiedDense(encoder, "sigmoid")], loss=SquaredError(),
                   regularizers=regularizers(), dtype=dtype)


def test_tied_layer_owns_only_its_bias_and_views_the_encoder_weights():
    net = tied_network(8, 5)
    encoder, decoder = net.layers
    assert net.n_params == 5 * 8 + 5 + 8
    assert [(e.layer_index, e.name) for e in net.table] == [(0, "W"), (0, "b"), (1, "c")]
    assert decoder.W is encoder.W and np.shares_memory(decoder.c, net.theta)


def test_tied_autoencoder_cost_and_gradient(rng):
    net = tied_network(8, 5)
    data = rng.uniform(0.1, 0.9, (30, 8))
    theta = randomize(net, rng)
    W, b, c = theta[:40].reshape(5, 8), theta[40:45], theta[45:]
    hidden = sigmoid(data @ W.T + b)
    output = sigmoid(hidden @ W + c)
    expected = (0.5 * np.sum((output - data) ** 2) / 30 + LAMBDA / 2 * np.sum(W ** 2)
                + BETA * kl(RHO, hidden.mean(axis=0)))
    cost, _ = net.loss_and_grad(theta, data)
    np.testing.assert_allclose(cost, expected, rtol=1e-12)
    np.testing.assert_allclose(net.forward(data, chunk_size=7), output, rtol=1e-12)
    assert_gradient(net, data, theta)


def test_tied_gradient_includes_the_decoder_part(rng):
    # Dropping backward_shared's contribution must break the check (the test can fail).
    net = tied_network(6, 4)
    data = rng.uniform(0.1, 0.9, (20, 6))
    theta = randomize(net, rng)
    net.layers[1].backward_shared = lambda *args, **kwargs: None
    assert check_gradient(net.objective(data), theta).relative_error > 1e-3


def test_scale_layer_between_dense_layers(rng):
    net = Network([Dense(7, 4, "sigmoid"), Scale(4, "sigmoid"), Dense(4, 7, "sigmoid")],
                  regularizers=regularizers())
    data = rng.uniform(0.1, 0.9, (25, 7))
    theta = randomize(net, rng)
    assert_gradient(net, data, theta)
    cost, _ = net.loss_and_grad(theta, data)
    W1, W2 = net.layers[0].W, net.layers[2].W
    h1 = sigmoid(data @ W1.T + net.layers[0].b)
    h2 = sigmoid(h1 * net.layers[1].s)
    out = sigmoid(h2 @ W2.T + net.layers[2].b)
    expected = (0.5 * np.sum((out - data) ** 2) / 25 + LAMBDA / 2 * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
                + BETA * (kl(RHO, h1.mean(axis=0)) + kl(RHO, h2.mean(axis=0))))
    np.testing.assert_allclose(cost, expected, rtol=1e-12)


def test_scale_and_tied_layers_together(rng):
    encoder = Dense(9, 5, "sigmoid")
    net = Network([encoder, Scale(5, "sigmoid"), TiedDense(encoder, "identity")], regularizers=regularizers())
    data = rng.uniform(0.1, 0.9, (30, 9))
    assert_gradient(net, data, randomize(net, rng))


def test_float32_agrees_with_float64(rng):
    data = rng.uniform(0.1, 0.9, (30, 8))
    reference = tied_network(8, 5)
    theta = randomize(reference, rng)
    cost64, grad64 = reference.loss_and_grad(theta, data)
    cost32, grad32 = tied_network(8, 5, dtype="float32").loss_and_grad(theta, data)
    assert abs(cost32 - cost64) <= 1e-5 * abs(cost64)
    assert np.linalg.norm(grad32 - grad64) <= 1e-4 * np.linalg.norm(grad64)


class DuckLayer:
    """Looks like a layer (sizes, forward) but does not subclass Layer."""

    n_in = n_out = 4

    def forward(self, backend, inputs, params, out):
        out[...] = inputs
        return out


@pytest.mark.parametrize("bad", [object(), DuckLayer(), "dense"])
def test_non_layer_objects_are_refused(bad):
    with pytest.raises(ValueError, match=r"layer 1 must be an nnlite\.layers\.Layer"):
        Network([Dense(4, 4), bad])


def test_sizes_must_chain_and_be_positive_integers():
    with pytest.raises(ValueError, match="layer 0 outputs 5 units but layer 1 expects 4 inputs"):
        Network([Dense(4, 5), Scale(4)])
    broken = Scale(3)
    broken.n_out = 2.5
    with pytest.raises(ValueError, match=r"layer 0 \(Scale\) n_out must be a positive integer, got 2\.5"):
        Network([broken])


def test_shared_parameter_owner_must_be_in_the_network():
    outsider = Dense(6, 3)
    with pytest.raises(ValueError, match="not a layer of this network"):
        Network([Dense(6, 3), TiedDense(outsider)])
    encoder = Dense(6, 3)
    clash = TiedDense(encoder)
    clash.param_specs = lambda: [ParamSpec("W", (6, 3))]
    with pytest.raises(ValueError, match="both its own parameter and a shared one 'W'"):
        Network([encoder, clash])


class Linear(Scale):
    """A Scale without activation: no activity penalty can act on it."""

    def __init__(self, n):
        super().__init__(n)
        self.activation = None

    def __repr__(self):
        return f"Linear({self.n_in})"


def test_activity_penalty_needs_an_activation():
    with pytest.raises(ValueError, match="declares no activation"):
        Network([Linear(4), Dense(4, 4)], regularizers=[KLSparsity()])
    Network([Linear(4), Dense(4, 4)], regularizers=[WeightDecay()])  # no activity penalty: fine
