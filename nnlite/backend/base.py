"""The array operations that nnlite's network math is written against.

Every cost and gradient evaluation is expressed with the handful of methods of
:class:`ArrayBackend`, so that the same network code runs on numpy (the
default), on CuPy and on CUDAMat.  The reference implementation below uses a
numpy-compatible namespace ``self.xp``; :mod:`nnlite.backend.numpy_backend`
uses it with numpy itself, other backends override what they can fuse or what
their library spells differently.

Conventions shared by every method:

* 2-D activation and delta arrays have shape ``(n_samples, n_units)``: samples
  are rows, as in the rest of nnlite.
* Methods whose name ends in ``_`` work in place on their first array
  argument; methods taking ``out`` write into it and return it.
* Scalars (costs) come back as backend scalars; :meth:`ArrayBackend.to_float`
  turns one into a Python float (the only place a device would synchronise).
"""

from typing import Any, NamedTuple

import numpy as np

ACTIVATION_NAMES = ("sigmoid", "relu", "identity")


class DenseStep(NamedTuple):
    """The arguments of one :meth:`ArrayBackend.dense_backward` call, in its order.

    Used by :meth:`ArrayBackend.dense_squared_error` for the layer below the
    output layer.
    """

    name: str
    inputs: Any
    outputs: Any
    delta: Any
    weights: Any
    grad_weights: Any
    grad_bias: Any
    delta_in: Any
    scale: float
    scratch: Any
    row: Any = None


class ArrayBackend:
    """Reference implementation of the backend interface over ``self.xp``.

    Parameters
    ----------
    dtype : {'float64', 'float32'}, default='float64'
        Precision of every array the backend allocates.  Parameters handed to
        scipy stay float64 on the host whatever this is.
    """

    name = "abstract"
    xp = np

    def __init__(self, dtype="float64"):
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype.name!r}")
        self.dtype = dtype

    def __repr__(self):
        return f"{type(self).__name__}(dtype={self.dtype.name!r})"

    # ------------------------------------------------------------------ memory
    def empty(self, shape):
        """Uninitialised array of ``shape`` in the backend's dtype."""
        return self.xp.empty(shape, dtype=self.dtype)

    def zeros(self, shape):
        """Zero-filled array of ``shape`` in the backend's dtype."""
        return self.xp.zeros(shape, dtype=self.dtype)

    def asarray(self, host_array):
        """Copy (or, where possible, reuse) a host array as a C-ordered backend array."""
        return self.xp.ascontiguousarray(self.xp.asarray(host_array, dtype=self.dtype))

    def to_host(self, array):
        """Return ``array`` as a numpy array (no copy where it already is one)."""
        return np.asarray(array)

    def to_float(self, scalar):
        """Convert a backend scalar (0-d array or number) to a Python float."""
        return float(scalar)

    def view(self, flat, offset, shape):
        """A view of ``flat[offset:offset + prod(shape)]`` reshaped to ``shape`` (C order)."""
        size = int(np.prod(shape))
        return flat[offset:offset + size].reshape(shape)

    def load_flat(self, host_vector, flat):
        """Copy the host float64 vector into the backend flat buffer ``flat`` in place."""
        flat[...] = self.xp.asarray(host_vector)

    def store_flat(self, flat, host_out):
        """Copy the backend flat buffer into the host float64 vector ``host_out``."""
        host_out[...] = self.to_host(flat)

    # -------------------------------------------------------------- dense math
    def linear(self, inputs, weights, bias, out):
        """``out = inputs @ weights.T + bias``.

        Parameters
        ----------
        inputs : array of shape (n_samples, n_in)
        weights : array of shape (n_out, n_in)
        bias : array of shape (n_out,)
        out : array of shape (n_samples, n_out)
        """
        self.xp.matmul(inputs, weights.T, out=out)
        out += bias
        return out

    def linear_activate(self, inputs, weights, bias, name, out):
        """``out = f(inputs @ weights.T + bias)`` for activation ``name``.

        The default is :meth:`linear` then :meth:`activate_`; backends may
        fuse the bias into the activation pass.
        """
        self.linear(inputs, weights, bias, out)
        return self.activate_(name, out)

    def linear_activate_column_sum(self, inputs, weights, bias, name, out, sums, scale=1.0):
        """:meth:`linear_activate` into ``out``, and ``sums = scale * out.sum(axis=0)``.

        A fusion hook (the forward step of a hidden layer whose activity
        penalty needs only the activations' column means): backends may sum
        each block of activations while it is in cache.

        Parameters
        ----------
        inputs : array of shape (n_samples, n_in)
        weights : array of shape (n_out, n_in)
        bias : array of shape (n_out,)
        name : str
        out : array of shape (n_samples, n_out)
        sums : array of shape (n_out,)
        scale : float

        Returns
        -------
        out
        """
        self.linear_activate(inputs, weights, bias, name, out)
        self.column_sum(out, sums, scale)
        return out

    def weight_grad(self, delta, inputs, out, scale):
        """``out = scale * delta.T @ inputs`` (shape ``(n_out, n_in)``)."""
        self.xp.matmul(delta.T, inputs, out=out)
        out *= scale
        return out

    def backprop(self, delta, weights, out):
        """``out = delta @ weights`` (shape ``(n_samples, n_in)``)."""
        self.xp.matmul(delta, weights, out=out)
        return out

    def column_sum(self, array, out, scale=1.0):
        """``out = scale * array.sum(axis=0)`` (shape ``(n_units,)``)."""
        self.xp.sum(array, axis=0, out=out)
        out *= scale
        return out

    def add_row_(self, array, row):
        """``array += row`` broadcast over the rows of ``array``."""
        array += row
        return array

    # ------------------------------------------------------------ activations
    def activate_(self, name, z):
        """Apply activation ``name`` to ``z`` in place; ``z`` becomes the activations."""
        xp = self.xp
        if name == "sigmoid":
            # 1 / (1 + exp(-z)), in place; exp overflows to inf for very negative
            # z and 1 / inf = 0 is the right limit.
            with np.errstate(over="ignore"):
                xp.negative(z, out=z)
                xp.exp(z, out=z)
                z += 1.0
                xp.reciprocal(z, out=z)
        elif name == "relu":
            xp.maximum(z, 0, out=z)
        elif name != "identity":
            raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATION_NAMES}")
        return z

    def mul_derivative_(self, name, activations, delta, scratch):
        """``delta *= f'(z)``, with ``f'`` computed from the activations ``f(z)``.

        ``scratch`` is a preallocated array of the same shape, overwritten.
        sigmoid: ``f' = a (1 - a)``; relu: ``f' = [a > 0]``; identity: 1.
        """
        xp = self.xp
        if name == "sigmoid":
            xp.subtract(1.0, activations, out=scratch)
            scratch *= activations
            delta *= scratch
        elif name == "relu":
            xp.greater(activations, 0, out=scratch)
            delta *= scratch
        elif name != "identity":
            raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATION_NAMES}")
        return delta

    def add_row_mul_derivative_(self, name, activations, delta, row, scratch):
        """``delta = (delta + row) * f'(z)``, ``f'`` from the activations (see :meth:`mul_derivative_`).

        ``row`` (shape ``(n_units,)``) is the activity penalties' term; None
        skips the addition.  Backends may fuse both passes.
        """
        if row is not None:
            self.add_row_(delta, row)
        return self.mul_derivative_(name, activations, delta, scratch)

    def dense_backward(self, name, inputs, outputs, delta, weights, grad_weights, grad_bias,
                       delta_in, scale, scratch, row=None):
        """A dense layer's whole backward step, which backends may fuse into one pass.

        In order: ``delta = (delta + row) * f'`` (:meth:`add_row_mul_derivative_`),
        ``grad_weights = scale * delta.T @ inputs`` (:meth:`weight_grad`),
        ``grad_bias = scale * delta.sum(axis=0)`` (:meth:`column_sum`) and,
        unless ``delta_in`` is None, ``delta_in = delta @ weights``
        (:meth:`backprop`).

        Parameters
        ----------
        name : str
            The layer's activation.
        inputs : array of shape (n_samples, n_in)
        outputs : array of shape (n_samples, n_out)
            The layer's activations ``f(z)``.
        delta : array of shape (n_samples, n_out)
            ``dJ/d outputs`` per sample; becomes ``dJ/dz``.
        weights : array of shape (n_out, n_in)
        grad_weights : array of shape (n_out, n_in)
        grad_bias : array of shape (n_out,)
        delta_in : array of shape (n_samples, n_in) or None
        scale : float
        scratch : array of shape (n_samples, n_out)
        row : array of shape (n_out,) or None

        Returns
        -------
        delta_in
        """
        self.add_row_mul_derivative_(name, outputs, delta, row, scratch)
        self.weight_grad(delta, inputs, grad_weights, scale)
        self.column_sum(delta, grad_bias, scale)
        if delta_in is not None:
            self.backprop(delta, weights, delta_in)
        return delta_in

    def dense_squared_error(self, name, inputs, weights, bias, targets, outputs, delta, grad_weights,
                            grad_bias, delta_in, scale, scratch, below=None):
        """An output layer's forward step, the squared error and the layer's backward step in one call.

        The same as :meth:`linear_activate` into ``outputs``, then
        :meth:`squared_error` into ``delta``, then :meth:`dense_backward`
        (without a row), then, when ``below`` is given, the backward step of
        the Dense layer below (``dense_backward(*below)``); backends may fuse
        them so that the outputs and the deltas never go to memory.

        Parameters
        ----------
        name : str
            The layer's activation.
        inputs : array of shape (n_samples, n_in)
        weights : array of shape (n_out, n_in)
        bias : array of shape (n_out,)
        targets : array of shape (n_samples, n_out)
        outputs, delta, scratch : arrays of shape (n_samples, n_out)
            Storage the backend may use; their contents afterwards are unspecified.
        grad_weights : array of shape (n_out, n_in)
        grad_bias : array of shape (n_out,)
        delta_in : array of shape (n_samples, n_in) or None
            Receives ``dJ/d inputs`` per sample (unless None).
        scale : float
            Factor of both gradients (``1 / n_samples`` for a mean).
        below : DenseStep, optional
            The backward step of the layer whose outputs are ``inputs``; its
            ``delta`` must be ``delta_in`` (then also of unspecified contents
            afterwards), its ``row`` the activity penalties' row, known before
            this call.

        Returns
        -------
        backend scalar
            ``0.5 * sum((outputs - targets) ** 2)``, as :meth:`squared_error` returns.
        """
        self.linear_activate(inputs, weights, bias, name, outputs)
        half_sum = self.squared_error(outputs, targets, delta)
        self.dense_backward(name, inputs, outputs, delta, weights, grad_weights, grad_bias, delta_in,
                            scale, scratch)
        if below is not None:
            self.dense_backward(*below)
        return half_sum

    # ----------------------------------------------------------------- losses
    def squared_error(self, outputs, targets, delta):
        """Write ``delta = outputs - targets`` and return ``0.5 * sum(delta ** 2)``."""
        self.xp.subtract(outputs, targets, out=delta)
        flat = delta.reshape(-1)
        return 0.5 * self.xp.dot(flat, flat)

    def sum_squares(self, vector):
        """``sum(vector ** 2)`` of a 1-D array."""
        return self.xp.dot(vector, vector)

    def axpy_(self, alpha, x, y):
        """``y += alpha * x`` for 1-D arrays."""
        y += alpha * x
        return y

    def kl_sparsity(self, mean_activation, rho, kind, eps, out):
        """KL sparsity penalty of mean activations and its derivative.

        Parameters
        ----------
        mean_activation : array of shape (n_units,)
            ``rho_hat``; clipped into ``[eps, 1 - eps]`` (``kind='bernoulli'``)
            or ``[eps, inf)`` (``kind='poisson'``) before use.
        rho : float
            Target mean activation.
        kind : {'bernoulli', 'poisson'}
            ``'bernoulli'``: ``rho log(rho/r) + (1-rho) log((1-rho)/(1-r))``,
            derivative ``-rho/r + (1-rho)/(1-r)``.  ``'poisson'`` (generalised
            KL for non-negative, unbounded activations):
            ``rho log(rho/r) - rho + r``, derivative ``1 - rho/r``.
        eps : float
            Clipping margin.
        out : array of shape (n_units,)
            Receives the derivative with respect to ``rho_hat``.

        Returns
        -------
        penalty : backend scalar
            The penalty summed over units.
        """
        xp = self.xp
        upper = 1.0 - eps if kind == "bernoulli" else None
        r = xp.clip(mean_activation, eps, upper)
        if kind == "bernoulli":
            penalty = xp.sum(rho * xp.log(rho / r) + (1.0 - rho) * xp.log((1.0 - rho) / (1.0 - r)))
            xp.divide(1.0 - rho, 1.0 - r, out=out)
            out -= rho / r
        else:
            penalty = xp.sum(rho * xp.log(rho / r) - rho + r)
            xp.divide(-rho, r, out=out)
            out += 1.0
        return penalty
