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
    rows = np.append(np.arange(pool_grid) * n_rows // pool_grid, n_rows)
    cols = np.append(np.arange(pool_grid) * n_cols // pool_grid, n_cols)
    reduce = {"sum": np.sum, "mean": np.mean, "max": np.max}[pooling]
    pooled = np.empty((n_images, pool_grid, pool_grid, n_units), dtype=codes.dtype)
    # one vectorised reduction per cell (k * k of them, 4 for quadrants): faster than np.add.reduceat
    # over a middle axis, and than a batched product, which BLAS runs badly on a loaded machine.
    for i in range(pool_grid):
        for j in range(pool_grid):
            reduce(codes[:, rows[i]:rows[i + 1], cols[j]:cols[j + 1]], axis=(1, 2), out=pooled[:, i, j])
    return pooled.reshape(n_images, -1)
