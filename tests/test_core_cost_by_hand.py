"""One cost worked out by hand, scalar by scalar, on a 2-1-2 network with two samples."""

import math

import numpy as np

from nnlite import build_autoencoder


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def test_cost_of_a_tiny_network_by_hand():
    lam, rho, beta = 0.01, 0.2, 3.0
    w1 = [0.4, -0.6]          # W(1): 1 x 2
    b1 = 0.1
    w2 = [0.3, -0.2]          # W(2): 2 x 1
    b2 = [0.05, -0.1]
    samples = [(0.5, 0.2), (0.9, 0.1)]

    squared = 0.0
    hidden = []
    for x0, x1 in samples:
        a2 = sigmoid(w1[0] * x0 + w1[1] * x1 + b1)
        hidden.append(a2)
        out0 = sigmoid(w2[0] * a2 + b2[0])
        out1 = sigmoid(w2[1] * a2 + b2[1])
        squared += 0.5 * ((out0 - x0) ** 2 + (out1 - x1) ** 2)
    data_term = squared / 2
    decay = lam / 2 * (0.4 ** 2 + 0.6 ** 2 + 0.3 ** 2 + 0.2 ** 2)
    rho_hat = sum(hidden) / 2
    kl = rho * math.log(rho / rho_hat) + (1 - rho) * math.log((1 - rho) / (1 - rho_hat))
    expected = data_term + decay + beta * kl

    net = build_autoencoder(2, [1], lambda_=lam, sparsity_param=rho, beta=beta)
    # SPEC layout: W1 (1x2), W2 (2x1), b1 (1), b2 (2)
    theta = np.array([0.4, -0.6, 0.3, -0.2, 0.1, 0.05, -0.1])
    cost, grad = net.loss_and_grad(theta, np.array(samples))
    assert math.isclose(cost, expected, rel_tol=1e-12)
    assert grad.shape == theta.shape

    # The bias gradient of the hidden unit by hand (SPEC's delta with the sparsity term).
    sparsity_delta = beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))
    grad_b1 = 0.0
    for (x0, x1), a2 in zip(samples, hidden):
        out = [sigmoid(w2[0] * a2 + b2[0]), sigmoid(w2[1] * a2 + b2[1])]
        delta3 = [(out[k] - x) * out[k] * (1 - out[k]) for k, x in enumerate((x0, x1))]
        delta2 = (w2[0] * delta3[0] + w2[1] * delta3[1] + sparsity_delta) * a2 * (1 - a2)
        grad_b1 += delta2 / 2
    assert math.isclose(grad[4], grad_b1, rel_tol=1e-12)
