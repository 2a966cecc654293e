"""STL-10 binary files (``stl10_binary/``) as :class:`~nnlite.data.Dataset` rows.

The official binary release holds ``train_X.bin``/``train_y.bin`` (5,000
images), ``test_X.bin``/``test_y.bin`` (8,000), ``unlabeled_X.bin`` (100,000,
2.7 GB), ``class_names.txt`` and ``fold_indices.txt``.  Each image is 27,648
bytes: the red, green and blue planes one after the other, each 96 x 96 plane
stored column-major (Fortran order).  As a C-ordered array a file is therefore
``(N, 3, 96, 96)`` indexed (image, channel, column, row), and
``transpose(0, 3, 2, 1)`` gives (image, row, column, channel), SPEC's layout.
Labels are stored as bytes 1..10 and returned as 0..9.
"""

import os

import numpy as np

from .dataset import Dataset, MappedImages, select_subset
from .errors import DataError

IMAGE_SHAPE = (96, 96, 3)
IMAGE_BYTES = 96 * 96 * 3
#: Transpose from the stored (image, channel, column, row) order to (image, row, column, channel).
STL_TO_HWC = (0, 3, 2, 1)
SPLITS = ("train", "test", "unlabeled")


def stl_to_rows(native):
    """Convert images in STL-10's stored order to SPEC rows.

    Parameters
    ----------
    native : ndarray of shape (N, 27648) or (N, 3, 96, 96)
        Bytes as stored in ``*_X.bin`` (also the layout of the ``.mat`` files' ``X``).

    Returns
    -------
    ndarray of shape (N, 27648)
        Row ``i`` reshapes with ``row.reshape(96, 96, 3)``.
    """
    native = np.asarray(native)
    n = native.shape[0] if native.ndim else 0
    if native.ndim < 2 or native.size != n * IMAGE_BYTES:
        raise ValueError(f"STL-10 images must have shape (N, {IMAGE_BYTES}) or (N, 3, 96, 96), "
                         f"got {native.shape}")
    planes = native.reshape(n, 3, 96, 96)
    return np.ascontiguousarray(planes.transpose(STL_TO_HWC)).reshape(n, IMAGE_BYTES)


def rows_to_stl(rows):
    """Inverse of :func:`stl_to_rows`: SPEC rows ``(N, 27648)`` to STL-10's stored order."""
    rows = np.asarray(rows)
    n = rows.shape[0]
    hwc = rows.reshape(n, 96, 96, 3)
    return np.ascontiguousarray(hwc.transpose(0, 3, 2, 1)).reshape(n, IMAGE_BYTES)


def _require(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"STL-10 file {path!r} does not exist")
    return path


def _map_images(path):
    """Memory-map an ``*_X.bin`` file as ``(N, 3, 96, 96)`` uint8 (nothing is read yet)."""
    size = os.path.getsize(_require(path))
    if size == 0 or size % IMAGE_BYTES:
        raise ValueError(f"{path!r} is truncated or not an STL-10 image file: {size} bytes is not "
                         f"a positive multiple of {IMAGE_BYTES} (one 96x96x3 image)")
    n = size // IMAGE_BYTES
    try:
        return np.memmap(path, dtype=np.uint8, mode="r", shape=(n, 3, 96, 96))
    except OSError as error:
        raise DataError(f"cannot read STL-10 file {path!r}: {error.strerror or error}") from None


def read_labels(path, n_classes=10):
    """Read an ``*_y.bin`` file (one byte per image, 1..n_classes) as int64 0..n_classes-1."""
    _require(path)
    try:
        labels = np.fromfile(path, dtype=np.uint8).astype(np.int64)
    except OSError as error:
        raise DataError(f"cannot read STL-10 file {path!r}: {error.strerror or error}") from None
    if labels.size and (labels.min() < 1 or labels.max() > n_classes):
        raise ValueError(f"{path!r} holds labels {labels.min()}..{labels.max()}; STL-10 labels "
                         f"are 1..{n_classes}")
    return labels - 1


def read_class_names(path):
    """Class names from ``class_names.txt`` (one a line), or ``[]`` when the file is absent."""
    if not os.path.isfile(path):
        return []
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the class names in {path!r} ({error}); it should be UTF-8 "
                        f"text, one name a line") from None


def read_folds(path, n_images):
    """The predefined folds of ``fold_indices.txt``: one line of 0-based indices per fold.

    Parameters
    ----------
    path : str
    n_images : int
        Size of the training split; every index must be below it.

    Returns
    -------
    list of ndarray of int64, or None when the file is absent
    """
    if not os.path.isfile(path):
        return None
    folds = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                fold = np.array(line.split(), dtype=np.int64)
            except ValueError:
                raise ValueError(f"{path!r} line {number} is not a list of integers") from None
            if fold.size and (fold.min() < 0 or fold.max() >= n_images):
                raise ValueError(f"{path!r} line {number} has indices {fold.min()}..{fold.max()} "
                                 f"outside the {n_images} training images")
            folds.append(fold)
    return folds


def load_stl10(path, split="train", mmap=None, limit=None, random_state=None):
    """Load one split of the STL-10 binary release.

    Parameters
    ----------
    path : str
        The ``stl10_binary`` folder.
    split : {'train', 'test', 'unlabeled'}
    mmap : bool, optional
        Return ``images`` as a lazy :class:`MappedImages` over the memory-mapped
        file instead of reading it.  Default: True for ``'unlabeled'``
        (2.7 GB), False otherwise.
    limit : int, optional
        Keep at most this many images (see :func:`select_subset`; stratified
        by label for train/test).  A lazy split stays lazy when the subset is
        contiguous, i.e. when ``random_state`` is None.
    random_state : None, int or Generator
        None takes the first images; a seed a random subset.

    Returns
    -------
    Dataset
        ``images`` of shape (N, 27648) uint8 (or MappedImages), ``labels``
        0..9 (None for unlabeled), ``class_names``, ``image_shape``
        ``(96, 96, 3)`` and, for ``'train'``, the 10 ``folds``.

    Raises
    ------
    FileNotFoundError
        Missing folder or file (named).
    ValueError
        Unknown split, truncated ``.bin`` file, or labels and images of
        different counts.
    """
    if split not in SPLITS:
        raise ValueError(f"STL-10 split must be one of {SPLITS}, got {split!r}")
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"STL-10 folder {path!r} does not exist")
    native = _map_images(os.path.join(path, f"{split}_X.bin"))
    class_names = read_class_names(os.path.join(path, "class_names.txt"))
    labels = folds = None
    if split != "unlabeled":
        labels_path = os.path.join(path, f"{split}_y.bin")
        labels = read_labels(labels_path, n_classes=len(class_names) or 10)
        if labels.shape[0] != native.shape[0]:
            raise ValueError(f"{labels_path!r} has {labels.shape[0]} labels but "
                             f"{os.path.join(path, split + '_X.bin')!r} has {native.shape[0]} images")
    if split == "train":
        folds = read_folds(os.path.join(path, "fold_indices.txt"), native.shape[0])
    dataset = Dataset(MappedImages(native, STL_TO_HWC), labels, class_names, IMAGE_SHAPE, folds,
                      f"stl10-{split}")
    indices = select_subset(native.shape[0], limit, labels, random_state)
    if indices is not None:
        dataset = dataset.subset(indices)
    if not (split == "unlabeled" if mmap is None else bool(mmap)):
        dataset.images = np.asarray(dataset.images)
    return dataset
