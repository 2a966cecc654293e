"""The ``Dataset`` container every loader returns, lazy memory-mapped images, and helpers.

A :class:`Dataset` holds images as rows in SPEC's layout: row ``i`` reshapes
with ``row.reshape(h, w, c)`` (height, width, channel; C order).  Images stay
in their source dtype (``uint8`` for 8-bit files); :func:`as_float` converts
them in chunks when floating point is needed.

Very large files (STL-10's 2.7 GB ``unlabeled_X.bin``) are not read whole:
their ``images`` is a :class:`MappedImages`, a read-only lazy view over a
memory map that converts only the rows that are indexed.
"""

import dataclasses
import importlib
import numbers
import os
from typing import List, Optional, Tuple

import numpy as np

from ..memory import check_array_allocation
from ..validation import check_positive_int, check_random_state


class MappedImages:
    """Lazy ``(N, h*w*c)`` rows over an array stored in another axis order.

    The source (typically an ``np.memmap``) is kept in its native order, e.g.
    STL-10's ``(N, 3, 96, 96)`` = (image, channel, column, row).  Indexing
    reads only the chosen images, reorders them to ``(h, w, c)`` and returns
    C-ordered rows, so sampling patches touches only the images it uses.

    Parameters
    ----------
    native : ndarray of shape (N, ...) with 3 more axes
        The stored images (a memory map, or any array).
    axes : tuple of int
        Transpose that takes ``native`` to ``(N, h, w, c)``; must keep axis 0
        first.  STL-10 uses ``(0, 3, 2, 1)``.

    Attributes
    ----------
    shape : tuple (N, h*w*c)
    dtype : numpy dtype
    image_shape : tuple (h, w, c)
    hwc : ndarray of shape (N, h, w, c)
        A strided view of ``native`` (no copy): fancy-indexing it, e.g.
        ``hwc[img, rows, cols]``, reads only the pixels asked for.

    Notes
    -----
    ``images[k]`` gives one row, ``images[a:b]``, ``images[index_array]`` or
    ``images[bool_mask]`` give 2-D rows, and ``images[rows, cols]`` follows
    numpy's rules for a 2-D array.  ``np.asarray(images)`` converts
    everything, which for the full STL-10 unlabeled split needs 2.7 GB.
    """

    ndim = 2

    def __init__(self, native, axes):
        axes = tuple(int(axis) for axis in axes)
        if np.ndim(native) != 4 or sorted(axes) != [0, 1, 2, 3] or axes[0] != 0:
            raise ValueError(f"MappedImages needs a 4-D array and a transpose keeping axis 0 first, "
                             f"got shape {np.shape(native)} and axes {axes}")
        self._native = native
        self._axes = axes
        self.hwc = native.transpose(axes)
        self.image_shape = tuple(int(size) for size in self.hwc.shape[1:])
        self.shape = (int(native.shape[0]), int(np.prod(self.image_shape)))
        self.dtype = native.dtype

    @property
    def size(self):
        """Number of pixel values (``N * h * w * c``)."""
        return self.shape[0] * self.shape[1]

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return (f"MappedImages(shape={self.shape}, dtype={self.dtype}, "
                f"image_shape={self.image_shape})")

    def _rows(self, key):
        """Converted rows for a row key that is a slice or an index array (not a scalar)."""
        count = len(range(self.shape[0])[key]) if isinstance(key, slice) else np.size(key)
        check_array_allocation((2 * count, self.shape[1]), self.dtype,
                               f"reading {count} images of {self.shape[1]} values",
                               advice="read fewer images at a time (e.g. with limit=)")
        block = np.asarray(self._native[key])
        return np.ascontiguousarray(block.transpose(self._axes)).reshape(block.shape[0], -1)

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = (key[0] if key else slice(None)), key[1:]
        if isinstance(key, numbers.Integral):
            index = int(key) + (self.shape[0] if key < 0 else 0)
            if not 0 <= index < self.shape[0]:
                raise IndexError(f"image index {key} is out of range for {self.shape[0]} images")
            row = self._rows(slice(index, index + 1))[0]
            return row[rest] if rest else row
        if isinstance(key, slice) or key is Ellipsis:
            block = self._rows(slice(None) if key is Ellipsis else key)
            return block[(slice(None),) + rest] if rest else block
        key = np.asarray(key)
        if key.dtype == bool:
            key = np.flatnonzero(key)
        if key.dtype.kind not in "iu":
            raise IndexError(f"MappedImages rows must be indexed by integers, a slice or a mask, "
                             f"got dtype {key.dtype}")
        unique, inverse = np.unique(key.ravel(), return_inverse=True)
        if unique.size and (unique[0] < -self.shape[0] or unique[-1] >= self.shape[0]):
            raise IndexError(f"image index out of range for {self.shape[0]} images")
        block = self._rows(np.where(unique < 0, unique + self.shape[0], unique))
        return block[(inverse.reshape(key.shape),) + rest]

    def __array__(self, dtype=None, copy=None):
        rows = self._rows(slice(None))
        return rows if dtype is None else rows.astype(dtype, copy=False)

    def subset(self, indices):
        """Rows ``indices`` as a new :class:`MappedImages`.

        A contiguous increasing range stays a lazy view of the same memory
        map; any other selection reads those images into memory.
        """
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and np.array_equal(indices, np.arange(indices[0], indices[0] + indices.size)):
            return MappedImages(self._native[indices[0]:indices[0] + indices.size], self._axes)
        return MappedImages(np.asarray(self._native[indices]), self._axes)


@dataclasses.dataclass(repr=False)
class Dataset:
    """Images as rows, with labels, class names and predefined folds.

    Attributes
    ----------
    images : ndarray of shape (n_images, h*w*c) or MappedImages
        Row ``i`` reshapes with ``images[i].reshape(image_shape)`` (C order).
        ``uint8`` where the source is 8-bit.
    labels : ndarray of shape (n_images,), int64, or None
        Class indices ``0 .. len(class_names) - 1``; None when unlabeled.
    class_names : list of str
    image_shape : tuple (h, w, c)
    folds : list of ndarray of int64, or None
        Predefined splits as indices into ``images`` (STL-10: the 10
        training folds, each the images to train on in one trial).
    name : str
        Where the data came from (``'stl10-train'``, ``'sample'``, ...).
    """

    images: object
    labels: Optional[np.ndarray] = None
    class_names: List[str] = dataclasses.field(default_factory=list)
    image_shape: Tuple[int, int, int] = ()
    folds: Optional[List[np.ndarray]] = None
    name: str = ""

    def __post_init__(self):
        shape = tuple(getattr(self.images, "shape", ()))
        if len(shape) != 2:
            raise ValueError(f"Dataset images must be 2-D (n_images, h*w*c), got shape {shape}")
        self.image_shape = tuple(int(size) for size in self.image_shape)
        if len(self.image_shape) != 3 or int(np.prod(self.image_shape)) != shape[1]:
            raise ValueError(f"image_shape {self.image_shape} does not match rows of length {shape[1]}")
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64).ravel()
            if self.labels.shape[0] != shape[0]:
                raise ValueError(f"{self.labels.shape[0]} labels for {shape[0]} images in {self.name!r}")
        self.class_names = [str(name) for name in self.class_names]
        if self.folds is not None:
            self.folds = [np.asarray(fold, dtype=np.int64).ravel() for fold in self.folds]
            for k, fold in enumerate(self.folds):
                if fold.size and (fold.min() < 0 or fold.max() >= shape[0]):
                    raise ValueError(f"fold {k} of {self.name!r} holds indices outside "
                                     f"0..{shape[0] - 1}: {fold.min()}..{fold.max()}")

    def __len__(self):
        return self.images.shape[0]

    def __repr__(self):
        labels = "None" if self.labels is None else f"({self.labels.shape[0]},)"
        folds = "None" if self.folds is None else f"{len(self.folds)} folds"
        return (f"Dataset(name={self.name!r}, images={type(self.images).__name__}{tuple(self.images.shape)} "
                f"{self.images.dtype}, image_shape={self.image_shape}, labels={labels}, "
                f"classes={len(self.class_names)}, folds={folds})")

    def subset(self, indices):
        """The images (and labels) at ``indices``; folds are re-indexed to the subset.

        Parameters
        ----------
        indices : array-like of int, shape (k,)
            Distinct indices into ``images``.

        Returns
        -------
        Dataset
        """
        indices = np.asarray(indices, dtype=np.int64)
        if isinstance(self.images, MappedImages):
            images = self.images.subset(indices)
        else:
            images = self.images[indices]
        folds = None
        if self.folds is not None:
            position = np.full(len(self), -1, dtype=np.int64)
            position[indices] = np.arange(indices.size)
            folds = [position[fold][position[fold] >= 0] for fold in self.folds]
        labels = None if self.labels is None else self.labels[indices]
        return Dataset(images, labels, list(self.class_names), self.image_shape, folds, self.name)


def as_float(images, dtype="float64", chunk_rows=4096, scale=None):
    """Convert image rows to floating point, chunk by chunk, into one new array.

    Parameters
    ----------
    images : ndarray of shape (n_images, n_features) or MappedImages
        Any numeric rows (uint8 images, memory maps...).
    dtype : str or numpy dtype, default='float64'
        A floating dtype.
    chunk_rows : int, default=4096
        Rows converted at a time, so no full-size temporary is made.
    scale : float, optional
        Multiply the values by it (``1/255`` maps uint8 to [0, 1]).

    Returns
    -------
    ndarray of shape (n_images, n_features) and dtype ``dtype``

    Raises
    ------
    nnlite.memory.InsufficientMemoryError
        The result would not fit in the memory available (checked before
        it is allocated).
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type, got {dtype}")
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    shape = tuple(images.shape)
    if len(shape) != 2:
        raise ValueError(f"images must be 2-D (n_images, n_features), got shape {shape}")
    check_array_allocation(shape, dtype, f"converting {shape[0]} images of {shape[1]} values to "
                           f"floating point", advice="use fewer images (limit=) or float32")
    out = np.empty(shape, dtype=dtype)
    for start in range(0, shape[0], chunk_rows):
        block = out[start:start + chunk_rows]
        block[...] = images[start:start + chunk_rows]
        if scale is not None:
            block *= scale
    return out


def select_subset(n_images, limit, labels=None, random_state=None):
    """Indices of at most ``limit`` images, stratified by label when there are labels.

    Parameters
    ----------
    n_images : int
    limit : int or None
        None (or ``limit >= n_images``) keeps everything.
    labels : ndarray of shape (n_images,), optional
        With labels, each class gets a share proportional to its size
        (largest remainders break ties), so ``limit=200`` over 10 equal
        classes takes 20 of each.
    random_state : None, int or Generator
        None takes the first images (of each class) in file order; a seed
        draws a random subset reproducibly.

    Returns
    -------
    ndarray of int64, sorted, or None when nothing is dropped.
    """
    if limit is None:
        return None
    limit = check_positive_int(limit, "limit")
    if limit >= n_images:
        return None
    rng = None if random_state is None else check_random_state(random_state)
    if labels is None:
        groups = [np.arange(n_images)]
    else:
        labels = np.asarray(labels)
        groups = [np.flatnonzero(labels == value) for value in np.unique(labels)]
    sizes = np.array([group.size for group in groups])
    exact = sizes * limit / n_images
    quota = np.floor(exact).astype(np.int64)
    extra = np.argsort(-(exact - quota), kind="stable")[:limit - quota.sum()]
    quota[extra] += 1
    chosen = []
    for group, count in zip(groups, quota):
        chosen.append(group[:count] if rng is None else rng.choice(group, size=count, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


#: Sources of :func:`load_dataset`: module, function, options it accepts, splits.
_SOURCES = {
    "sample": ("sample_images", "load_sample_images", ("limit", "random_state")),
    "stl10": ("stl10", "load_stl10", ("mmap", "limit", "random_state")),
    "cifar10": ("cifar10", "load_cifar10", ("limit", "random_state")),
    "folder": ("image_folder", "load_image_folder",
               ("image_size", "cache_dir", "limit", "random_state", "n_jobs", "progress", "extensions")),
    "pickle": ("assignment_pickle", "load_assignment_pickle",
               ("layout", "image_shape", "one_based", "limit", "random_state")),
    "photos": ("photo_pyramid", "load_photo_pyramid", ("limit", "random_state")),
}
SOURCES = tuple(_SOURCES)
SPLITS = ("train", "test", "unlabeled")


def load_dataset(source="sample", path=None, split="train", **options):
    """Load images from any supported source as a :class:`Dataset`.

    Parameters
    ----------
    source : {'sample', 'stl10', 'cifar10', 'folder', 'pickle', 'photos'}, default='sample'
        ``'sample'``: scikit-learn's two bundled photos (427x640x3, no path);
        ``'photos'``: the bundled photos at scales 1/2, 1/4, 1/8 cut into
        32x32 tiles (:mod:`nnlite.data.photo_pyramid`, no path);
        ``'stl10'``: the ``stl10_binary`` folder; ``'cifar10'``: the
        ``cifar-10-batches-py`` folder; ``'folder'``: a ``root/<class>/<image>``
        tree; ``'pickle'``: one of the assignment's ``.pk`` files, or a folder
        holding ``<split>.pk``.
    path : str, optional
        Required by every source but ``'sample'``.
    split : {'train', 'test', 'unlabeled'}, default='train'
        Where the source has splits (STL-10: all three; CIFAR-10: train and
        test; a pickle folder: the file name).  An image folder or a single
        pickle file is its own split: ``split`` is then only checked.
    **options
        Passed to the loader: ``limit``, ``random_state`` (all);
        ``cache_dir``, ``image_size``, ``n_jobs``, ``progress``,
        ``extensions`` (folder); ``mmap`` (stl10); ``layout``,
        ``image_shape``, ``one_based`` (pickle).  Options set to None are
        ignored where the source does not take them.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        Unknown source or split, or an option the source does not take.
    FileNotFoundError
        ``path`` does not exist (the message names it).
    """
    if source not in _SOURCES:
        raise ValueError(f"unknown dataset source {source!r}; choose one of {SOURCES}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    module_name, function_name, accepted = _SOURCES[source]
    unknown = sorted(key for key, value in options.items() if key not in accepted and value is not None)
    if unknown:
        raise ValueError(f"source {source!r} does not take the option(s) {unknown}; "
                         f"it takes {list(accepted)}")
    options = {key: value for key, value in options.items() if key in accepted}
    loader = getattr(importlib.import_module(f"{__package__}.{module_name}"), function_name)
    if source in ("sample", "photos"):
        if path is not None:
            raise ValueError(f"source {source!r} takes no path, got {path!r}")
        return loader(split=split, **options)
    if path is None:
        raise ValueError(f"source {source!r} needs a path")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{source} path {path!r} does not exist")
    if source == "pickle" and os.path.isdir(path):
        path = os.path.join(path, f"{split}.pk")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"pickle file {path!r} does not exist")
    if source in ("stl10", "cifar10"):
        return loader(path, split=split, **options)
    return loader(path, **options)
