"""The default backend: numpy on the CPU, float64 or float32.

Matrix products go to numpy's BLAS, which is multi-threaded already.  The
element-wise passes (bias add, activation, derivative, error) are not:
numpy runs each ufunc on one core.  For large batches this backend splits
them by rows over a small thread pool (numpy releases the GIL inside its
ufunc loops), so all cores work on them as they do on the products.  Results
are bit-for-bit the same as the single-threaded path, except the squared
error sum, whose partial sums are added in a fixed order (deterministic,
rounding may differ in the last bits from one undivided sum).
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .base import ArrayBackend

#: Element-wise work below this many elements stays on the calling thread.
PARALLEL_MIN_ELEMENTS = 1 << 16


def _default_threads():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class NumpyBackend(ArrayBackend):
    """CPU backend over numpy and its BLAS; arrays are plain ``numpy.ndarray``.

    Parameters
    ----------
    dtype : {'float64', 'float32'}, default='float64'
    n_threads : int, optional
        Threads for element-wise passes on large batches (default: the CPUs
        this process may use; ``$NNLITE_NUM_THREADS`` overrides).  1 turns
        threading off.

    Notes
    -----
    With ``dtype='float64'`` and a C-contiguous float64 input, :meth:`asarray`
    returns the input itself, so a training set is never copied.
    """

    name = "numpy"
    xp = np
    _pools = {}

    def __init__(self, dtype="float64", n_threads=None):
        super().__init__(dtype)
        if n_threads is None:
            n_threads = int(os.environ.get("NNLITE_NUM_THREADS", 0)) or _default_threads()
        if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
            raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
        self.n_threads = n_threads

    def _pool(self):
        pool = NumpyBackend._pools.get(self.n_threads)
        if pool is None:
            pool = NumpyBackend._pools[self.n_threads] = ThreadPoolExecutor(
                self.n_threads, thread_name_prefix="nnlite-elementwise")
        return pool

    def _row_chunks(self, array):
        """Row slices splitting ``array`` over the threads, or None to stay serial."""
        if self.n_threads == 1 or array.ndim != 2 or array.size < PARALLEL_MIN_ELEMENTS:
            return None
        bounds = np.linspace(0, array.shape[0], self.n_threads + 1).astype(int)
        return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]

    def _map_rows(self, function, *arrays):
        """Run ``function(*row_blocks)`` on row blocks of ``arrays`` in parallel; list of results."""
        chunks = self._row_chunks(arrays[0])
        if chunks is None:
            return [function(*arrays)]
        futures = [self._pool().submit(function, *(a[rows] for a in arrays)) for rows in chunks]
        return [future.result() for future in futures]

    # Element-wise passes, split by rows; each block reuses the serial reference code.
    def linear(self, inputs, weights, bias, out):
        np.matmul(inputs, weights.T, out=out)
        self._map_rows(lambda block: ArrayBackend.add_row_(self, block, bias), out)
        return out

    def add_row_(self, array, row):
        self._map_rows(lambda block: ArrayBackend.add_row_(self, block, row), array)
        return array

    def activate_(self, name, z):
        self._map_rows(lambda block: ArrayBackend.activate_(self, name, block), z)
        return z

    def mul_derivative_(self, name, activations, delta, scratch):
        self._map_rows(lambda a, d, s: ArrayBackend.mul_derivative_(self, name, a, d, s),
                       activations, delta, scratch)
        return delta

    def linear_activate(self, inputs, weights, bias, name, out):
        np.matmul(inputs, weights.T, out=out)

        def finish(block):
            block += bias
            ArrayBackend.activate_(self, name, block)

        self._map_rows(finish, out)
        return out

    def add_row_mul_derivative_(self, name, activations, delta, row, scratch):
        def finish(a, d, s):
            if row is not None:
                d += row
            ArrayBackend.mul_derivative_(self, name, a, d, s)

        self._map_rows(finish, activations, delta, scratch)
        return delta

    def squared_error(self, outputs, targets, delta):
        parts = self._map_rows(lambda o, t, d: ArrayBackend.squared_error(self, o, t, d),
                               outputs, targets, delta)
        return sum(parts)

    def column_sum(self, array, out, scale=1.0):
        # A BLAS matrix-vector product: multi-threaded, one pass over the array.
        ones = np.ones(array.shape[0], dtype=array.dtype)
        np.matmul(ones, array, out=out)
        out *= scale
        return out
