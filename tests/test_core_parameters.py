"""The flat parameter buffer: SPEC's layout, views, in-place loading, detection of replaced views."""

import numpy as np
import pytest

from nnlite import build_autoencoder
from nnlite.parameters import ParameterTable, ParamSpec


def test_theta_layout_matches_spec_one_hidden_layer(rng):
    V, H = 12, 5
    net = build_autoencoder(V, H)
    theta = rng.standard_normal(net.n_params)
    net.set_theta(theta)
    assert net.n_params == H * V + V * H + H + V
    np.testing.assert_array_equal(theta[:H * V].reshape(H, V), net.layers[0].W)
    np.testing.assert_array_equal(theta[H * V:2 * H * V].reshape(V, H), net.layers[1].W)
    np.testing.assert_array_equal(theta[2 * H * V:2 * H * V + H], net.layers[0].b)
    np.testing.assert_array_equal(theta[2 * H * V + H:], net.layers[1].b)


def test_theta_layout_three_hidden_layers(rng):
    sizes = [10, 6, 3, 6, 10]
    net = build_autoencoder(10, [6, 3, 6])
    theta = rng.standard_normal(net.n_params)
    net.set_theta(theta)
    offset = 0
    for layer, (n_in, n_out) in zip(net.layers, zip(sizes[:-1], sizes[1:])):
        np.testing.assert_array_equal(theta[offset:offset + n_in * n_out].reshape(n_out, n_in), layer.W)
        offset += n_in * n_out
    for layer in net.layers:
        np.testing.assert_array_equal(theta[offset:offset + layer.n_out], layer.b)
        offset += layer.n_out
    assert offset == net.n_params


def test_views_share_the_one_buffer_and_loading_does_not_reallocate(rng):
    net = build_autoencoder(8, 4)
    buffer = net.theta
    address = buffer.__array_interface__["data"][0]
    for layer in net.layers:
        assert np.shares_memory(layer.W, buffer) and np.shares_memory(layer.b, buffer)
    net.set_theta(rng.standard_normal(net.n_params))
    data = rng.uniform(0.1, 0.9, (5, 8))
    net.loss_and_grad(rng.standard_normal(net.n_params), data)
    assert net.theta is buffer and net.theta.__array_interface__["data"][0] == address
    assert np.shares_memory(net.layers[0].W, net.theta)


def test_assigning_a_parameter_writes_into_the_buffer(rng):
    net = build_autoencoder(8, 4)
    net.initialize(0)
    layer = net.layers[0]
    layer.W = layer.W * 2          # the classic accident: would detach a plain attribute
    assert np.shares_memory(layer.W, net.theta)
    np.testing.assert_array_equal(net.theta[:32].reshape(4, 8), layer.W)
    with pytest.raises(ValueError, match="shape"):
        layer.W = np.zeros((3, 3))


def test_replaced_view_is_detected(rng):
    net = build_autoencoder(8, 4)
    net.layers[0].parameters["W"] = np.zeros((4, 8))   # bypasses the guard on purpose
    with pytest.raises(RuntimeError, match="flat buffer"):
        net.loss_and_grad(net.theta, rng.uniform(0.1, 0.9, (3, 8)))


def test_table_groups_and_spans():
    table = ParameterTable([
        [ParamSpec("W", (2, 3), "weights", frozenset({"regularizable"})), ParamSpec("b", (2,), "biases")],
        [ParamSpec("W", (3, 2), "weights", frozenset({"regularizable"})), ParamSpec("b", (3,), "biases")],
    ])
    assert [(e.layer_index, e.name, e.offset) for e in table] == [(0, "W", 0), (1, "W", 6), (0, "b", 12), (1, "b", 14)]
    assert table.spans("regularizable") == [(0, 12)]
    assert table.size == 17
    with pytest.raises(ValueError, match="group"):
        ParameterTable([[ParamSpec("W", (2, 2), "other")]])


def test_wrong_theta_length_names_both_lengths(rng):
    net = build_autoencoder(8, 4)
    with pytest.raises(ValueError, match=r"length 10, expected 76"):
        net.loss_and_grad(np.zeros(10), rng.uniform(0.1, 0.9, (3, 8)))
    with pytest.raises(ValueError, match="1-D"):
        net.set_theta(np.zeros((2, 38)))
