"""Numerical gradient checking: central differences, full or along random directions."""

from dataclasses import dataclass

import numpy as np

from .validation import check_int, check_random_state


def _value(fun, theta):
    """``fun(theta)`` as a float, whether ``fun`` returns a value or ``(value, grad)``."""
    result = fun(theta)
    if isinstance(result, tuple):
        result = result[0]
    return float(result)


def numerical_gradient(fun, theta, epsilon=1e-4):
    """Central-difference gradient ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``.

    Parameters
    ----------
    fun : callable
        ``fun(theta)`` returning a number or a ``(number, grad)`` pair.
    theta : array-like of shape (n,) or any shape
        Point of evaluation (not modified).
    epsilon : float, default=1e-4

    Returns
    -------
    ndarray of theta's shape, float64
    """
    theta = np.array(theta, dtype=np.float64)
    if epsilon <= 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
    flat = theta.reshape(-1)
    grad = np.empty_like(flat)
    for index in range(flat.size):  # one coordinate per pair of evaluations: inherently a loop
        original = flat[index]
        flat[index] = original + epsilon
        plus = _value(fun, theta)
        flat[index] = original - epsilon
        minus = _value(fun, theta)
        flat[index] = original
        grad[index] = (plus - minus) / (2.0 * epsilon)
    return grad.reshape(theta.shape)


def relative_error(a, b):
    """``||a - b|| / ||a + b||`` (0 when both are 0), the UFLDL measure.

    Parameters
    ----------
    a, b : array-like of the same shape
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    denominator = np.linalg.norm(a + b)
    if denominator == 0.0:
        return 0.0 if np.linalg.norm(a - b) == 0.0 else np.inf
    return float(np.linalg.norm(a - b) / denominator)


@dataclass
class GradientCheck:
    """Result of a gradient check.

    Attributes
    ----------
    analytic : ndarray
        What the function's own gradient says (full check: the gradient;
        directional: the directional derivatives ``g . d``).
    numeric : ndarray
        The central-difference estimate of the same quantities.
    relative_error : float
    """

    analytic: np.ndarray
    numeric: np.ndarray
    relative_error: float

    def __str__(self):
        worst = int(np.argmax(np.abs(self.analytic - self.numeric))) if self.analytic.size else 0
        return (f"relative error {self.relative_error:.3e} over {self.analytic.size} values; "
                f"worst at index {worst}: analytic {self.analytic.flat[worst]:.10e}, "
                f"numeric {self.numeric.flat[worst]:.10e}")


def check_gradient(fun, theta, epsilon=1e-4, n_directions=None, random_state=None):
    """Compare ``fun``'s analytic gradient with central differences.

    Parameters
    ----------
    fun : callable
        ``fun(theta) -> (value, grad)``.
    theta : ndarray of shape (n,)
    epsilon : float, default=1e-4
    n_directions : int, optional
        None: check every coordinate (``2 n`` evaluations).  An integer ``k``:
        check ``k`` random unit directions ``d`` instead, comparing
        ``(f(x + eps d) - f(x - eps d)) / (2 eps)`` with ``grad . d`` (``2 k``
        evaluations, for large vectors).
    random_state : None, int or Generator
        Draws the directions.

    Returns
    -------
    GradientCheck
    """
    theta = np.array(theta, dtype=np.float64)
    _, grad = fun(theta)
    grad = np.array(grad, dtype=np.float64)
    if n_directions is None:
        numeric = numerical_gradient(fun, theta, epsilon)
        return GradientCheck(grad, numeric, relative_error(grad, numeric))
    rng = check_random_state(random_state)
    directions = rng.standard_normal((check_int(n_directions, "n_directions", minimum=1), theta.size))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    analytic = directions @ grad.reshape(-1)
    numeric = np.array([
        (_value(fun, theta + epsilon * d.reshape(theta.shape))
         - _value(fun, theta - epsilon * d.reshape(theta.shape))) / (2.0 * epsilon)
        for d in directions])
    return GradientCheck(analytic, numeric, relative_error(analytic, numeric))
