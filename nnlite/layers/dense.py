"""Fully connected layer ``a = f(W x + b)``: its parameters, forward and backward passes."""

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
    For inputs ``A`` of shape ``(m, n_in)`` (samples are rows) the layer
    computes ``Z = A W^T + b`` and ``f(Z)``; ``W`` has shape
    ``(n_out, n_in)``, row ``i`` holding the weights into unit ``i``.  ``W``
    is tagged ``'regularizable'`` (weight decay applies), ``b`` is not.

    Backward pass, from ``G = dJ_i/df(Z)`` per sample and the activity
    penalties' row ``r`` (SPEC's sparsity term on a hidden layer)::

        D = (G + r) * f'(Z)          (f' from the outputs: a (1 - a) for sigmoid)
        dJ/dW = D^T A / m,   dJ/db = sum_rows(D) / m,   dJ/dA = D W

    ``D`` overwrites ``G`` (one fused backend pass), so no extra array is
    needed.
    """

    def __init__(self, n_in, n_out, activation="sigmoid"):
        super().__init__()
        self.n_in = self.check_size(n_in, "n_in")
        self.n_out = self.check_size(n_out, "n_out")
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

    def forward(self, backend, inputs, params, out):
        """Write ``f(inputs @ W.T + b)`` into ``out`` (shape ``(n_samples, n_out)``) and return it."""
        return backend.linear_activate(inputs, params["W"], params["b"], self.activation.name, out)

    def backward(self, backend, inputs, outputs, delta_out, params, grads, delta_in, scale,
                 scratch, row=None, buffers=None):
        """``D = (delta_out + row) * f'``; ``grads['W'] = scale D^T inputs``, ``grads['b'] = scale sum_rows(D)``; ``delta_in = D W``.

        See :meth:`Layer.backward` for the arguments; ``delta_out`` becomes ``D``.
        One backend call (:meth:`~nnlite.backend.base.ArrayBackend.dense_backward`), which
        the numpy backend fuses per cache-sized block so ``D`` is read from memory once.
        """
        return backend.dense_backward(self.activation.name, inputs, outputs, delta_out, params["W"],
                                      grads["W"], grads["b"], delta_in, scale, scratch, row)
