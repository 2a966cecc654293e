"""Random patches from images stored as rows (SPEC's layout), in one vectorised gather.

Images are the rows of an ``N x (h*w*c)`` matrix; ``row.reshape(h, w, c)``
(C order) is the picture.  A patch of side ``p`` at position ``(r, q)`` of
image ``n`` is ``row_n.reshape(h, w, c)[r:r+p, q:q+p]`` raveled the same way,
so it is made of ``p`` contiguous runs of ``p*c`` values, one per patch row,
``w*c`` values apart.  :func:`sample_patches_raw` views the image buffer as
"a run of ``p*c`` values starting at every offset" (a zero-copy strided view
with a ``void`` dtype of that many bytes) and gathers all ``num_patches * p``
runs with one integer-index operation: no Python loop over patches, and only
the bytes of the patches are read, which is what makes it cheap on a
memory-mapped file.

The regular-stride counterpart (every patch on a grid, for features of whole
images) is :func:`nnlite.data.strided.grid_patches`, re-exported here, as are
the shape helpers of :mod:`nnlite.data.shapes`.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..memory import check_allocation
from ..validation import check_int, check_random_state
from .mapped_io import random_access
from .shapes import image_side, resolve_image_shape
from .strided import grid_patches

__all__ = ["sample_patches_raw", "check_patch_memory", "image_side", "resolve_image_shape", "patch_positions",
           "gather_patches", "gather_patches_hwc", "grid_patches"]

#: Rows fetched per chunk (in bytes) from a lazy, non-ndarray image store.
LAZY_CHUNK_BYTES = 64 * 2**20


def patch_positions(n_images, image_shape, num_patches, patch_size, random_state=None):
    """Draw (image, top row, left column) for ``num_patches`` patches, uniformly.

    Every image is equally likely, and so is every valid top-left corner
    ``0 <= r <= h - p``, ``0 <= q <= w - p``.

    Returns
    -------
    image, row, col : ndarray of shape (num_patches,), int64
    """
    rng = check_random_state(random_state)
    height, width, _ = image_shape
    image = rng.integers(0, n_images, size=num_patches)
    row = rng.integers(0, height - patch_size + 1, size=num_patches)
    col = rng.integers(0, width - patch_size + 1, size=num_patches)
    return image, row, col


def gather_patches(images, image, row, col, patch_size, image_shape):
    """Copy the patches at the given positions out of an in-memory or memory-mapped array.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c)
        C-contiguous (a ``np.memmap`` / ``np.load(mmap_mode='r')`` array is);
        a non-contiguous array is copied first.
    image, row, col : ndarray of shape (n_patches,)
        Image index and top-left corner of each patch.
    patch_size : int
    image_shape : tuple (h, w, c)

    Returns
    -------
    ndarray of shape (n_patches, patch_size * patch_size * c), dtype of ``images``

    Notes
    -----
    A patch is ``p`` runs of ``p*c`` contiguous values.  The flat buffer is
    viewed as one ``void`` item of ``p*c*itemsize`` bytes starting at every
    element offset, and the ``n_patches x p`` run offsets index that view
    once; only the patches' own bytes are touched.
    """
    height, width, channels = image_shape
    run = patch_size * channels
    flat = np.ascontiguousarray(images).reshape(-1)
    itemsize = flat.itemsize
    runs = as_strided(flat, shape=(flat.size - run + 1, run), strides=(itemsize, itemsize),
                      writeable=False).view(np.dtype((np.void, run * itemsize)))[:, 0]
    row_length = height * width * channels
    start = (np.asarray(image, dtype=np.int64) * row_length
             + (np.asarray(row, dtype=np.int64) * width + np.asarray(col, dtype=np.int64)) * channels)
    offsets = start[:, None] + np.arange(patch_size, dtype=np.int64) * (width * channels)
    return runs[offsets].view(flat.dtype).reshape(len(start), patch_size * run)


def gather_patches_hwc(hwc, image, row, col, patch_size):
    """Patches from a 4-D ``(n_images, h, w, c)`` array with any strides.

    Parameters
    ----------
    hwc : ndarray of shape (n_images, h, w, c)
        E.g. a transposed view of a memory map stored in another axis order
        (STL-10's column-major channel planes).
    image, row, col : ndarray of shape (n_patches,)
    patch_size : int

    Returns
    -------
    ndarray of shape (n_patches, patch_size * patch_size * c)

    Notes
    -----
    A zero-copy strided view of shape ``(n_images, h-p+1, w-p+1, ...)``
    holds every patch of every image, its last three axes being the patch's
    rows, columns and channels in *storage* order, the contiguous one last;
    that axis is collapsed into one ``void`` item (a run of bytes).
    Indexing the first three axes with the position arrays copies just the
    chosen runs, reading only the patches' pixels; a transpose then puts
    the values in ``(p, p, c)`` order.  STL-10's layout gives runs of ``p``
    values down an image column.
    """
    n_images, height, width, channels = hwc.shape
    strides = hwc.strides
    lengths = {1: patch_size, 2: patch_size, 3: channels}
    contiguous = [axis for axis in (3, 2, 1) if strides[axis] == hwc.itemsize and lengths[axis] > 1]
    # Largest stride first, contiguous axis last: numpy then returns the gathered runs C-ordered.
    order = sorted((axis for axis in (1, 2, 3) if axis not in contiguous[:1]),
                   key=lambda axis: -abs(strides[axis])) + contiguous[:1]
    windows = as_strided(hwc, shape=(n_images, height - patch_size + 1, width - patch_size + 1)
                         + tuple(lengths[axis] for axis in order),
                         strides=strides[:3] + tuple(strides[axis] for axis in order),
                         writeable=False)
    if contiguous:
        run = lengths[order[-1]]
        runs = windows.view(np.dtype((np.void, run * hwc.itemsize)))[..., 0]
        block = np.ascontiguousarray(runs[image, row, col]).view(hwc.dtype)
        block = block.reshape(block.shape[:2] + (-1, run))
    else:
        block = windows[image, row, col]
    block = block.transpose(0, *(1 + order.index(axis) for axis in (1, 2, 3)))
    return block.reshape(len(image), -1)


def _gather_lazy(images, image, row, col, patch_size, image_shape, dtype=None):
    """:func:`gather_patches` for an object with ``shape`` and ``images[int_array] -> rows``.

    Only the distinct images drawn are fetched, in sorted order, a chunk of
    at most :data:`LAZY_CHUNK_BYTES` at a time.
    """
    unique, inverse = np.unique(image, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    sorted_inverse = inverse[order]
    row_length = int(np.prod(image_shape))
    itemsize = np.dtype(dtype).itemsize if dtype is not None else 8
    per_chunk = max(1, LAZY_CHUNK_BYTES // (row_length * itemsize))
    out = None
    for begin in range(0, len(unique), per_chunk):
        stop = min(begin + per_chunk, len(unique))
        rows = np.asarray(images[unique[begin:stop]])
        if rows.ndim != 2 or rows.shape != (stop - begin, row_length):
            raise ValueError(f"images[index_array] returned shape {rows.shape}, "
                             f"expected {(stop - begin, row_length)}")
        lo, hi = np.searchsorted(sorted_inverse, [begin, stop])
        which = order[lo:hi]
        block = gather_patches(rows, sorted_inverse[lo:hi] - begin, row[which], col[which],
                               patch_size, image_shape)
        if out is None:
            out = np.empty((len(image), block.shape[1]), dtype=rows.dtype)
        out[which] = block
    return out


def sample_patches_raw(images, num_patches=10000, patch_size=8, image_shape=None,
                       random_state=None):
    """Random square patches: each takes a random image and a random position.

    Parameters
    ----------
    images : ndarray of shape (n_images, h*w*c), or a lazy image store
        Images as rows (SPEC's layout: ``row.reshape(h, w, c)``).  A
        ``np.memmap`` (e.g. ``np.load(path, mmap_mode='r')``) is read only
        where patches fall.  Any other object with ``.shape == (n_images,
        row_length)`` and ``images[int_array] -> ndarray of rows`` (such as
        a memory-mapped STL-10 reader) is asked only for the distinct images
        drawn, in chunks; if it also has ``.hwc``, a 4-D ``(n_images, h, w,
        c)`` ndarray view of its storage (as :class:`~nnlite.data.dataset.MappedImages`
        has), the patches are gathered from that view directly, reading
        only their own pixels.
    num_patches : int, default=10000
    patch_size : int, default=8
        Side ``p`` of the square patches.
    image_shape : tuple of int, optional
        ``(h, w, c)`` or ``(h, w)``.  ``None``: square ``d x d x 3`` images
        inferred from the row length.
    random_state : None, int or numpy.random.Generator
        Seeds the draw of images and positions.

    Returns
    -------
    ndarray of shape (num_patches, patch_size * patch_size * c)
        Same dtype as ``images`` (uint8 stays uint8); patch rows in the same
        layout (``row.reshape(p, p, c)``).

    Raises
    ------
    ValueError
        For ``num_patches <= 0``, ``patch_size <= 0`` or larger than the
        images, no images, or a row length that does not fit ``image_shape``.
    nnlite.memory.InsufficientMemoryError
        The patches (and their positions) would not fit in the memory
        available; checked before anything is allocated (a ``ValueError``).

    Notes
    -----
    Images and corners are drawn independently and uniformly (with
    replacement): image in ``[0, n_images)``, top row in ``[0, h - p]``,
    left column in ``[0, w - p]``.

    A memory-mapped source is advised random access while the patches are
    gathered (:func:`nnlite.data.mapped_io.random_access`): the kernel then
    reads only the pages the patches fall on instead of a read-ahead window
    around each of them.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.arange(2 * 12 * 16 * 3, dtype=np.uint8).reshape(2, -1)
    >>> sample_patches_raw(images, 5, 8, image_shape=(12, 16, 3), random_state=0).shape
    (5, 192)
    """
    num_patches = check_int(num_patches, "num_patches", minimum=1)
    patch_size = check_int(patch_size, "patch_size", minimum=1)
    lazy = not isinstance(images, np.ndarray)
    if lazy and not (hasattr(images, "shape") and hasattr(images, "__getitem__")):
        images = np.asarray(images)
        lazy = False
    shape = tuple(images.shape)
    if len(shape) != 2:
        raise ValueError(f"images must be 2-D (n_images, h*w*c), got shape {shape}")
    if shape[0] == 0:
        raise ValueError("images is empty (0 images): nothing to sample patches from")
    dtype = getattr(images, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind not in "biuf":
        raise ValueError(f"images must be numeric, got dtype {dtype}")
    image_shape = resolve_image_shape(shape[1], image_shape)
    if patch_size > min(image_shape[0], image_shape[1]):
        raise ValueError(f"patch_size {patch_size} is larger than the images "
                         f"({image_shape[0]}x{image_shape[1]})")
    check_patch_memory(num_patches, patch_size, image_shape[2], dtype)
    image, row, col = patch_positions(shape[0], image_shape, num_patches, patch_size, random_state)
    hwc = getattr(images, "hwc", None) if lazy else None
    with random_access(hwc if hwc is not None else images, getattr(images, "_native", None)):
        if isinstance(hwc, np.ndarray) and hwc.shape == (shape[0],) + image_shape:
            return gather_patches_hwc(hwc, image, row, col, patch_size)
        if lazy:
            return _gather_lazy(images, image, row, col, patch_size, image_shape, dtype)
        return gather_patches(images, image, row, col, patch_size, image_shape)


def check_patch_memory(num_patches, patch_size, channels, dtype=None):
    """Raise before sampling when ``num_patches`` patches would not fit in memory.

    Counts the patches twice (the gather and its reordering), their three
    int64 position arrays and the ``num_patches x p`` int64 run offsets.

    Parameters
    ----------
    num_patches, patch_size, channels : int
    dtype : numpy dtype, optional
        Of the images (and so of the patches); default float64.

    Raises
    ------
    nnlite.memory.InsufficientMemoryError
        Naming the number of patches, the bytes needed and the bytes available.
    """
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    values = patch_size * patch_size * channels
    per_patch = 2 * values * dtype.itemsize + 3 * 8 + patch_size * 8
    check_allocation(int(num_patches) * per_patch,
                     f"sampling {num_patches} patches of {values} values", dtype=dtype,
                     advice="ask for fewer patches")

