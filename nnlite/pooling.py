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
    rows = np.arange(pool_grid) * n_rows // pool_grid
    cols = np.arange(pool_grid) * n_cols // pool_grid
    if pooling == "max":
        pooled = np.maximum.reduceat(np.maximum.reduceat(codes, rows, axis=1), cols, axis=2)
        return pooled.reshape(n_images, -1)
    # sum and mean: one batched product with the (k*k, n_rows*n_cols) cell-membership matrix
    # (BLAS-fast; np.add.reduceat over a middle axis is several times slower).
    cells = pooling_matrix((n_rows, n_cols), pool_grid, mean=pooling == "mean").astype(codes.dtype)
    flat = codes.reshape(n_images, n_rows * n_cols, n_units)
    return np.matmul(cells, flat).reshape(n_images, -1)


def pooling_matrix(grid, pool_grid, mean=False):
    """Which positions each pooling cell covers, as a ``(k * k, n_rows * n_cols)`` matrix.

    Parameters
    ----------
    grid : tuple of int
        ``(n_rows, n_cols)`` positions.
    pool_grid : int
        ``k``; cells as in :func:`pool_codes`.
    mean : bool, default=False
        Rows sum to 1 (the mean) instead of holding ones (the sum).

    Returns
    -------
    ndarray of shape (k * k, n_rows * n_cols)
    """
    n_rows, n_cols = grid
    # position row r belongs to cell i when rows[i] <= r < rows[i + 1] with rows[i] = i * n_rows // k
    starts_r = np.arange(pool_grid) * n_rows // pool_grid
    starts_c = np.arange(pool_grid) * n_cols // pool_grid
    row_cell = np.searchsorted(starts_r, np.arange(n_rows), side="right") - 1
    col_cell = np.searchsorted(starts_c, np.arange(n_cols), side="right") - 1
    cell = (row_cell[:, None] * pool_grid + col_cell[None, :]).ravel()
    matrix = (cell[None, :] == np.arange(pool_grid * pool_grid)[:, None]).astype(np.float64)
    if mean:
        matrix /= matrix.sum(axis=1, keepdims=True)
    return matrix
