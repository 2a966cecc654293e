"""Fully connected layer ``z = W a + b`` followed by an activation."""

import numpy as np

from ..parameters import ParamSpec
from .activations import get_activation
from .base import Layer


class Dense(Layer):
    """A fully connected layer.

    Parameters
    ----------
    n_in, n_out : int
        Sizes of the layer's input and output.
    activation : str or Activation, default='sigmoid'

    Notes
    -----
    For inputs ``A`` of shape ``(n_samples, n_in)`` (samples are rows) the
    layer computes ``Z = A W^T + b`` and ``f(Z)``; ``W`` has shape
    ``(n_out, n_in)``, row ``i`` holding the weights into unit ``i``.  ``W``
    is tagged ``'regularizable'`` (weight decay applies), ``b`` is not.
    """

    def __init__(self, n_in, n_out, activation="sigmoid"):
        super().__init__()
        for label, value in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{label} must be a positive integer, got {value!r}")
        self.n_in = int(n_in)
        self.n_out = int(n_out)
        self.activation = get_activation(activation)

    def __repr__(self):
        return f"Dense(n_in={self.n_in}, n_out={self.n_out}, activation={self.activation.name!r})"

    def param_specs(self):
        """``W`` of shape ``(n_out, n_in)`` (weights group), ``b`` of shape ``(n_out,)`` (biases group)."""
        return [
            ParamSpec("W", (self.n_out, self.n_in), "weights", frozenset({"regularizable"})),
            ParamSpec("b", (self.n_out,), "biases", frozenset()),
        ]

    def initialize(self, rng):
        """Draw ``W`` uniform on ``±sqrt(6 / (n_in + n_out + 1))`` and set ``b = 0``, in place.

        Parameters
        ----------
        rng : numpy.random.Generator
        """
        bound = np.sqrt(6.0 / (self.n_in + self.n_out + 1))
        self.parameters["W"][...] = rng.uniform(-bound, bound, size=(self.n_out, self.n_in))
        self.parameters["b"][...] = 0.0

    def forward(self, backend, inputs, weights, bias, out):
        """Write ``f(inputs @ weights.T + bias)`` into ``out`` and return it.

        Parameters
        ----------
        backend : ArrayBackend
        inputs : array of shape (n_samples, n_in)
        weights, bias : backend views of ``W`` and ``b``
        out : array of shape (n_samples, n_out)
        """
        return backend.linear_activate(inputs, weights, bias, self.activation.name, out)
