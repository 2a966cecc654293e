"""The CUDAMat backend: an adapter over CUDAMat's matrix API (float32, on an NVIDIA GPU).

Enabling it
-----------
CUDAMat is not on PyPI and needs the CUDA toolkit to build.  Clone it from
GitHub (repository ``cudamat/cudamat``) and install it into the same
environment as nnlite::

    git clone https://github.com/cudamat/cudamat
    pip install ./cudamat        # compiles libcudamat with nvcc

Then pass ``backend='cudamat'`` to a network, an estimator or the trainer, or
set ``NNLITE_BACKEND=cudamat`` for the command line.  Without CUDAMat (or
without a GPU) asking for the backend raises
:class:`~nnlite.backend.cupy_backend.BackendUnavailableError` with these
instructions.  CUDAMat computes in float32 only: ``dtype='float64'`` is
accepted (so scripts switch backends with one argument) but computes in
float32, with a warning.

How the adapter maps nnlite's operations
----------------------------------------
CUDAMat matrices are float32, 2-D, column-major, and its operations work in
place or into ``target=``.  Every quirk stays in this module and in
:mod:`nnlite.backend._cudamat_array`: nnlite's ``(n_samples, n_units)`` arrays
are stored transposed as ``(n_units, n_samples)`` matrices (see that module),
so with ``S(.)`` the stored matrix::

    linear        S(out) = S(W).T @ S(inputs), then add_col_vec(S(b))
    weight_grad   S(out) = scale * S(inputs) @ S(delta).T          (dot alpha=)
    backprop      S(out) = S(W) @ S(delta)
    column_sum    S(out) = scale * S(array) @ ones(n_samples, 1)    (cached ones)
    add_row_      S(array).add_col_vec(S(row))

The flat parameter buffer is an ``(n_params, 1)`` matrix; parameters are views
into it (``get_col_slice`` then ``reshape``).  ``theta`` is uploaded into it
and the gradient downloaded from its twin through CUDAMat's host mirror
``numpy_array`` (one copy each per evaluation); the training data is copied to
the GPU once.  Temporaries (ones vectors, the KL terms' vectors) are allocated
once per size and reused.  This module never imports CuPy; see
:mod:`nnlite.backend._cudamat_array` for the shutdown order at exit.
"""

import math
import warnings

import numpy as np

from ._cudamat_array import CudamatArray, initialise, storage_shape, track
from .base import ACTIVATION_NAMES, ArrayBackend


def _stored(array):
    if not isinstance(array, CudamatArray):
        raise TypeError(f"the cudamat backend works on its own arrays (from asarray/empty/zeros/"
                        f"view), got {type(array).__name__}")
    return array.mat


class CudamatBackend(ArrayBackend):
    """GPU backend over CUDAMat; arrays are :class:`~nnlite.backend._cudamat_array.CudamatArray`.

    Parameters
    ----------
    dtype : {'float32', 'float64'}, default='float32'
        CUDAMat computes in float32; 'float64' is accepted with a warning.

    Raises
    ------
    BackendUnavailableError
        When CUDAMat cannot be imported or cannot initialise the GPU.
    """

    name = "cudamat"
    xp = None  # no numpy-like namespace: every operation is implemented below

    def __init__(self, dtype="float32"):
        super().__init__(dtype)
        if self.dtype != np.float32:
            warnings.warn("CUDAMat computes in float32 only; dtype='float64' was asked for, the "
                          "cudamat backend uses float32", UserWarning, stacklevel=3)
            self.dtype = np.dtype(np.float32)
        self.cm = initialise()
        self._ones = {}
        self._kl_temporaries = {}

    # ------------------------------------------------------------ helpers
    def _matrix(self, storage):
        return track(self.cm.empty(storage))

    def _ones_column(self, n):
        """A cached ``(n, 1)`` matrix of ones (column sums as one GEMV)."""
        ones = self._ones.get(n)
        if ones is None:
            if len(self._ones) >= 8:  # batch sizes changed: drop the old ones
                self._ones.clear()
            ones = self._ones[n] = self._matrix((n, 1)).assign(1.0)
        return ones

    def _kl_vectors(self, n):
        vectors = self._kl_temporaries.get(n)
        if vectors is None:
            vectors = self._kl_temporaries[n] = [self._matrix((n, 1)) for _ in range(3)]
        return vectors

    # ------------------------------------------------------------- memory
    def empty(self, shape):
        """Uninitialised array of ``shape`` (1-D or 2-D)."""
        return CudamatArray(shape, self._matrix(storage_shape(shape)))

    def zeros(self, shape):
        """Zero-filled array of ``shape`` (1-D or 2-D)."""
        array = self.empty(shape)
        array.mat.assign(0.0)
        return array

    def asarray(self, host_array):
        """Copy a 1-D or 2-D host array to the GPU (float32, stored transposed)."""
        if isinstance(host_array, CudamatArray):
            return host_array
        host = np.ascontiguousarray(host_array, dtype=np.float32)
        if type(host) is not np.ndarray:  # CUDAMatrix accepts plain ndarrays only
            host = host.view(np.ndarray)
        if host.ndim not in (1, 2):
            raise ValueError(f"CUDAMat arrays are 1-D or 2-D, got shape {host.shape}")
        stored = host.reshape(-1, 1) if host.ndim == 1 else host.T  # .T: Fortran order, no copy
        return CudamatArray(host.shape, track(self.cm.CUDAMatrix(stored)))

    def to_host(self, array):
        """Copy an array back to a new C-ordered float32 numpy array."""
        if not isinstance(array, CudamatArray):
            return np.asarray(array)
        array.mat.copy_to_host()
        host = array.mat.numpy_array
        return np.array(host[:, 0] if array.ndim == 1 else host.T, order="C")

    def view(self, flat, offset, shape):
        """A view of ``flat[offset:offset + prod(shape)]`` with nnlite ``shape``."""
        if flat.ndim != 1:
            raise ValueError(f"views are taken of 1-D buffers, got shape {flat.shape}")
        size = int(np.prod(shape))
        mat = flat.mat.get_col_slice(offset, offset + size)  # (size, 1) view of the column
        return CudamatArray(shape, mat.reshape(storage_shape(shape)))

    def load_flat(self, host_vector, flat):
        """Upload the host float64 ``theta`` into ``flat`` through CUDAMat's host mirror."""
        mat = _stored(flat)
        if getattr(mat, "numpy_array", None) is None:
            mat.copy_to_host()  # creates the host mirror (once)
        mat.numpy_array[:, 0] = host_vector
        mat.copy_to_device()

    def store_flat(self, flat, host_out):
        """Download ``flat`` into the host float64 vector ``host_out``."""
        mat = _stored(flat)
        mat.copy_to_host()
        host_out[...] = mat.numpy_array[:, 0]

    # ---------------------------------------------------------- dense math
    def linear(self, inputs, weights, bias, out):
        """``out = inputs @ weights.T + bias``: ``S(out) = S(W).T @ S(inputs) + b``."""
        self.cm.dot(_stored(weights).T, _stored(inputs), target=_stored(out))
        _stored(out).add_col_vec(_stored(bias))
        return out

    def weight_grad(self, delta, inputs, out, scale):
        """``out = scale * delta.T @ inputs``: ``S(out) = scale * S(inputs) @ S(delta).T``."""
        self.cm.dot(_stored(inputs), _stored(delta).T, target=_stored(out), alpha=float(scale))
        return out

    def backprop(self, delta, weights, out):
        """``out = delta @ weights``: ``S(out) = S(W) @ S(delta)``."""
        self.cm.dot(_stored(weights), _stored(delta), target=_stored(out))
        return out

    def column_sum(self, array, out, scale=1.0):
        """``out = scale * array.sum(axis=0)``: ``S(out) = scale * S(array) @ ones``."""
        ones = self._ones_column(array.shape[0])
        self.cm.dot(_stored(array), ones, target=_stored(out), alpha=float(scale))
        return out

    def add_row_(self, array, row):
        """``array += row`` over the rows: ``S(array).add_col_vec(S(row))``."""
        _stored(array).add_col_vec(_stored(row))
        return array

    # --------------------------------------------------------- activations
    def activate_(self, name, z):
        """Activation ``name`` in place (``apply_sigmoid``, ``maximum(0)``)."""
        if name == "sigmoid":
            _stored(z).apply_sigmoid()
        elif name == "relu":
            _stored(z).maximum(0.0)
        elif name != "identity":
            raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATION_NAMES}")
        return z

    def mul_derivative_(self, name, activations, delta, scratch):
        """``delta *= f'(z)`` from the activations, using ``scratch``."""
        a, d, s = _stored(activations), _stored(delta), _stored(scratch)
        if name == "sigmoid":
            a.mult(a, target=s)       # a^2
            a.subtract(s, target=s)   # a - a^2 = a (1 - a)
            d.mult(s)
        elif name == "relu":
            a.greater_than(0.0, target=s)
            d.mult(s)
        elif name != "identity":
            raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATION_NAMES}")
        return delta

    # ------------------------------------------------------------- losses
    def squared_error(self, outputs, targets, delta):
        """Write ``delta = outputs - targets``; return ``0.5 * ||delta||^2`` (a float)."""
        _stored(outputs).subtract(_stored(targets), target=_stored(delta))
        norm = _stored(delta).euclid_norm()
        return 0.5 * norm * norm

    def sum_squares(self, vector):
        """``sum(vector ** 2)`` as a float."""
        norm = _stored(vector).euclid_norm()
        return norm * norm

    def axpy_(self, alpha, x, y):
        """``y += alpha * x`` (``add_mult``)."""
        _stored(y).add_mult(_stored(x), float(alpha))
        return y

    def kl_sparsity(self, mean_activation, rho, kind, eps, out):
        """KL sparsity penalty (a float) and its derivative into ``out`` (see the base class)."""
        if kind not in ("bernoulli", "poisson"):
            raise ValueError(f"kind must be 'bernoulli' or 'poisson', got {kind!r}")
        rho, eps = float(rho), float(eps)
        n = mean_activation.shape[0]
        r, u, t = self._kl_vectors(n)
        ones, grad = self._ones_column(n), _stored(out)
        _stored(mean_activation).maximum(eps, target=r)
        if kind == "bernoulli":
            r.minimum(1.0 - eps)
        self.cm.log(r, target=t)
        sum_log_r = self.cm.vdot(t, ones)
        r.reciprocal(target=grad)
        grad.mult(-rho)                                   # -rho / r
        if kind == "poisson":
            grad.add(1.0)                                 # 1 - rho / r
            constant = n * (rho * math.log(rho) - rho)
            return constant - rho * sum_log_r + self.cm.vdot(r, ones)
        r.mult(-1.0, target=u)
        u.add(1.0)                                        # 1 - r
        self.cm.log(u, target=t)
        sum_log_1mr = self.cm.vdot(t, ones)
        u.reciprocal()
        grad.add_mult(u, 1.0 - rho)                       # + (1 - rho) / (1 - r)
        constant = n * (rho * math.log(rho) + (1.0 - rho) * math.log(1.0 - rho))
        return constant - rho * sum_log_r - (1.0 - rho) * sum_log_1mr
