"""Storage of nnlite arrays in CUDAMat matrices, and CUDAMat's lifetime in a process.

Helper of :mod:`nnlite.backend.cudamat_backend`; nothing here imports CuPy.

Layout
------
CUDAMat matrices are float32, 2-D and column-major.  A C-ordered nnlite array
of shape ``(n_samples, n_units)`` is the same memory as a Fortran-ordered
``(n_units, n_samples)`` array, so every 2-D nnlite array is kept as its
transpose: a CUDAMat matrix of shape ``(n_units, n_samples)``, one sample per
(contiguous) column.  A 1-D array of length ``n`` is an ``(n, 1)`` column.  In
the flat parameter vector a weight matrix ``W`` of shape ``(n_out, n_in)`` in
C order is then the ``(n_in, n_out)`` matrix ``W^T``, reached as a view.

Lifetime
--------
:func:`initialise` imports CUDAMat, calls ``cublas_init()`` once and registers
:func:`shutdown` with :mod:`atexit`.  At exit every matrix the backend
allocated is freed first (CUDAMat's ``shutdown()`` resets the device, after
which freeing a matrix fails), then ``cudamat.shutdown()`` runs -- unless CuPy
was imported in the same process: the device reset would pull the CUDA
context from under CuPy, which then prints 'invalid resource handle' errors
while exiting; the driver releases everything at process exit anyway.
"""

import atexit
import sys
import weakref

import numpy as np

from .cupy_backend import BackendUnavailableError  # the error class only: CuPy is not imported

INSTALL_HINT = (
    "CUDAMat is not on PyPI: build it from its GitHub repository (cudamat/cudamat; needs the CUDA "
    "toolkit's nvcc): git clone https://github.com/cudamat/cudamat && pip install ./cudamat; "
    "then use backend='cudamat' or NNLITE_BACKEND=cudamat")

_STATE = {"module": None, "matrices": weakref.WeakSet()}


def storage_shape(shape):
    """The CUDAMat matrix shape that stores an nnlite array of ``shape``.

    ``(n,) -> (n, 1)`` and ``(rows, cols) -> (cols, rows)``.
    """
    shape = tuple(int(size) for size in shape)
    if len(shape) == 1:
        return (shape[0], 1)
    if len(shape) == 2:
        return (shape[1], shape[0])
    raise ValueError(f"CUDAMat arrays are 1-D or 2-D, got shape {shape}")


class CudamatArray:
    """An nnlite array stored, transposed, in a CUDAMat matrix.

    Parameters
    ----------
    shape : tuple of int
        The nnlite shape: ``(n,)`` or ``(n_samples, n_units)``.
    mat : cudamat.CUDAMatrix
        Storage of shape :func:`storage_shape(shape) <storage_shape>`.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, shape, mat):
        shape = tuple(int(size) for size in shape)
        if tuple(mat.shape) != storage_shape(shape):
            raise ValueError(f"a CUDAMat matrix of shape {mat.shape} cannot hold an nnlite array of "
                             f"shape {shape} (it needs {storage_shape(shape)})")
        self.shape = shape
        self.mat = mat

    def __repr__(self):
        return f"CudamatArray(shape={self.shape}, storage={tuple(self.mat.shape)})"

    @property
    def ndim(self):
        """Number of nnlite dimensions (1 or 2)."""
        return len(self.shape)

    @property
    def size(self):
        """Number of elements."""
        return int(np.prod(self.shape))

    def __len__(self):
        return self.shape[0]

    def __imul__(self, value):
        """``self *= value`` for a Python scalar or a same-shaped CudamatArray, in place."""
        if isinstance(value, CudamatArray):
            self.mat.mult(value.mat)
        else:
            self.mat.mult(float(value))
        return self

    def __iadd__(self, value):
        """``self += value`` for a Python scalar or a same-shaped CudamatArray, in place."""
        if isinstance(value, CudamatArray):
            self.mat.add(value.mat)
        else:
            self.mat.add(float(value))
        return self


def import_cudamat():
    """Import CUDAMat or raise the backends' "unavailable" error with build instructions."""
    try:
        import cudamat
    except (ImportError, OSError) as error:  # OSError: libcudamat or CUDA libraries not loadable
        raise BackendUnavailableError(f"the 'cudamat' backend needs CUDAMat ({error}). "
                                      f"{INSTALL_HINT}") from error
    return cudamat


def initialise():
    """Import CUDAMat and initialise cuBLAS once per process; return the module."""
    module = import_cudamat()
    if _STATE["module"] is not module:
        try:
            module.cublas_init()
        except Exception as error:  # CUDAMatException: no device, driver mismatch
            raise BackendUnavailableError(f"CUDAMat could not initialise the GPU ({error}); the "
                                          f"'cudamat' backend needs an NVIDIA GPU") from error
        if _STATE["module"] is None:
            atexit.register(shutdown)
        _STATE["module"] = module
        _STATE["matrices"] = weakref.WeakSet()
    return module


def track(mat):
    """Remember a matrix the backend allocated, so :func:`shutdown` can free it first."""
    _STATE["matrices"].add(mat)
    return mat


def shutdown():
    """Free every tracked matrix, then shut CUDAMat down (see the module notes).

    Registered with :mod:`atexit` by :func:`initialise`; safe to call twice.
    """
    module = _STATE["module"]
    if module is None:
        return
    for mat in list(_STATE["matrices"]):
        try:
            mat.free_device_memory()
        except Exception:  # pragma: no cover - best effort while exiting
            pass
    _STATE["matrices"] = weakref.WeakSet()
    _STATE["module"] = None
    if "cupy" not in sys.modules:
        module.shutdown()
