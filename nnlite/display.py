"""Pictures of filters, patches and images, and training curves, written without a display.

* :func:`tile_grid` -- rows of a matrix as tiles of a near-square grid (a pure
  array function, assembled with one reshape/transpose, no loop over tiles);
* :func:`display_layer` -- the same grid saved as a PNG with Pillow (SPEC's
  ``display_layer``), upscaled with nearest-neighbour so 8x8 tiles are visible;
* :func:`plot_loss_curve` -- cost per L-BFGS iteration (and per second) with
  matplotlib's Agg canvas.
"""

import math
import os

import numpy as np

from .data.shapes import resolve_image_shape, square_side
from .validation import check_data, check_int

__all__ = ["tile_grid", "display_layer", "plot_loss_curve", "tile_shape"]

#: Grid images smaller than this (longest side, pixels) are upscaled by an integer factor.
MIN_IMAGE_SIZE = 400


def tile_shape(n_values, image_shape=None):
    """``(h, w, c)`` of one tile for rows of ``n_values`` values.

    Parameters
    ----------
    n_values : int
    image_shape : tuple of int, optional
        ``(h, w)``, ``(h, w, 1)`` or ``(h, w, 3)``.  ``None``: square RGB when
        ``n_values = d*d*3``, else square grey when ``n_values = d*d``.

    Returns
    -------
    tuple of (int, int, int)

    Raises
    ------
    ValueError
        When the shape cannot be inferred or does not hold ``n_values`` values.
    """
    if image_shape is None:
        for channels in (3, 1):
            side = square_side(n_values, channels)
            if side is not None:
                return side, side, channels
        raise ValueError(f"rows of length {n_values} are neither d*d*3 (RGB) nor d*d (grey); "
                         f"pass image_shape=(h, w, c)")
    return resolve_image_shape(n_values, image_shape, allowed_channels=(1, 3))


def _stretch_rows(X):
    """Each row mapped linearly onto [0, 1] on its own; a constant row becomes 0.5."""
    low = X.min(axis=1, keepdims=True)
    span = X.max(axis=1, keepdims=True) - low
    flat = span == 0
    return np.where(flat, 0.5, (X - low) / np.where(flat, 1.0, span))


def tile_grid(X, image_shape=None, padding=1, columns=None, background=0.0):
    """Arrange the rows of ``X`` as tiles of a grid image, each contrast-stretched on its own.

    Parameters
    ----------
    X : array-like of shape (n_tiles, h*w*c)
        One image (filter, patch, photo) per row, ``row.reshape(h, w, c)``.
    image_shape : tuple of int, optional
        See :func:`tile_shape`; default: square RGB or square grey.
    padding : int, default=1
        Border width (pixels) around and between tiles.
    columns : int, optional
        Tiles per grid row; default ``ceil(sqrt(n_tiles))`` (near-square).
    background : float, default=0.0
        Value in [0, 1] of the border and of the empty cells after the last tile.

    Returns
    -------
    ndarray of shape (rows*(h+padding)+padding, columns*(w+padding)+padding[, 3])
        float64 in [0, 1]; 2-D for grey tiles.  Tile ``k`` occupies the cell
        at grid row ``k // columns``, column ``k % columns``; its top-left
        pixel is at ``(padding + (k // columns) * (h + padding),
        padding + (k % columns) * (w + padding))``.

    Notes
    -----
    Tile ``k`` is ``(x_k - min x_k) / (max x_k - min x_k)``: filters whose
    weights have different scales are all shown with full contrast.
    """
    X = check_data(X, name="X")
    n_tiles = X.shape[0]
    height, width, channels = tile_shape(X.shape[1], image_shape)
    padding = check_int(padding, "padding", minimum=0)
    columns = (math.ceil(math.sqrt(n_tiles)) if columns is None
               else check_int(columns, "columns", minimum=1))
    if not 0.0 <= float(background) <= 1.0:
        raise ValueError(f"background must be in [0, 1], got {background!r}")
    rows = math.ceil(n_tiles / columns)
    cells = np.full((rows * columns, height + padding, width + padding, channels), float(background))
    cells[:n_tiles, :height, :width] = _stretch_rows(X).reshape(n_tiles, height, width, channels)
    body = (cells.reshape(rows, columns, height + padding, width + padding, channels)
            .transpose(0, 2, 1, 3, 4)
            .reshape(rows * (height + padding), columns * (width + padding), channels))
    grid = np.full((body.shape[0] + padding, body.shape[1] + padding, channels), float(background))
    grid[padding:, padding:] = body
    return grid[..., 0] if channels == 1 else grid


def display_layer(X, filename="layer.png", image_shape=None, padding=1, columns=None,
                  background=0.0, scale=None):
    """Save the rows of ``X`` as a grid of tiles (SPEC's ``display_layer``).

    Parameters
    ----------
    X : array-like of shape (n_tiles, h*w*c)
        E.g. ``100 x 192`` filters (8x8x3) or ``16 x 27648`` STL-10 images.
    filename : str or os.PathLike or None, default='layer.png'
        PNG written with Pillow (folders are created); ``None`` writes nothing.
    image_shape, padding, columns, background
        As in :func:`tile_grid`.
    scale : int, optional
        Nearest-neighbour upscaling factor; default: the smallest integer
        that makes the longest side at least :data:`MIN_IMAGE_SIZE` pixels.

    Returns
    -------
    ndarray
        The grid at scale 1, as returned by :func:`tile_grid`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "filters.png")
    >>> display_layer(np.random.default_rng(0).normal(size=(75, 192)), path).shape
    (82, 82, 3)
    """
    grid = tile_grid(X, image_shape=image_shape, padding=padding, columns=columns,
                     background=background)
    if filename is None:
        return grid
    if scale is None:
        scale = max(1, math.ceil(MIN_IMAGE_SIZE / max(grid.shape[:2])))
    else:
        scale = check_int(scale, "scale", minimum=1)
    from PIL import Image

    pixels = np.rint(grid * 255).astype(np.uint8)
    if scale > 1:
        pixels = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    filename = os.fspath(filename)
    directory = os.path.dirname(os.path.abspath(filename))
    os.makedirs(directory, exist_ok=True)
    Image.fromarray(pixels).save(filename)  # 2-D uint8 -> "L", (h, w, 3) uint8 -> "RGB"
    return grid


def plot_loss_curve(loss_curve, filename, time_curve=None, title="Training cost"):
    """Plot the cost per iteration (log-scale y) and, given times, per second; save it.

    Parameters
    ----------
    loss_curve : sequence of float
        Cost at each iteration (index 0: the starting point).
    filename : str or os.PathLike
        Image written by matplotlib's Agg backend (PNG, PDF, SVG by extension).
    time_curve : sequence of float, optional
        Seconds since the start, matching ``loss_curve``: adds a second panel.
    title : str

    Returns
    -------
    str
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    loss = np.asarray(loss_curve, dtype=np.float64).ravel()
    if loss.size == 0:
        raise ValueError("loss_curve is empty: nothing to plot")
    panels = [("iteration", np.arange(loss.size))]
    if time_curve is not None:
        times = np.asarray(time_curve, dtype=np.float64).ravel()
        if times.size != loss.size:
            raise ValueError(f"time_curve has {times.size} values but loss_curve has {loss.size}")
        panels.append(("seconds", times))
    figure = Figure(figsize=(5.0 * len(panels), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    log = bool(np.all(loss[np.isfinite(loss)] > 0))
    for index, (label, x) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        axes.plot(x, loss, color="tab:blue", linewidth=1.5)
        if log:
            axes.set_yscale("log")
        axes.set_xlabel(label)
        axes.set_ylabel("cost J")
        axes.grid(True, which="both", alpha=0.3)
    figure.suptitle(title)
    filename = os.fspath(filename)
    os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
    figure.savefig(filename, dpi=100)
    return filename
