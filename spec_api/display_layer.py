"""The assignment's ``display_layer`` module: rows of a matrix as a grid of tiles in a PNG.

A thin adapter over :func:`nnlite.display.display_layer` (per-tile contrast
stretch, 1-pixel black border, near-square grid, nearest-neighbour upscaling
to at least 400 pixels, written with Pillow: no display needed).
"""

from nnlite.display import display_layer as _display_layer

__all__ = ["display_layer"]


def display_layer(X, filename="layer.png"):
    """Save every row of ``X`` as one tile of a grid image.

    Parameters
    ----------
    X : ndarray of shape (N, d*d*3)
        E.g. 100 x 192 filters or patches (8x8x3), or 16 x 27648 STL-10
        images (96x96x3).  Rows of length d*d are drawn in grey.
    filename : str, default='layer.png'
        Where the PNG is written.

    Returns
    -------
    ndarray
        The grid image (values in [0, 1]) that was saved, at scale 1.
    """
    return _display_layer(X, filename)
