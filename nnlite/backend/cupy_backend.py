"""The CuPy backend: the network's arrays on an NVIDIA GPU, float64 or float32.

Enabling it
-----------
Install CuPy for the machine's CUDA driver (``nvidia-smi`` shows the CUDA
version): ``pip install nnlite[gpu]`` pulls ``cupy-cuda12x`` (CUDA 12.x);
for a CUDA 13 driver use ``pip install cupy-cuda13x``.  Then pass
``backend='cupy'`` to a network, an estimator or the trainer, or set
``NNLITE_BACKEND=cupy`` for the command line.  Without CuPy or without a
usable GPU, asking for the backend raises :class:`BackendUnavailableError`
(a ``ValueError`` and a ``RuntimeError``) that says what to install.

Where things live
-----------------
The training data is copied to the GPU once (:meth:`CupyBackend.asarray`,
called by :meth:`nnlite.network.Network.objective`); each cost evaluation
then moves only ``theta`` in and the gradient out, through a pinned host
staging buffer (:meth:`CupyBackend.load_flat` / :meth:`CupyBackend.store_flat`).
L-BFGS itself stays on the host in float64.

Fused element-wise work
-----------------------
A formula-by-formula port launches several small kernels per formula
(``1 / (1 + exp(-z))`` alone is four passes over the activations).  Here each
element-wise step of the network is one ``cupy.ElementwiseKernel`` working in
place (see :data:`KERNELS`): the sigmoid, ``delta *= a (1 - a)`` (no scratch
array on the GPU), the KL sparsity term and its derivative, the weight-decay
axpy.  Column sums are matrix-vector products with a cached vector holding the
scale (``1/m``), and the squared error is one subtraction kernel plus a cuBLAS
dot product.  Two further fusions need the core to call them:
:meth:`CupyBackend.linear_activate` (bias added inside the activation kernel)
and :meth:`CupyBackend.add_row_mul_derivative_` (sparsity term added inside the
derivative kernel); until it does they are simply unused.
"""

import numpy as np

from .base import ACTIVATION_NAMES, ArrayBackend

INSTALL_HINT = ("install CuPy for your CUDA driver: pip install nnlite[gpu] (cupy-cuda12x, for "
                "CUDA 12.x), or pip install cupy-cuda13x for a CUDA 13 driver (see nvidia-smi)")


class BackendUnavailableError(ValueError, RuntimeError):
    """A backend's library or device is missing; the message says what to install."""


#: Fused element-wise kernels: name -> (in_params, out_params, operation), in
#: ``cupy.ElementwiseKernel``'s notation.  Inputs are read-only, outputs are
#: references (read and written in place); ``T`` is the array dtype.
KERNELS = {
    "sigmoid": ("T z", "T a", "a = (T)1 / ((T)1 + exp(-z))"),
    "relu": ("T z", "T a", "a = z > (T)0 ? z : (T)0"),
    "bias_sigmoid": ("T z, T b", "T a", "a = (T)1 / ((T)1 + exp(-(z + b)))"),
    "bias_relu": ("T z, T b", "T a", "const T t = z + b; a = t > (T)0 ? t : (T)0"),
    "mul_sigmoid_derivative": ("T a", "T d", "d *= a * ((T)1 - a)"),
    "mul_relu_derivative": ("T a", "T d", "d = a > (T)0 ? d : (T)0"),
    "add_row_mul_sigmoid_derivative": ("T a, T r", "T d", "d = (d + r) * (a * ((T)1 - a))"),
    "add_row_mul_relu_derivative": ("T a, T r", "T d", "d = a > (T)0 ? d + r : (T)0"),
    "axpy": ("T x, T alpha", "T y", "y += alpha * x"),
    "kl_bernoulli": (
        "T m, T rho, T eps", "T g, T term",
        "T r = m < eps ? eps : m; r = r > (T)1 - eps ? (T)1 - eps : r; "
        "term = rho * log(rho / r) + ((T)1 - rho) * log(((T)1 - rho) / ((T)1 - r)); "
        "g = ((T)1 - rho) / ((T)1 - r) - rho / r"),
    "kl_poisson": (
        "T m, T rho, T eps", "T g, T term",
        "const T r = m < eps ? eps : m; "
        "term = rho * log(rho / r) - rho + r; "
        "g = (T)1 - rho / r"),
}

_ACTIVATE = {"sigmoid": "sigmoid", "relu": "relu"}
_BIAS_ACTIVATE = {"sigmoid": "bias_sigmoid", "relu": "bias_relu"}
_DERIVATIVE = {"sigmoid": "mul_sigmoid_derivative", "relu": "mul_relu_derivative"}
_ROW_DERIVATIVE = {"sigmoid": "add_row_mul_sigmoid_derivative", "relu": "add_row_mul_relu_derivative"}

#: Kernels built so far, shared by every backend instance (CuPy compiles
#: them per dtype on first use and caches the binaries on disk).
_KERNEL_CACHE = {}


def import_cupy():
    """Import CuPy and check that a CUDA device is usable.

    Returns
    -------
    module
        ``cupy``.

    Raises
    ------
    BackendUnavailableError
        When CuPy is not installed, or no CUDA device or driver can be used.
    """
    try:
        import cupy
    except ImportError as error:
        raise BackendUnavailableError(f"the 'cupy' backend needs CuPy, which is not installed: "
                                      f"{INSTALL_HINT}") from error
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDARuntimeError without a driver, or a CUDA mismatch
        raise BackendUnavailableError(
            f"CuPy is installed but no CUDA device can be used ({error}); the 'cupy' backend needs "
            f"an NVIDIA GPU and a CuPy wheel matching its driver: {INSTALL_HINT}") from error
    if count < 1:
        raise BackendUnavailableError(f"CuPy found no CUDA device; the 'cupy' backend needs an "
                                      f"NVIDIA GPU ({INSTALL_HINT})")
    return cupy


def cupy_unavailable_reason():
    """Why the CuPy backend cannot run here, or None when it can (for tests and benchmarks)."""
    try:
        import_cupy()
    except BackendUnavailableError as error:
        return str(error)
    return None


def _check_activation(name):
    if name not in ACTIVATION_NAMES:
        raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATION_NAMES}")


class CupyBackend(ArrayBackend):
    """GPU backend over CuPy; arrays are ``cupy.ndarray`` in C order.

    Parameters
    ----------
    dtype : {'float64', 'float32'}, default='float64'

    Raises
    ------
    BackendUnavailableError
        When CuPy or a CUDA device is missing.
    """

    name = "cupy"

    def __init__(self, dtype="float64"):
        super().__init__(dtype)
        self.xp = import_cupy()
        self._scale_vectors = {}
        self._staging = {}
        self._kl_terms = {}

    # ------------------------------------------------------------ helpers
    def kernel(self, name):
        """The fused ``ElementwiseKernel`` called ``name`` (see :data:`KERNELS`)."""
        kernel = _KERNEL_CACHE.get((id(self.xp), name))
        if kernel is None:
            in_params, out_params, operation = KERNELS[name]
            kernel = self.xp.ElementwiseKernel(in_params, out_params, operation, f"nnlite_{name}")
            _KERNEL_CACHE[(id(self.xp), name)] = kernel
        return kernel

    def _scale_vector(self, n, scale):
        """A cached length-``n`` vector filled with ``scale`` (column sums as one GEMV)."""
        key = (int(n), float(scale))
        vector = self._scale_vectors.get(key)
        if vector is None:
            if len(self._scale_vectors) >= 8:  # batch sizes changed: drop the old ones
                self._scale_vectors.clear()
            vector = self.xp.full((key[0],), key[1], dtype=self.dtype)
            self._scale_vectors[key] = vector
        return vector

    def _staging_vector(self, size):
        """A host vector of ``size`` in the backend dtype, in pinned memory where possible."""
        staging = self._staging.get(size)
        if staging is None:
            try:
                memory = self.xp.cuda.alloc_pinned_memory(max(size, 1) * self.dtype.itemsize)
                staging = np.frombuffer(memory, dtype=self.dtype, count=size)
            except Exception:  # pinned memory is an optimisation only
                staging = None
            if staging is None or not staging.flags.writeable:
                staging = np.empty(size, dtype=self.dtype)
            self._staging[size] = staging
        return staging

    # ------------------------------------------------------------- memory
    def asarray(self, host_array):
        """Copy a host array to the GPU (one transfer) as a C-ordered array of the backend dtype."""
        xp = self.xp
        if isinstance(host_array, xp.ndarray):
            return xp.ascontiguousarray(host_array.astype(self.dtype, copy=False))
        return xp.asarray(np.ascontiguousarray(host_array, dtype=self.dtype))

    def to_host(self, array):
        """Copy a GPU array to a new numpy array (host arrays pass through)."""
        if isinstance(array, self.xp.ndarray):
            return self.xp.asnumpy(array)
        return np.asarray(array)

    def load_flat(self, host_vector, flat):
        """Copy the host float64 ``theta`` into the GPU buffer ``flat`` (one transfer)."""
        staging = self._staging_vector(flat.size)
        np.copyto(staging, host_vector, casting="same_kind")
        flat[...] = self.xp.asarray(staging)

    def store_flat(self, flat, host_out):
        """Copy the GPU gradient buffer into the host float64 vector ``host_out`` (one transfer)."""
        staging = self._staging_vector(flat.size)
        self.xp.asnumpy(flat, out=staging)
        np.copyto(host_out, staging)

    # ---------------------------------------------------------- dense math
    def linear(self, inputs, weights, bias, out):
        """``out = inputs @ weights.T + bias`` (cuBLAS GEMM, then one broadcast add)."""
        self.xp.dot(inputs, weights.T, out=out)
        self.xp.add(out, bias, out=out)
        return out

    def linear_activate(self, inputs, weights, bias, name, out):
        """``out = f(inputs @ weights.T + bias)``: the bias is added inside the activation kernel.

        A fusion hook: one GEMM and one element-wise pass instead of two.
        """
        _check_activation(name)
        self.xp.dot(inputs, weights.T, out=out)
        if name == "identity":
            self.xp.add(out, bias, out=out)
        else:
            self.kernel(_BIAS_ACTIVATE[name])(out, bias, out)
        return out

    def weight_grad(self, delta, inputs, out, scale):
        """``out = scale * delta.T @ inputs``."""
        self.xp.dot(delta.T, inputs, out=out)
        out *= scale
        return out

    def backprop(self, delta, weights, out):
        """``out = delta @ weights``."""
        self.xp.dot(delta, weights, out=out)
        return out

    def column_sum(self, array, out, scale=1.0):
        """``out = scale * array.sum(axis=0)`` as one matrix-vector product."""
        self.xp.dot(self._scale_vector(array.shape[0], scale), array, out=out)
        return out

    def add_row_(self, array, row):
        """``array += row`` broadcast over rows (one kernel)."""
        self.xp.add(array, row, out=array)
        return array

    # --------------------------------------------------------- activations
    def activate_(self, name, z):
        """Activation ``name`` applied to ``z`` in place, in one kernel."""
        _check_activation(name)
        if name != "identity":
            self.kernel(_ACTIVATE[name])(z, z)
        return z

    def mul_derivative_(self, name, activations, delta, scratch):
        """``delta *= f'(z)`` from the activations, in one kernel; ``scratch`` is not needed."""
        _check_activation(name)
        if name != "identity":
            self.kernel(_DERIVATIVE[name])(activations, delta)
        return delta

    def add_row_mul_derivative_(self, name, activations, delta, row, scratch):
        """``delta = (delta + row) * f'(z)``: a sparsity term and the derivative in one pass.

        A fusion hook for a hidden layer's ``add_row_`` followed by ``mul_derivative_``.
        """
        _check_activation(name)
        if row is None:
            return self.mul_derivative_(name, activations, delta, scratch)
        if name == "identity":
            return self.add_row_(delta, row)
        self.kernel(_ROW_DERIVATIVE[name])(activations, row, delta)
        return delta

    # ------------------------------------------------------------- losses
    def axpy_(self, alpha, x, y):
        """``y += alpha * x`` in one kernel."""
        self.kernel("axpy")(x, self.dtype.type(alpha), y)
        return y

    def kl_sparsity(self, mean_activation, rho, kind, eps, out):
        """KL sparsity penalty and derivative (see the base class), in one kernel and one sum."""
        if kind not in ("bernoulli", "poisson"):
            raise ValueError(f"kind must be 'bernoulli' or 'poisson', got {kind!r}")
        size = mean_activation.shape[0]
        terms = self._kl_terms.get(size)
        if terms is None:
            terms = self._kl_terms[size] = self.xp.empty((size,), dtype=self.dtype)
        scalar = self.dtype.type
        self.kernel(f"kl_{kind}")(mean_activation, scalar(rho), scalar(eps), out, terms)
        return self.xp.sum(terms)
