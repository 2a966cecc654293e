"""The assignment's STL-10 pickle files (``train.pk``, ``test.pk``, ``unlabeled.pk``).

Each file holds a dict with some of ``X`` (images), ``y`` (labels),
``class_names`` and ``fold_indices``; the files were written by Python 2, so
keys may come back as ``bytes``, and they are read with the restricted
unpickler of :mod:`nnlite.data.safe_pickle` (nothing but arrays and plain
containers is admitted).

``X`` may be

* ``(N, h*w*c)`` rows in SPEC's layout (``layout='rows'``, the default:
  ``row.reshape(h, w, c)``, as the assignment describes its matrices);
* ``(N, h*w*c)`` rows in STL-10's own column-major, plane-by-plane order
  (``layout='stl'``, the layout of the official ``.bin`` and ``.mat`` files);
* ``(N, h, w, c)`` or ``(N, c, h, w)`` arrays (recognised by the position of
  the axis of size ``c``; ``layout`` is then ignored).

Labels ``1..K`` (MATLAB style) are shifted to ``0..K-1`` when 0 never occurs
and, if class names are given, the largest label equals their count
(``one_based='auto'``); pass ``one_based=True``/``False`` to decide yourself.
Fold indices are shifted the same way when they reach ``N`` and never 0.
"""

import os

import numpy as np

from ..validation import check_positive_int
from .dataset import Dataset, select_subset
from .errors import PickleDataError, pickle_content
from .safe_pickle import safe_load
from .stl10 import stl_to_rows

LAYOUTS = ("rows", "stl")
KEYS = ("X", "y", "class_names", "fold_indices")


def _text(value):
    """A str from str, bytes or a 0-d/1-element array (MATLAB cell contents)."""
    while isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind == "O":
        value = value.reshape(-1)[0]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size == 1 else "".join(map(str, value.ravel()))
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _normalise_keys(content, path):
    if not isinstance(content, dict):
        raise PickleDataError(f"{path!r} holds a {type(content).__name__}, expected a dict with keys {KEYS}")
    result = {}
    for key, value in content.items():
        result[key.decode("latin1") if isinstance(key, bytes) else str(key)] = value
    if "X" not in result:
        raise PickleDataError(f"{path!r} has no 'X' entry (keys: {sorted(result)})")
    return result


def images_to_rows(X, layout="rows", image_shape=(96, 96, 3), source="X"):
    """Bring an image array to SPEC rows ``(N, h*w*c)``.

    Parameters
    ----------
    X : array-like of shape (N, h*w*c), (N, h, w, c) or (N, c, h, w)
    layout : {'rows', 'stl'}
        Meaning of 2-D ``X``: SPEC rows, or STL-10's stored order (only for
        ``image_shape == (96, 96, 3)``).
    image_shape : tuple (h, w, c)
    source : str
        Name for error messages.

    Returns
    -------
    ndarray of shape (N, h*w*c)
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    X = np.asarray(X)
    h, w, c = image_shape
    if X.ndim == 4 and X.shape[1:] == (h, w, c):
        return np.ascontiguousarray(X).reshape(X.shape[0], -1)
    if X.ndim == 4 and X.shape[1:] == (c, h, w):
        return np.ascontiguousarray(X.transpose(0, 2, 3, 1)).reshape(X.shape[0], -1)
    if X.ndim != 2 or X.shape[1] != h * w * c:
        raise ValueError(f"{source} has shape {X.shape}; expected (N, {h * w * c}), (N, {h}, {w}, {c}) "
                         f"or (N, {c}, {h}, {w}) for images of shape {tuple(image_shape)}")
    if layout == "stl":
        if tuple(image_shape) != (96, 96, 3):
            raise ValueError(f"layout='stl' is STL-10's 96x96x3 order, got image_shape {image_shape}")
        return stl_to_rows(X)
    return X


def _maybe_one_based(values, n_max, one_based):
    """True when ``values`` should be shifted down by one (see the module notes)."""
    if one_based != "auto":
        return bool(one_based)
    return values.size > 0 and values.min() >= 1 and values.max() == n_max


def _interpret(content, path, layout, image_shape, one_based):
    """(images, labels, class_names, folds) of a loaded ``.pk`` dict, checked (see the loader)."""
    images = images_to_rows(content["X"], layout, image_shape, source=f"'X' of {path!r}")
    if images.dtype.kind not in "biuf":
        raise ValueError(f"'X' of {path!r} must hold numbers, got dtype {images.dtype}")
    n = images.shape[0]
    class_names = content.get("class_names")
    class_names = [] if class_names is None else [_text(name) for name in np.asarray(
        class_names, dtype=object).ravel()]
    labels = content.get("y")
    if labels is not None:
        labels = np.asarray(labels).ravel()
        if labels.dtype.kind not in "iuf" or (labels.dtype.kind == "f" and np.any(labels % 1)):
            raise ValueError(f"'y' of {path!r} must hold integer labels, got dtype {labels.dtype}")
        labels = labels.astype(np.int64)
        if labels.shape[0] != n:
            raise ValueError(f"{path!r} has {labels.shape[0]} labels in 'y' but {n} images in 'X'")
        if _maybe_one_based(labels, len(class_names) or labels.max(initial=0), one_based):
            labels = labels - 1
        if labels.size and labels.min() < 0:
            raise ValueError(f"'y' of {path!r} holds negative labels ({labels.min()})")
    folds = content.get("fold_indices")
    if folds is not None:
        folds = [np.asarray(fold).astype(np.int64).ravel() for fold in folds]
        values = np.concatenate(folds) if folds else np.zeros(0, np.int64)
        if _maybe_one_based(values, n, one_based):
            folds = [fold - 1 for fold in folds]
    return images, labels, class_names, folds


def load_assignment_pickle(path, layout="rows", image_shape=(96, 96, 3), one_based="auto",
                           limit=None, random_state=None):
    """Load one of the assignment's pickle files.

    Parameters
    ----------
    path : str
        ``train.pk``, ``test.pk`` or ``unlabeled.pk`` (any name).
    layout : {'rows', 'stl'}, default='rows'
        Order of 2-D ``X`` (see the module docstring).
    image_shape : tuple (h, w, c), default=(96, 96, 3)
    one_based : 'auto' or bool
        Whether ``y`` (and the folds) count from 1.
    limit : int, optional
        Keep at most this many images (stratified by label; see
        :func:`~nnlite.data.dataset.select_subset`).
    random_state : None, int or Generator
        None keeps the first images, a seed a random subset.

    Returns
    -------
    Dataset
        ``images`` (N, h*w*c) in ``X``'s dtype, ``labels`` 0-based int64 or
        None, ``class_names``, ``folds`` (from ``fold_indices``) or None.

    Raises
    ------
    FileNotFoundError
        Missing file.
    ValueError
        A bad ``layout``, ``image_shape`` or ``one_based``.
    PickleDataError
        The file is damaged or truncated, has no ``X``, a shape that is not
        an image array, labels that are not integers >= 0, ``y``/``X``
        counts that differ or fold indices outside the images (also a
        ``ValueError``).  Its subclass :class:`~nnlite.data.UnsafePickleError`:
        the file refers to anything but numpy arrays and containers.
    """
    path = os.fspath(path)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if np.ndim(image_shape) != 1 or len(image_shape) != 3:
        raise ValueError(f"image_shape must be (h, w, c), got {image_shape!r}")
    image_shape = tuple(check_positive_int(size, "image_shape") for size in image_shape)
    if layout == "stl" and image_shape != (96, 96, 3):
        raise ValueError(f"layout='stl' is STL-10's 96x96x3 order, got image_shape {image_shape}")
    if not (isinstance(one_based, bool) or one_based == "auto"):
        raise ValueError(f"one_based must be 'auto', True or False, got {one_based!r}")
    content = _normalise_keys(safe_load(path, encoding="latin1"), path)
    name = os.path.splitext(os.path.basename(path))[0]
    with pickle_content(path):
        images, labels, class_names, folds = _interpret(content, path, layout, image_shape, one_based)
        dataset = Dataset(images, labels, class_names, image_shape, folds, f"pickle-{name}")
    indices = select_subset(len(dataset), limit, labels, random_state)
    return dataset if indices is None else dataset.subset(indices)
