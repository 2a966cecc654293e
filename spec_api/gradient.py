"""The assignment's ``gradient`` module: numerical gradients and their self-check."""

import numpy as np

from nnlite.gradcheck import numerical_gradient, relative_error

#: Step of the central differences.
EPSILON = 1e-4


def compute_gradient(J, theta):
    """Central-difference gradient of ``J`` at ``theta``.

    Parameters
    ----------
    J : callable
        ``J(theta)`` returning a number or a ``(number, gradient)`` pair.
    theta : ndarray
        Point of evaluation.

    Returns
    -------
    ndarray of theta's shape
        ``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` for every
        coordinate ``i`` (``eps = 1e-4``).
    """
    return numerical_gradient(J, theta, EPSILON)


def _polynomials():
    """Functions with known gradients: (name, f, exact gradient, point)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(5)
    matrix = rng.standard_normal((4, 4))
    symmetric = matrix + matrix.T
    return [
        ("linear a.x + 3", lambda x: a @ x + 3.0, lambda x: a, rng.standard_normal(5)),
        ("quadratic x^T S x / 2", lambda x: 0.5 * x @ symmetric @ x, lambda x: symmetric @ x,
         rng.standard_normal(4)),
        ("cubic sum x^3 - 2 x1 x2", lambda x: np.sum(x ** 3) - 2 * x[0] * x[1],
         lambda x: 3 * x ** 2 - 2 * np.array([x[1], x[0], 0.0]), rng.standard_normal(3)),
        ("x1^2 x2 + x2^3 (value, grad) pair", lambda x: (x[0] ** 2 * x[1] + x[1] ** 3, None),
         lambda x: np.array([2 * x[0] * x[1], x[0] ** 2 + 3 * x[1] ** 2]), rng.standard_normal(2)),
    ]


def check_gradient():
    """Check :func:`compute_gradient` on low-degree polynomials with known gradients.

    Prints one line per function and returns the largest relative error
    ``||numeric - exact|| / ||numeric + exact||`` (about 1e-10 or smaller
    when ``compute_gradient`` is right: central differences are exact up to
    rounding for polynomials of degree <= 2 and have an ``eps^2`` error for
    cubics).

    Returns
    -------
    float
    """
    worst = 0.0
    for name, function, exact, point in _polynomials():
        error = relative_error(compute_gradient(function, point), exact(point))
        print(f"{name:40s} relative error {error:.3e}")
        worst = max(worst, error)
    return worst
