"""Which hidden layers give the codes, and pooling of per-position codes over a grid of cells."""

import numpy as np

from .validation import check_int, is_integer

POOLING_MODES = ("none", "sum", "mean", "max")
LAYER_NAMES = ("first", "middle", "concat")


def resolve_layers(layer, n_hidden):
    """Hidden layer numbers (1 = first hidden) that provide the features.

    Parameters
    ----------
    layer : None, int, {'first', 'middle', 'concat'} or sequence of int
        None and ``'middle'``: the code layer ``(n_hidden + 1) // 2``;
        ``'first'``: layer 1; ``'concat'``: every encoder layer from the
        first to the middle one, concatenated; a sequence: those layers.
    n_hidden : int
        Number of hidden layers of the autoencoder.

    Returns
    -------
    list of int
        Sorted, distinct layer numbers in ``[1, n_hidden]``.
    """
    middle = (n_hidden + 1) // 2
    if layer is None or (isinstance(layer, str) and layer == "middle"):
        return [middle]
    if isinstance(layer, str):
        if layer == "first":
            return [1]
        if layer == "concat":
            return list(range(1, middle + 1))
        raise ValueError(f"layer must be an int, a list of ints or one of {LAYER_NAMES}, got {layer!r}")
    numbers = [layer] if is_integer(layer) else list(np.ravel(layer).tolist())
    if not numbers:
        raise ValueError(f"layer must name hidden layers in [1, {n_hidden}], got {layer!r}")
    return sorted(set(check_int(v, "layer", minimum=1, maximum=n_hidden) for v in numbers))


def pool_codes(codes, pooling, pool_grid):
    """Pool per-position codes over a ``k x k`` partition of the position grid.

    Parameters
    ----------
    codes : ndarray of shape (n_images, n_rows, n_cols, n_units)
    pooling : {'none', 'sum', 'mean', 'max'}
        ``'none'`` returns every position's code.
    pool_grid : int
        ``k``: cell ``(i, j)`` covers position rows ``[i*n_rows//k,
        (i+1)*n_rows//k)`` and the same for columns.

    Returns
    -------
    ndarray of shape (n_images, n_rows * n_cols * n_units) for 'none', else
    (n_images, k * k * n_units)
        Ordered cell (or position) row-major, then unit.
    """
    n_images, n_rows, n_cols, n_units = codes.shape
    if pooling == "none":
        return codes.reshape(n_images, -1)
    rows, cols = cell_bounds(n_rows, pool_grid), cell_bounds(n_cols, pool_grid)
    reduce = {"sum": np.sum, "mean": np.mean, "max": np.max}[pooling]
    pooled = np.empty((n_images, pool_grid, pool_grid, n_units), dtype=codes.dtype)
    # one vectorised reduction per cell (k * k of them, 4 for quadrants): faster than np.add.reduceat
    # over a middle axis, and than a batched product, which BLAS runs badly on a loaded machine.
    for i in range(pool_grid):
        for j in range(pool_grid):
            reduce(codes[:, rows[i]:rows[i + 1], cols[j]:cols[j + 1]], axis=(1, 2), out=pooled[:, i, j])
    return pooled.reshape(n_images, -1)


def cell_bounds(n_positions, pool_grid):
    """Edges of the ``pool_grid`` cells along an axis of ``n_positions`` positions, shape (pool_grid + 1,)."""
    return np.append(np.arange(pool_grid) * n_positions // pool_grid, n_positions)


class CellPooler:
    """Pool the codes of a grid of positions into ``k x k`` cells, a band of grid rows at a time.

    Feature extraction encodes an image a block of patches at a time so
    that every block stays in cache (:mod:`nnlite.features`); the codes of a
    block are reduced into the cells right away and never stored.  A block
    covers whole images, or a band of grid rows ``[r0, r0 + r)`` of one
    image; the first band that reaches a cell sets its value, later bands
    add to it (or take the maximum / minimum).

    Parameters
    ----------
    grid : tuple of int
        ``(n_rows, n_cols)`` positions per image.
    pool_grid : int
        ``k``; cells as in :func:`pool_codes`.

    Attributes
    ----------
    counts : ndarray of shape (k * k, 1)
        Positions per cell (for means).
    """

    _REDUCE = {"sum": np.add, "max": np.maximum, "min": np.minimum}

    def __init__(self, grid, pool_grid):
        self.grid, self.pool_grid = tuple(grid), pool_grid
        self.rows, self.cols = cell_bounds(grid[0], pool_grid), cell_bounds(grid[1], pool_grid)
        sizes = np.outer(np.diff(self.rows), np.diff(self.cols))
        self.counts = sizes.reshape(-1, 1)
        self._cache = {}

    def add(self, values, first_row, out, kind):
        """Reduce the codes of a band of grid rows into the cells.

        Parameters
        ----------
        values : ndarray of shape (n_images * r * n_cols, units)
            Codes of grid rows ``[first_row, first_row + r)`` of ``n_images``
            images (image-major, then row-major positions).
        first_row : int
        out : ndarray of shape (n_images, k, k, units)
            The pooled cells of those images (a view; updated in place).
        kind : {'sum', 'max', 'min'}
        """
        ufunc, n_cols = self._REDUCE[kind], self.grid[1]
        n_images, units = out.shape[0], out.shape[3]
        band = values.reshape(n_images, -1, n_cols, units)
        last_row = first_row + band.shape[1]
        for i in range(self.pool_grid):
            low, high = max(first_row, self.rows[i]), min(last_row, self.rows[i + 1])
            if low >= high:
                continue
            rows = band[:, low - first_row:high - first_row]
            if kind == "sum" and n_images == 1:  # over the grid rows first, by one matrix-vector product
                columns = (self._ones(high - low, rows.dtype) @ rows.reshape(high - low, -1)).reshape(
                    1, n_cols, units)
            else:  # (a reduction over a middle axis: long contiguous rows of n_cols * units values)
                columns = ufunc.reduce(rows, axis=1)
            for j in range(self.pool_grid):
                cell, part = out[:, i, j], columns[:, self.cols[j]:self.cols[j + 1]]
                if low == self.rows[i]:  # the first band of this cell row
                    ufunc.reduce(part, axis=1, out=cell)
                else:
                    ufunc(cell, ufunc.reduce(part, axis=1), out=cell)

    def _ones(self, length, dtype):
        """A vector of ``length`` ones in ``dtype`` (cached)."""
        key = (length, dtype)
        if key not in self._cache:
            self._cache[key] = np.ones(length, dtype)
        return self._cache[key]
