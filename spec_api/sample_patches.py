"""The assignment's ``sample_patches`` module: random patches and SPEC's normalisation.

Thin adapters over :mod:`nnlite.data.patches` and :mod:`nnlite.preprocessing`.
Images are the rows of an ``N x (d*d*3)`` matrix (``row.reshape(d, d, 3)``).

Randomness: the assignment's signatures have no seed argument, so the
patch positions come from **numpy's global generator**: each call draws one
seed with ``np.random.randint`` and hands it to the library as
``random_state``.  ``np.random.seed(s)`` before a call therefore makes it
reproducible, as in the original exercise; for explicit control use
:func:`nnlite.data.patches.sample_patches_raw` with ``random_state``.
"""

import numpy as np

from nnlite.data.patches import sample_patches_raw as _sample_patches_raw
from nnlite.preprocessing import normalize_data as _normalize_data

__all__ = ["normalize_data", "sample_patches_raw", "sample_patches"]


def _global_seed():
    """A seed drawn from numpy's global generator (so ``np.random.seed`` governs the spec API)."""
    return int(np.random.randint(0, 2**63 - 1, dtype=np.int64))


def normalize_data(images):
    """Per colour channel: clip to mean +- 3 sd, then map linearly to [0.1, 0.9].

    Parameters
    ----------
    images : ndarray of shape (N, d*d*3)
        Images, patches or filters as rows (e.g. 100 x 192, 100 x 27648).

    Returns
    -------
    ndarray of shape (N, d*d*3)
        Normalised values in [0.1, 0.9] (see :func:`nnlite.preprocessing.normalize_data`).
    """
    return _normalize_data(images)


def sample_patches_raw(images, num_patches=10000, patch_size=8):
    """Random patches: each from a random image at a random position.

    Parameters
    ----------
    images : ndarray of shape (N, d*d*3)
        Square colour images as rows (a memory-mapped array is fine).
    num_patches : int, default=10000
    patch_size : int, default=8

    Returns
    -------
    ndarray of shape (num_patches, patch_size*patch_size*3)
        Same dtype as ``images``; ``row.reshape(patch_size, patch_size, 3)``.
    """
    return _sample_patches_raw(images, num_patches=num_patches, patch_size=patch_size,
                               random_state=_global_seed())


def sample_patches(images, num_patches=10000, patch_size=8):
    """Random patches (as :func:`sample_patches_raw`), normalised by :func:`normalize_data`.

    Returns
    -------
    ndarray of shape (num_patches, patch_size*patch_size*3)
        float64 values in [0.1, 0.9].
    """
    return _normalize_data(sample_patches_raw(images, num_patches, patch_size))
