"""Every patch of every image on a regular grid, as the rows of one matrix.

:func:`grid_patches` is where whole images become patches for convolutional
feature extraction (:mod:`nnlite.features`): a sliding-window *view* of the
image stack is subsampled at the stride and copied once into an
``(n_images * n_positions, p * p * c)`` matrix, so that a single matrix
product can encode all positions of a batch of images.  No Python loop runs
over positions or images.

Positions start at the top-left corner and step by ``stride`` while the patch
fits inside the image: ``1 + (h - p) // stride`` rows and
``1 + (w - p) // stride`` columns (a 12x16 image gives 2 x 3 = 6 patches of
8x8 at stride 4).
"""

import numpy as np

from ..memory import check_array_allocation
from ..validation import check_int
from .shapes import resolve_image_shape

__all__ = ["grid_patches", "grid_shape", "resolve_image_shape"]


def grid_shape(image_shape, patch_size, stride):
    """Number of patch positions ``(n_rows, n_cols)`` on an image of ``image_shape``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(h, w, c)``.
    patch_size : int
        Side ``p`` of the square patches.
    stride : int
        Step between neighbouring positions, in pixels.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        A patch size < 1 or larger than the image; a stride <= 0 or larger
        than the image.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    check_int(patch_size, "patch_size", minimum=1)
    if patch_size > min(height, width):
        raise ValueError(f"patch_size {patch_size} is larger than the {height}x{width} image")
    check_int(stride, "stride", minimum=1)
    if stride > min(height, width):
        raise ValueError(f"stride {stride} is larger than the {height}x{width} image")
    return (1 + (height - patch_size) // stride, 1 + (width - patch_size) // stride)


def grid_windows(images, image_shape, patch_size, stride):
    """Every grid patch of image rows as a read-only view; one copy turns it into patch rows.

    Parameters
    ----------
    images : ndarray of shape (n_images, h * w * c)
        Image rows in SPEC's layout (copied first only if not C-contiguous).
    image_shape : tuple (h, w, c)
    patch_size, stride : int
        Already checked (:func:`grid_shape`).

    Returns
    -------
    ndarray of shape (n_images, n_rows, n_cols, p, p, c)
        A view of ``images``: ``[i, r, q]`` is the patch at grid row ``r``,
        column ``q`` of image ``i``.
    """
    height, width, channels = image_shape
    n_rows, n_cols = grid_shape(image_shape, patch_size, stride)
    images = np.ascontiguousarray(images)
    item = images.itemsize
    strides = (images.strides[0], stride * width * channels * item, stride * channels * item,
               width * channels * item, channels * item, item)
    shape = (images.shape[0], n_rows, n_cols, patch_size, patch_size, channels)
    return np.lib.stride_tricks.as_strided(images, shape, strides, writeable=False)


def grid_patches(images, patch_size, stride, image_shape=None, out=None):
    """All ``p x p`` patches of every image at a regular stride.

    Parameters
    ----------
    images : ndarray of shape (n_images, h * w * c)
        Image rows in SPEC's layout (``row.reshape(h, w, c)``); any dtype
        (kept: uint8 images give uint8 patches).  A memory-mapped array is
        read once.
    patch_size : int
        Side ``p`` of the square patches.
    stride : int
        Step between positions, in pixels, along both axes.
    image_shape : tuple of int, optional
        ``(h, w, c)``; None means square RGB inferred from the row length.
    out : ndarray of shape (n_images * n_rows * n_cols, p * p * c), optional
        Where to write the patches (reusing one buffer across chunks avoids
        the page faults of a fresh large allocation each time); cast to its dtype.

    Returns
    -------
    patches : ndarray of shape (n_images * n_rows * n_cols, p * p * c)
        Image-major, then positions in row-major order; each row reshapes
        with ``row.reshape(p, p, c)`` like any other patch.
    grid : tuple of int
        ``(n_rows, n_cols)`` positions per image.

    Raises
    ------
    ValueError
        For images that are not 2-D, an impossible ``image_shape``, a bad
        patch size or stride (see :func:`grid_shape`).
    nnlite.memory.InsufficientMemoryError
        The patch matrix would not fit in the memory available (checked
        before it is made; pass fewer images at a time).

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((1, 12 * 16 * 3), dtype=np.uint8)
    >>> patches, grid = grid_patches(images, 8, 4, image_shape=(12, 16, 3))
    >>> patches.shape, grid
    ((6, 192), (2, 3))
    """
    if not hasattr(images, "ndim") or images.ndim != 2:
        raise ValueError(f"images must be a 2-D array (n_images, h*w*c), got "
                         f"{getattr(images, 'shape', type(images).__name__)}")
    height, width, channels = resolve_image_shape(images.shape[1], image_shape)
    n_rows, n_cols = grid_shape((height, width, channels), patch_size, stride)
    n_patches = images.shape[0] * n_rows * n_cols
    check_array_allocation((n_patches, patch_size * patch_size * channels), images.dtype,
                           f"{n_patches} grid patches ({images.shape[0]} images x {n_rows * n_cols} "
                           f"positions at stride {stride}) of {patch_size * patch_size * channels} values",
                           advice="pass fewer images at a time or a larger stride")
    windows = grid_windows(np.asarray(images), (height, width, channels), patch_size, stride)
    if out is not None:
        np.copyto(out.reshape(windows.shape), windows, casting="unsafe")
        return out, (n_rows, n_cols)
    patches = windows.reshape(-1, patch_size * patch_size * channels)
    return patches, (n_rows, n_cols)
