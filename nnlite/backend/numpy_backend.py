"""The default backend: numpy on the CPU, float64 or float32, on every core BLAS may use.

An evaluation is a handful of matrix products and, between them, chains of
element-wise passes over ``n_samples x n_units`` arrays (bias and sigmoid;
error, squared sum and derivative; sparsity row and derivative).  Left to
numpy and BLAS, the products run on all cores and the chains on one, which
on 2 cores made the chains half of an evaluation.

This backend cuts every operation into fixed blocks of rows and runs the
blocks on a :class:`~nnlite.backend.row_pool.RowPool` of as many threads as
BLAS would use (BLAS itself is held at one thread meanwhile, so nothing
oversubscribes).  A block does its product *and* the element-wise chain on
the product's output while that output is still in the core's cache, so
only the first pass of a chain touches main memory.  Reductions over samples
(weight gradients, column sums, the squared error) are sums of per-block
partial results, added in block order.  :meth:`NumpyBackend.dense_backward`
does a layer's whole backward step (derivative, both gradients, the delta
below) block by block, reading the layer's delta from memory once,
:meth:`NumpyBackend.linear_activate_column_sum` sums a hidden layer's
activations per block as its forward step writes them (the sparsity
penalty's mean activations), and :meth:`NumpyBackend.dense_squared_error`
does the output layer's forward step, the squared error and its backward
step in one pass over the blocks, so the widest arrays (the outputs and
their delta) never go to memory.  A sparse autoencoder's evaluation is two
pool runs.

(Over 400 lines: every blocked operation shares the block partition, the
per-thread buffers and the pool, and each fused step must give the same
bytes as the separate steps it replaces, so they are kept side by side.)

**Determinism.**  Blocks depend only on the arrays' shapes and dtype, never on
the thread count, and partial results are combined in a fixed order, so a
result is bit-for-bit the same on every run and with any number of threads.
Sums over samples may differ in the last bits from one undivided product.
"""

import math
import os
import threading

import numpy as np

from ..validation import check_int
from .base import ArrayBackend
from .row_pool import blas_threads, get_pool, single_threaded_blas

#: Target size of one block of rows for element-wise chains (bytes of the widest
#: array touched): the block stays in a core's cache from one pass to the next.
BLOCK_BYTES = 1 << 19

#: Target block size for operations without a chain (products, column sums): only
#: the split between threads matters there, and fewer, larger blocks cost less.
SPLIT_BYTES = 1 << 21

#: Fewest rows in a block (small blocks cost more in Python than they save in cache).
MIN_BLOCK_ROWS = 64


def row_blocks(n_rows, width, itemsize, target_bytes=None):
    """The fixed partition of ``n_rows`` rows into blocks, as a list of slices.

    Parameters
    ----------
    n_rows : int
    width : int
        Columns of the widest array the operation touches.
    itemsize : int
        Bytes per element.
    target_bytes : int, optional
        Bytes of a block of the widest array (default ``BLOCK_BYTES``).

    Returns
    -------
    list of slice
        Consecutive, covering ``range(n_rows)``; every block but the last has
        the same length.
    """
    target_bytes = BLOCK_BYTES if target_bytes is None else target_bytes
    rows = max(MIN_BLOCK_ROWS, target_bytes // max(width * itemsize, 1))
    return [slice(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)] or [slice(0, 0)]


_LOCAL = threading.local()


#: Most views a thread keeps for :func:`thread_buffer` (blocks have one or two shapes).
_MAX_VIEWS = 64


def thread_buffer(key, shape, dtype):
    """An uninitialised C-contiguous array of ``shape``, private to the calling thread.

    Every call with the same ``key`` and ``dtype`` in a thread gets the same
    memory (grown when too small), so a buffer reused by the blocks a thread
    runs stays in that core's cache.  A shape asked for before gets the same
    view object back (no Python work beyond one lookup: blocks call this
    several times each, and the interpreter lock is shared by every thread).
    """
    local = _LOCAL.__dict__
    views = local.get("views")
    if views is None:
        views = local["views"] = {}
        local["buffers"] = {}
    view = views.get((key, shape, dtype))
    if view is not None:
        return view
    buffers = local["buffers"]
    size, name = math.prod(shape), (key, np.dtype(dtype))
    array = buffers.get(name)
    if array is None or array.size < size or len(views) >= _MAX_VIEWS:
        views.clear()  # views of a replaced buffer must not be handed out again
        if array is None or array.size < size:
            array = buffers[name] = np.empty(size, dtype)
    view = views[(key, shape, dtype)] = array[:size].reshape(shape)
    return view


def block_scratch(like, slot=0):
    """A scratch array shaped like the row block ``like``, private to the calling thread.

    It is reused by every block the thread runs, so it stays in that core's
    cache (the caller's full-size scratch array would be written to memory).
    Different ``slot`` values give different arrays.
    """
    return thread_buffer(("block", slot, like.shape[1:]), like.shape, like.dtype)


class NumpyBackend(ArrayBackend):
    """CPU backend over numpy and its BLAS; arrays are plain ``numpy.ndarray``.

    Parameters
    ----------
    dtype : {'float64', 'float32'}, default='float64'
    n_threads : int, optional
        Threads for the blocked operations.  Default: ``$NNLITE_NUM_THREADS``
        when set (``0`` or empty: unset), else BLAS's thread count at the time of each operation
        (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``threadpoolctl``
        limits all apply).

    Notes
    -----
    With ``dtype='float64'`` and a C-contiguous float64 input, :meth:`asarray`
    returns the input itself, so a training set is never copied.
    """

    name = "numpy"
    xp = np

    def __init__(self, dtype="float64", n_threads=None):
        super().__init__(dtype)
        if n_threads is None:
            text = os.environ.get("NNLITE_NUM_THREADS", "").strip()
            if text and text != "0":
                n_threads = check_int(_parse_int(text), "$NNLITE_NUM_THREADS", minimum=1)
        else:
            n_threads = check_int(n_threads, "n_threads", minimum=1)
        self.n_threads = n_threads

    def __repr__(self):
        return f"NumpyBackend(dtype={self.dtype.name!r}, n_threads={self.n_threads})"

    def threads(self):
        """The number of threads the next blocked operation will use."""
        return self.n_threads if self.n_threads is not None else blas_threads()

    @staticmethod
    def _blocks(arrays, target_bytes):
        first = arrays[0]
        width = max(a.shape[1] if a.ndim == 2 else 1 for a in arrays)
        return row_blocks(first.shape[0], width, first.itemsize, target_bytes)

    def _for_blocks(self, blocks, function):
        """``function(index, block_slice)`` for every block, on the pool."""
        threads = self.threads()
        if threads == 1 or len(blocks) == 1:
            for index, block in enumerate(blocks):
                function(index, block)
        else:
            get_pool(threads).run(lambda index: function(index, blocks[index]), len(blocks))

    def _map_rows(self, function, *arrays, target_bytes=None):
        """``function(*row_blocks)`` on every block of rows of ``arrays`` (all 2-D, same rows)."""
        if arrays[0].ndim != 2:
            function(*arrays)
            return
        self._for_blocks(self._blocks(arrays, target_bytes),
                         lambda _, block: function(*(a[block] for a in arrays)))

    def _sum_rows(self, function, out, *arrays, target_bytes=None):
        """``out = sum over blocks of function(partial_out, *row_blocks)``, added in block order."""
        blocks = self._blocks(arrays, target_bytes)
        partials = np.empty((len(blocks),) + out.shape, dtype=out.dtype)
        self._for_blocks(blocks, lambda index, block: function(partials[index],
                                                               *(a[block] for a in arrays)))
        np.add.reduce(partials, axis=0, out=out)
        return out

    # -------------------------------------------------------------- dense math
    def linear(self, inputs, weights, bias, out):
        def block(x, o):
            np.matmul(x, weights.T, out=o)
            o += bias

        self._map_rows(block, inputs, out)
        return out

    def _activate_block(self, weights, bias, name):
        """The function ``(x, o) -> o = f(x @ weights.T + bias)`` on one block of rows."""
        if name == "sigmoid":
            # The product with the negated (small) weight matrix gives -z directly,
            # saving a negation pass over the (large) output: 1 / (1 + exp(-z)).
            negated = np.negative(weights)

            def block(x, o):
                np.matmul(x, negated.T, out=o)
                o -= bias
                with np.errstate(over="ignore"):
                    np.exp(o, out=o)
                o += 1.0
                np.divide(1.0, o, out=o)  # = reciprocal, bit for bit, and faster
        else:
            def block(x, o):
                np.matmul(x, weights.T, out=o)
                o += bias
                ArrayBackend.activate_(self, name, o)
        return block

    def linear_activate(self, inputs, weights, bias, name, out):
        self._map_rows(self._activate_block(weights, bias, name), inputs, out)
        return out

    def linear_activate_column_sum(self, inputs, weights, bias, name, out, sums, scale=1.0):
        """:meth:`linear_activate` with each block's column sums taken while it is in cache.

        The activations are the same bytes as :meth:`linear_activate`'s (same
        blocks); the sums are per-block partial sums added in block order.
        """
        if inputs.ndim != 2:
            return ArrayBackend.linear_activate_column_sum(self, inputs, weights, bias, name, out, sums, scale)
        ones = np.ones(inputs.shape[0], dtype=out.dtype)
        activate = self._activate_block(weights, bias, name)

        def block(partial, x, o):
            activate(x, o)
            np.matmul(ones[:o.shape[0]], o, out=partial)

        # The blocks of linear_activate's _map_rows(block, inputs, out): the same activations.
        self._sum_rows(block, sums, inputs, out)
        sums *= scale
        return out

    def weight_grad(self, delta, inputs, out, scale):
        self._sum_rows(lambda o, d, x: np.matmul(d.T, x, out=o), out, delta, inputs,
                       target_bytes=SPLIT_BYTES)
        out *= scale
        return out

    def backprop(self, delta, weights, out):
        self._map_rows(lambda d, o: np.matmul(d, weights, out=o), delta, out, target_bytes=SPLIT_BYTES)
        return out

    def column_sum(self, array, out, scale=1.0):
        if array.ndim != 2:
            return ArrayBackend.column_sum(self, array, out, scale)
        ones = np.ones(array.shape[0], dtype=array.dtype)
        # A matrix-vector product per block: one pass over the block.
        self._sum_rows(lambda o, a: np.matmul(ones[:a.shape[0]], a, out=o), out, array,
                       target_bytes=SPLIT_BYTES)
        out *= scale
        return out

    def add_row_(self, array, row):
        self._map_rows(lambda block: ArrayBackend.add_row_(self, block, row), array)
        return array

    # ------------------------------------------------------------ activations
    def activate_(self, name, z):
        self._map_rows(lambda block: ArrayBackend.activate_(self, name, block), z)
        return z

    def mul_derivative_(self, name, activations, delta, scratch):
        return self.add_row_mul_derivative_(name, activations, delta, None, scratch)

    def add_row_mul_derivative_(self, name, activations, delta, row, scratch):
        if activations.ndim != 2:
            return ArrayBackend.add_row_mul_derivative_(self, name, activations, delta, row, scratch)

        def block(a, d):
            if row is not None:
                d += row
            ArrayBackend.mul_derivative_(self, name, a, d, block_scratch(d))

        self._map_rows(block, activations, delta)
        return delta

    def dense_backward(self, name, inputs, outputs, delta, weights, grad_weights, grad_bias,
                       delta_in, scale, scratch, row=None):
        """All four steps of the layer's backward pass on each block while it is in cache.

        ``delta`` is read from memory once instead of four times; the weight
        and bias gradients are sums of per-block partial results.
        """
        if delta.ndim != 2:
            return ArrayBackend.dense_backward(self, name, inputs, outputs, delta, weights, grad_weights,
                                               grad_bias, delta_in, scale, scratch, row)
        arrays = (delta, inputs) if delta_in is None else (delta, inputs, delta_in)
        blocks = self._blocks(arrays, None)
        partial_w = np.empty((len(blocks),) + grad_weights.shape, dtype=grad_weights.dtype)
        partial_b = np.empty((len(blocks),) + grad_bias.shape, dtype=grad_bias.dtype)
        ones = np.ones(blocks[0].stop - blocks[0].start, dtype=delta.dtype)

        def block(index, rows):
            d, a = delta[rows], outputs[rows]
            if row is not None:
                d += row
            ArrayBackend.mul_derivative_(self, name, a, d, block_scratch(d))
            np.matmul(d.T, inputs[rows], out=partial_w[index])
            np.matmul(ones[:d.shape[0]], d, out=partial_b[index])
            if delta_in is not None:
                np.matmul(d, weights, out=delta_in[rows])

        self._for_blocks(blocks, block)
        np.add.reduce(partial_w, axis=0, out=grad_weights)
        grad_weights *= scale
        np.add.reduce(partial_b, axis=0, out=grad_bias)
        grad_bias *= scale
        return delta_in

    def dense_squared_error(self, name, inputs, weights, bias, targets, outputs, delta, grad_weights,
                            grad_bias, delta_in, scale, scratch, below=None):
        """The output layer's forward step, squared error and backward step, block by block.

        Each block's outputs and delta live only in per-thread block scratch
        (``outputs``, ``delta`` and ``scratch`` are left untouched), so the
        widest arrays of the evaluation never go to memory; one pool run does
        what :meth:`linear_activate`, :meth:`squared_error` and
        :meth:`dense_backward` do in three, with the same blocks and
        arithmetic, so the results are the same bytes.  With ``below``, the
        block goes on with the layer below's backward step (its delta stays in
        block scratch too) when both steps cut the rows into the same blocks,
        as in an autoencoder; otherwise that step is a second call.
        """
        if inputs.ndim != 2:
            return ArrayBackend.dense_squared_error(self, name, inputs, weights, bias, targets, outputs, delta,
                                                   grad_weights, grad_bias, delta_in, scale, scratch, below)
        arrays = (targets, inputs) if delta_in is None else (targets, inputs, delta_in)
        blocks = self._blocks(arrays, None)
        if below is not None:
            below_arrays = ((below.delta, below.inputs) if below.delta_in is None
                            else (below.delta, below.inputs, below.delta_in))
            if (below.delta is not delta_in or below.inputs.ndim != 2
                    or self._blocks(below_arrays, None) != blocks):
                half_sum = self.dense_squared_error(name, inputs, weights, bias, targets, outputs, delta,
                                                    grad_weights, grad_bias, delta_in, scale, scratch)
                self.dense_backward(*below)
                return half_sum
        n_blocks = len(blocks)
        partial_w = np.empty((n_blocks,) + grad_weights.shape, dtype=grad_weights.dtype)
        partial_b = np.empty((n_blocks,) + grad_bias.shape, dtype=grad_bias.dtype)
        partial_cost = np.empty((n_blocks, 1), dtype=targets.dtype)
        if below is not None:
            below_w = np.empty((n_blocks,) + below.grad_weights.shape, dtype=below.grad_weights.dtype)
            below_b = np.empty((n_blocks,) + below.grad_bias.shape, dtype=below.grad_bias.dtype)
        ones = np.ones(blocks[0].stop - blocks[0].start, dtype=targets.dtype)
        activate = self._activate_block(weights, bias, name)

        def block(index, rows):
            x, t = inputs[rows], targets[rows]
            o, d = block_scratch(t, "outputs"), block_scratch(t, "delta")
            activate(x, o)
            partial_cost[index, 0] = ArrayBackend.squared_error(self, o, t, d)
            ArrayBackend.mul_derivative_(self, name, o, d, block_scratch(d))
            np.matmul(d.T, x, out=partial_w[index])
            np.matmul(ones[:d.shape[0]], d, out=partial_b[index])
            if delta_in is None:
                return
            if below is None:
                np.matmul(d, weights, out=delta_in[rows])
                return
            # The layer below's dense_backward on this block (same arithmetic).
            d = block_scratch(x, "below")
            np.matmul(block_scratch(t, "delta"), weights, out=d)
            if below.row is not None:
                d += below.row
            ArrayBackend.mul_derivative_(self, below.name, below.outputs[rows], d, block_scratch(d))
            np.matmul(d.T, below.inputs[rows], out=below_w[index])
            np.matmul(ones[:d.shape[0]], d, out=below_b[index])
            if below.delta_in is not None:
                np.matmul(d, below.weights, out=below.delta_in[rows])

        self._for_blocks(blocks, block)
        total = np.add.reduce(partial_cost, axis=0)
        np.add.reduce(partial_w, axis=0, out=grad_weights)
        grad_weights *= scale
        np.add.reduce(partial_b, axis=0, out=grad_bias)
        grad_bias *= scale
        if below is not None:
            for partial, grad in ((below_w, below.grad_weights), (below_b, below.grad_bias)):
                np.add.reduce(partial, axis=0, out=grad)
                grad *= below.scale
        return total[0]

    # ----------------------------------------------------------------- losses
    def sum_squares(self, vector):
        # OpenBLAS splits a long dot product over its threads, which then spin
        # beside the pool's; one thread does this short one as fast.
        with single_threaded_blas():
            return ArrayBackend.sum_squares(self, vector)

    def squared_error(self, outputs, targets, delta):
        if outputs.ndim != 2:
            return ArrayBackend.squared_error(self, outputs, targets, delta)
        total = np.empty((1,), dtype=outputs.dtype)

        def block(partial, o, t, d):
            partial[0] = ArrayBackend.squared_error(self, o, t, d)

        return self._sum_rows(block, total, outputs, targets, delta)[0]


def _parse_int(text):
    """``int(text)``, or ``text`` itself when it is not an integer (check_int then names it)."""
    try:
        return int(text)
    except ValueError:
        return text
