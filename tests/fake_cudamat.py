"""A CPU stand-in for the subset of CUDAMat that nnlite's adapter uses.

CUDAMat (github.com/cudamat/cudamat) is not on PyPI and needs an NVIDIA GPU,
so the adapter in :mod:`nnlite.backend.cudamat_backend` is tested against this
module, injected as ``sys.modules['cudamat']``.  It follows the real
library's documented semantics, including its quirks:

* every matrix is float32, 2-D and column-major (Fortran order); a
  ``CUDAMatrix`` made from a numpy array copies it to a private "device"
  buffer, ``copy_to_host()`` writes back into ``numpy_array``;
* operations work in place or into ``target=``; scalars must be Python
  ``int``/``float`` (anything else raises ``ValueError``, as in CUDAMat);
* shape mismatches raise ``CUDAMatException('Incompatible matrix
  dimensions.')``; element-wise operations refuse transposed matrices;
* ``.T`` is a transposed *view* usable only in ``dot``; ``get_col_slice``
  (``slice``) returns a view sharing memory (element ranges for vectors);
  ``reshape`` reinterprets the memory in place and returns ``self``;
* nothing can be allocated before ``cublas_init()`` or after ``shutdown()``;
  ``shutdown()`` resets the "device" (CUDAMat calls cudaThreadExit): matrices
  still allocated then become invalid, using them raises and freeing them
  prints CUDA's 'invalid resource handle' to stderr, as the real one does.

Test helpers: ``STATE`` counts allocations and records events.
"""

import sys

import numpy as np

STATE = {"initialised": False, "generation": 0, "allocations": 0, "live": set(), "events": [],
         "shut_down": set()}


class CUDAMatException(Exception):
    """Error raised by the (fake) library, as ``cudamat.CUDAMatException``."""


def _incompatible():
    return CUDAMatException("Incompatible matrix dimensions.")


class _Struct:
    """The C ``cudamat`` struct: device buffer, offset, size, flags."""

    def __init__(self, m, n, buffer=None, offset=0, owns_data=1, is_trans=0):
        self.size = [int(m), int(n)]
        self.buffer, self.offset = buffer, offset
        self.owns_data, self.is_trans = owns_data, is_trans
        self.on_device = 1 if buffer is not None else 0
        self.generation = STATE["generation"]

    def snapshot(self):
        copy = _Struct(*self.size, buffer=self.buffer, offset=self.offset,
                       owns_data=self.owns_data, is_trans=self.is_trans)
        copy.on_device, copy.generation = self.on_device, self.generation
        return copy

    def device(self):
        """The stored (m, n) matrix as a writable Fortran-order numpy view."""
        if not self.on_device or self.buffer is None:
            raise CUDAMatException("Matrix is not in device memory.")
        if self.generation != STATE["generation"]:
            raise CUDAMatException("CUDA error: invalid resource handle")
        m, n = self.size
        return self.buffer[self.offset:self.offset + m * n].reshape((m, n), order="F")

    def logical(self):
        """The matrix as operations see it (transposed when ``is_trans``)."""
        return self.device().T if self.is_trans else self.device()

    def leading(self):
        return self.size[1] if self.is_trans else self.size[0]

    def nonleading(self):
        return self.size[0] if self.is_trans else self.size[1]


def _allocate(struct):
    if not STATE["initialised"]:
        raise CUDAMatException("CUBLAS error.")
    struct.buffer = np.zeros(struct.size[0] * struct.size[1], dtype=np.float32)
    struct.offset, struct.on_device, struct.generation = 0, 1, STATE["generation"]
    STATE["allocations"] += 1
    STATE["live"].add(id(struct))


def _require_cublas():
    if not STATE["initialised"]:
        raise CUDAMatException("CUBLAS error.")


def _is_scalar(value):
    return isinstance(value, (int, float))


class TransposedCUDAMatrix:
    """A transposed view of a matrix, usable as an operand of :func:`dot`."""

    def __init__(self, mat):
        self.mat = mat.snapshot()
        self.mat.is_trans = 1


class CUDAMatrix:
    """A float32 column-major matrix in (fake) device memory."""

    ones = None

    def __init__(self, array, copy_to_device=True, copy_on_host=True):
        if type(array) in (np.ndarray, np.memmap):
            array = reformat(array, copy=copy_on_host)
            if array.ndim != 2:
                raise IndexError("tuple index out of range")  # CUDAMat reads shape[1]
            self.numpy_array = array
            self.mat = _Struct(array.shape[0], array.shape[1])
            self.mat.on_host = 1
            if copy_to_device:
                self.copy_to_device()
        else:
            self.mat = array
        self.T = TransposedCUDAMatrix(self.mat)

    def __del__(self):
        mat = self.__dict__.get("mat")
        if mat is not None and mat.owns_data and mat.on_device:
            if mat.generation in STATE["shut_down"]:
                # CUDAMat's __del__ would raise here: cudaFree after cudaThreadExit.
                STATE["events"].append("free after shutdown")
                sys.stderr.write("fake_cudamat: CUDA error: invalid resource handle "
                                 "(matrix freed after shutdown)\n")
            STATE["live"].discard(id(mat))

    @property
    def shape(self):
        return (self.mat.size[0], self.mat.size[1])

    def reshape(self, shape):
        m, n = int(shape[0]), int(shape[1])
        if m * n != self.mat.size[0] * self.mat.size[1]:
            raise _incompatible()
        self.mat.size = [m, n]
        self.T.mat.size = [m, n]
        if getattr(self.mat, "on_host", 0):
            self.numpy_array = np.reshape(self.numpy_array, shape, order="F")
        return self

    # -------------------------------------------------------- host/device
    def copy_to_device(self):
        if not self.mat.on_device:
            _allocate(self.mat)
        self.mat.device()[...] = self.numpy_array

    def copy_to_host(self):
        if not getattr(self.mat, "on_host", 0):
            self.numpy_array = np.empty(self.shape, dtype=np.float32, order="F")
            self.mat.on_host = 1
        self.numpy_array[...] = self.mat.device()

    def asarray(self):
        self.copy_to_host()
        return self.numpy_array

    def free_device_memory(self):
        if self.mat.owns_data and self.mat.on_device:
            STATE["live"].discard(id(self.mat))
            self.mat.on_device = 0
            self.mat.buffer = None

    def assign(self, val):
        if isinstance(val, CUDAMatrix):
            if val.shape != self.shape:
                raise _incompatible()
            self.mat.device()[...] = val.mat.device()
        elif _is_scalar(val):
            self.mat.device()[...] = np.float32(val)
        else:
            raise ValueError("Assigned value must be of type CUDAMatrix, int, or float.")
        return self

    # ------------------------------------------------------------ views
    def slice(self, first_col, last_col):
        source = self.mat
        if source.is_trans:
            raise CUDAMatException("Operation not supported on transposed matrices.")
        m, n = source.size
        vector = m == 1 or n == 1
        length = max(m, n) if vector else n
        if first_col >= last_col or last_col > length or first_col < 0:
            raise _incompatible()
        source.device()  # raises when the matrix is not (or no longer) on the device
        rows = 1 if vector else m
        view = _Struct(*((last_col - first_col, 1) if vector and m > 1 else (rows, last_col - first_col)),
                       buffer=source.buffer, offset=source.offset + first_col * rows, owns_data=0)
        view.generation = source.generation
        new = CUDAMatrix(view)
        new.sliceof = getattr(self, "sliceof", self)
        return new

    def get_col_slice(self, first_col, last_col, target=None):
        view = self.slice(first_col, last_col)
        if target:
            target.assign(view)
            return target
        return view

    # ----------------------------------------------------- element-wise
    def _binary(self, val, target, function):
        target = target if target else self
        if isinstance(val, CUDAMatrix):
            if self.mat.is_trans != val.mat.is_trans:
                raise CUDAMatException("Incompatible transposedness.")
            if not (self.shape == val.shape == target.shape):
                raise _incompatible()
            result = function(self.mat.device(), val.mat.device())
        elif _is_scalar(val):
            if self.shape != target.shape:
                raise _incompatible()
            result = function(self.mat.device(), np.float32(val))
        else:
            raise ValueError("Value must be of type CUDAMatrix, int, or float.")
        target.mat.device()[...] = result
        return target

    def add(self, val, target=None):
        return self._binary(val, target, np.add)

    def subtract(self, val, target=None):
        return self._binary(val, target, np.subtract)

    def mult(self, val, target=None):
        return self._binary(val, target, np.multiply)

    def divide(self, val, target=None):
        return self._binary(val, target, np.divide)

    def maximum(self, val, target=None):
        return self._binary(val, target, np.maximum)

    def minimum(self, val, target=None):
        return self._binary(val, target, np.minimum)

    def greater_than(self, val, target=None):
        return self._binary(val, target, lambda a, b: (a > b).astype(np.float32))

    def less_than(self, val, target=None):
        return self._binary(val, target, lambda a, b: (a < b).astype(np.float32))

    def reciprocal(self, target=None):
        return _unary(self, target, lambda a: np.float32(1) / a)

    def apply_sigmoid(self, target=None):
        return sigmoid(self, target)

    def _vector_op(self, vec, target, axis, function):
        target = target if target else self
        if self.mat.is_trans:
            raise CUDAMatException("Operation not supported on transposed matrices.")
        m, n = self.shape
        expected = (m, 1) if axis == "col" else (1, n)
        if vec.shape != expected or target.shape != self.shape:
            raise _incompatible()
        target.mat.device()[...] = function(self.mat.device(), vec.mat.device())
        return target

    def add_col_vec(self, vec, target=None):
        return self._vector_op(vec, target, "col", np.add)

    def add_row_vec(self, vec, target=None):
        return self._vector_op(vec, target, "row", np.add)

    def mult_by_col(self, vec, target=None):
        return self._vector_op(vec, target, "col", np.multiply)

    def mult_by_row(self, vec, target=None):
        return self._vector_op(vec, target, "row", np.multiply)

    def add_mult(self, mat2, alpha=1.0):
        _require_cublas()
        if self.mat.is_trans != mat2.mat.is_trans:
            raise CUDAMatException("Incompatible transposedness.")
        if self.shape != mat2.shape:
            raise _incompatible()
        self.mat.device()[...] += np.float32(alpha) * mat2.mat.device()
        return self

    # -------------------------------------------------------- reductions
    def sum(self, axis, target=None, mult=1.0):
        return sum(self, axis, target, mult)

    def euclid_norm(self):
        _require_cublas()
        return float(np.linalg.norm(self.mat.device().ravel()).astype(np.float32))

    def manhattan_norm(self):
        _require_cublas()
        return float(np.abs(self.mat.device()).sum(dtype=np.float32))


def _unary(mat, target, function):
    target = target if target else mat
    if mat.shape != target.shape:
        raise _incompatible()
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        target.mat.device()[...] = function(mat.mat.device())
    return target


def sigmoid(mat, target=None):
    """Logistic sigmoid, in place or into ``target``."""
    return _unary(mat, target, lambda a: np.float32(1) / (np.float32(1) + np.exp(-a)))


def log(mat, target=None):
    """Natural logarithm, in place or into ``target``."""
    return _unary(mat, target, np.log)


def exp(mat, target=None):
    """Exponential, in place or into ``target``."""
    return _unary(mat, target, np.exp)


def empty(shape):
    """A new uninitialised matrix of ``shape`` (2-D)."""
    struct = _Struct(shape[0], shape[1])
    _allocate(struct)
    struct.buffer[...] = np.nan  # uninitialised memory: make misuse visible
    return CUDAMatrix(struct)


def dot(m1, m2, target=None, beta=0.0, alpha=1.0):
    """``target = beta * target + alpha * op(m1) @ op(m2)`` (``op``: transposed for ``.T``)."""
    _require_cublas()
    a, b = m1.mat, m2.mat
    if target is None:
        target = empty((a.leading(), b.nonleading()))
    c = target.mat
    if a.leading() != c.leading() or b.nonleading() != c.nonleading() or a.nonleading() != b.leading():
        raise _incompatible()
    product = np.float32(alpha) * (a.logical() @ b.logical())
    if beta == 0.0:
        c.device()[...] = product
    else:
        c.device()[...] = np.float32(beta) * c.device() + product
    return target


def vdot(m1, m2):
    """Dot product of two matrices flattened (same shape and transposedness)."""
    _require_cublas()
    if m1.mat.is_trans != m2.mat.is_trans:
        raise CUDAMatException("Incompatible transposedness.")
    if m1.shape != m2.shape:
        raise _incompatible()
    return float(np.dot(m1.mat.device().ravel(), m2.mat.device().ravel()))


def sum(mat, axis, target=None, mult=1.0):  # noqa: A001 - CUDAMat's name
    """Sum along ``axis`` (0: over rows -> (1, n); 1: over columns -> (m, 1)), times ``mult``."""
    m, n = mat.shape
    needed = m if axis == 0 else n
    if CUDAMatrix.ones is None or needed > CUDAMatrix.ones.shape[0]:
        raise CUDAMatException(f"Not enough memory allocated for reduction. ({needed} needed)")
    if target is None:
        target = empty((1, n) if axis == 0 else (m, 1))
    expected = (1, n) if axis == 0 else (m, 1)
    if target.shape != expected:
        raise _incompatible()
    target.mat.device()[...] = np.float32(mult) * mat.mat.device().sum(axis=axis, keepdims=True)
    return target


def reformat(array, copy=True):
    """``array`` as float32 in Fortran order (copied unless ``copy=False`` and already so)."""
    if copy:
        return np.array(array, dtype=np.float32, order="F")
    return np.asarray(array, dtype=np.float32, order="F")


def cublas_init(max_ones=1024 * 256):
    """Initialise the (fake) device and the ones vector used by :func:`sum`."""
    STATE["initialised"] = True
    STATE["events"].append("cublas_init")
    CUDAMatrix.ones = CUDAMatrix(np.ones((max_ones, 1), dtype=np.float32, order="F"))


init = cublas_init


def cublas_shutdown():
    """Shut down: like cudaThreadExit, every allocation still alive becomes invalid."""
    CUDAMatrix.ones = None
    STATE["events"].append(f"shutdown live={len(STATE['live'])}")
    STATE["initialised"] = False
    STATE["shut_down"].add(STATE["generation"])
    STATE["generation"] += 1
    STATE["live"] = set()


shutdown = cublas_shutdown


def reset():
    """Forget all state (between tests)."""
    CUDAMatrix.ones = None
    STATE.update(initialised=False, allocations=0, live=set(), events=[])
    STATE["generation"] += 1
