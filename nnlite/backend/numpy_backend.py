"""The default backend: numpy on the CPU, float64 or float32.

Matrix products go to numpy's BLAS.  The element-wise work of a layer (bias
add and activation; sparsity term and derivative; error and derivative) is a
chain of several numpy passes over arrays of ``n_samples x n_units``, each of
which would stream the whole array from memory.  This backend runs such a
chain on one block of rows at a time, blocks sized to stay in the CPU cache
(``BLOCK_BYTES``), so only the first pass of each block touches main memory.
The results are bit-for-bit those of the unblocked passes, except the
squared-error sum, whose per-block partial sums are added in a fixed order
(deterministic; the last bits may differ from one undivided sum).

Optionally (``n_threads > 1``) blocks are spread over a thread pool (numpy
releases the GIL inside ufunc loops).  The default is one thread: measured on
2 cores, OpenBLAS's worker threads keep spinning after each product and
compete with element-wise threads, which made evaluations slower, not faster.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .base import ArrayBackend

#: Target size of one block of rows for blocked element-wise chains (bytes of the widest array).
BLOCK_BYTES = 1 << 17


class NumpyBackend(ArrayBackend):
    """CPU backend over numpy and its BLAS; arrays are plain ``numpy.ndarray``.

    Parameters
    ----------
    dtype : {'float64', 'float32'}, default='float64'
    n_threads : int, optional
        Threads for the blocked element-wise chains (default 1;
        ``$NNLITE_NUM_THREADS`` overrides).  Matrix products use BLAS's own
        threads whatever this is.

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
            n_threads = int(os.environ.get("NNLITE_NUM_THREADS", 0) or 1)
        if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
            raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
        self.n_threads = n_threads

    def __repr__(self):
        return f"NumpyBackend(dtype={self.dtype.name!r}, n_threads={self.n_threads})"

    def _pool(self):
        pool = NumpyBackend._pools.get(self.n_threads)
        if pool is None:
            pool = NumpyBackend._pools[self.n_threads] = ThreadPoolExecutor(
                self.n_threads, thread_name_prefix="nnlite-elementwise")
        return pool

    def _map_rows(self, function, *arrays):
        """``function(*row_blocks)`` on cache-sized row blocks of ``arrays``; list of results."""
        first = arrays[0]
        if first.ndim != 2:
            return [function(*arrays)]
        row_bytes = max(a.shape[1] for a in arrays) * first.itemsize
        rows = max(1, BLOCK_BYTES // max(row_bytes, 1))
        if rows >= first.shape[0]:
            return [function(*arrays)]
        blocks = [slice(start, start + rows) for start in range(0, first.shape[0], rows)]
        if self.n_threads == 1:
            return [function(*(a[block] for a in arrays)) for block in blocks]
        futures = [self._pool().submit(function, *(a[block] for a in arrays)) for block in blocks]
        return [future.result() for future in futures]

    def linear(self, inputs, weights, bias, out):
        np.matmul(inputs, weights.T, out=out)
        self._map_rows(lambda block: ArrayBackend.add_row_(self, block, bias), out)
        return out

    def linear_activate(self, inputs, weights, bias, name, out):
        if name == "sigmoid":
            # The product of the negated (small) weight matrix gives -z directly,
            # saving the negation pass over the (large) output: 1 / (1 + exp(-z)).
            np.matmul(inputs, np.negative(weights).T, out=out)

            def finish(block):
                block -= bias
                with np.errstate(over="ignore"):
                    np.exp(block, out=block)
                block += 1.0
                np.reciprocal(block, out=block)
        else:
            np.matmul(inputs, weights.T, out=out)

            def finish(block):
                block += bias
                ArrayBackend.activate_(self, name, block)

        self._map_rows(finish, out)
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
