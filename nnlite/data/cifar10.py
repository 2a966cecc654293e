"""CIFAR-10 "python version" batches (``cifar-10-batches-py/``) as Dataset rows.

The folder holds ``data_batch_1`` .. ``data_batch_5`` (10,000 images each),
``test_batch`` and ``batches.meta``, each a Python 2 pickle of a dict:
``b'data'`` is a ``(N, 3072)`` uint8 array whose rows are the red, green and
blue 32 x 32 planes one after another (each plane row-major), ``b'labels'`` a
list of ints 0..9, and ``batches.meta`` has ``b'label_names'``.  The files are
read with the restricted unpickler (arrays and containers only) and each
row becomes SPEC's ``(32, 32, 3)`` layout with ``reshape(N, 3, 32, 32)
.transpose(0, 2, 3, 1)``.
"""

import glob
import os
import re

import numpy as np

from ..memory import check_array_allocation
from .dataset import Dataset, select_subset
from .errors import PickleDataError, pickle_content
from .safe_pickle import safe_load

IMAGE_SHAPE = (32, 32, 3)
SPLITS = ("train", "test")


def planar_to_rows(data, image_shape=IMAGE_SHAPE):
    """Convert channel-planar rows ``(N, c*h*w)`` (CIFAR order) to SPEC rows ``(N, h*w*c)``."""
    data = np.asarray(data)
    h, w, c = image_shape
    n = data.shape[0]
    return np.ascontiguousarray(data.reshape(n, c, h, w).transpose(0, 2, 3, 1)).reshape(n, h * w * c)


def _entry(content, key):
    """``content[key]`` whether the pickle's keys came back as bytes or str."""
    for candidate in (key.encode("ascii"), key):
        if candidate in content:
            return content[candidate]
    return None


def read_batch(path):
    """Read one batch file.

    Parameters
    ----------
    path : str

    Returns
    -------
    data : ndarray of shape (N, 3072), uint8, channel-planar (as stored)
    labels : ndarray of shape (N,), int64

    Raises
    ------
    PickleDataError
        The file is damaged, not a pickle, or not a batch dict of a
        ``(N, 3072)`` numeric ``data`` array and ``N`` labels >= 0 (also a
        ``ValueError``; :class:`~nnlite.data.UnsafePickleError` for a
        forbidden global).
    """
    content = safe_load(path, encoding="bytes")
    if not isinstance(content, dict):
        raise PickleDataError(f"{path!r} holds a {type(content).__name__}, not a CIFAR-10 batch dict")
    data, labels = _entry(content, "data"), _entry(content, "labels")
    if data is None or labels is None:
        raise PickleDataError(f"{path!r} is not a CIFAR-10 batch: it needs 'data' and 'labels' entries")
    with pickle_content(path):
        data = np.asarray(data)
        if data.dtype.kind not in "biuf":
            raise ValueError(f"'data' must be a numeric array, got dtype {data.dtype}")
        labels = np.asarray(labels, dtype=np.int64).ravel()
        if data.ndim != 2 or data.shape[1] != int(np.prod(IMAGE_SHAPE)):
            raise ValueError(f"'data' has shape {data.shape}, expected (N, 3072)")
        if data.shape[0] != labels.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for {data.shape[0]} images")
        if labels.size and labels.min() < 0:
            raise ValueError(f"'labels' holds negative values ({labels.min()})")
    return data, labels


def read_label_names(path):
    """``label_names`` from ``batches.meta`` as a list of str (``[]`` when the file is absent)."""
    if not os.path.isfile(path):
        return []
    content = safe_load(path, encoding="bytes")
    with pickle_content(path):
        if not isinstance(content, dict):
            raise ValueError(f"it holds a {type(content).__name__}, not a dict with 'label_names'")
        names = _entry(content, "label_names")
        names = [] if names is None else list(names)
        return [name.decode("utf-8") if isinstance(name, bytes) else str(name) for name in names]


def batch_files(path, split):
    """The batch files of a split, in order (``data_batch_1..N`` or ``test_batch``)."""
    if split not in SPLITS:
        raise ValueError(f"CIFAR-10 split must be one of {SPLITS}, got {split!r}")
    if split == "test":
        files = [os.path.join(path, "test_batch")]
        if not os.path.isfile(files[0]):
            raise FileNotFoundError(f"CIFAR-10 file {files[0]!r} does not exist")
        return files
    found = glob.glob(os.path.join(glob.escape(path), "data_batch_*"))
    found = [name for name in found if re.fullmatch(r"data_batch_\d+", os.path.basename(name))]
    if not found:
        raise FileNotFoundError(f"no CIFAR-10 training batches (data_batch_1 ..) in {path!r}")
    return sorted(found, key=lambda name: int(name.rsplit("_", 1)[1]))


def load_cifar10(path, split="train", limit=None, random_state=None):
    """Load the training (all ``data_batch_*``) or test split of CIFAR-10's python release.

    Parameters
    ----------
    path : str
        The ``cifar-10-batches-py`` folder.
    split : {'train', 'test'}
    limit : int, optional
        Keep at most this many images, stratified by label.
    random_state : None, int or Generator
        None keeps the first images of each class, a seed a random subset.

    Returns
    -------
    Dataset
        ``images`` (N, 3072) uint8 rows reshaping to (32, 32, 3), ``labels``
        0..9, ``class_names`` from ``batches.meta``.

    Raises
    ------
    FileNotFoundError
        Missing folder or batch file (named).
    ValueError
        Unknown split.
    PickleDataError
        A damaged or malformed batch, labels/images counts that differ
        (also a ``ValueError``; :class:`~nnlite.data.UnsafePickleError`, its
        subclass, when a batch refers to anything but arrays and containers).
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"CIFAR-10 folder {path!r} does not exist")
    batches = [read_batch(name) for name in batch_files(path, split)]
    n_images = sum(batch[0].shape[0] for batch in batches)
    check_array_allocation((2 * n_images, int(np.prod(IMAGE_SHAPE))), batches[0][0].dtype,
                           f"stacking {n_images} CIFAR-10 images of {path!r}",
                           advice="use fewer batch files")
    data = np.concatenate([batch[0] for batch in batches])
    labels = np.concatenate([batch[1] for batch in batches])
    class_names = read_label_names(os.path.join(path, "batches.meta"))
    indices = select_subset(data.shape[0], limit, labels, random_state)
    if indices is not None:
        data, labels = data[indices], labels[indices]
    if class_names and labels.size and labels.max() >= len(class_names):
        raise ValueError(f"labels reach {labels.max()} but {path!r} names {len(class_names)} classes")
    return Dataset(planar_to_rows(data), labels, class_names, IMAGE_SHAPE, None, f"cifar10-{split}")
