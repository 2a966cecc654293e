"""Access-pattern advice for memory-mapped image files: random access while patches are gathered.

When a page of a memory-mapped file is first touched, the kernel reads it
*and its neighbours* (read-ahead: 128 KiB or more per fault).  That is right
for a scan, and wrong for random patches: an 8x8x3 patch of an STL-10 image
touches a few 4 KiB pages, but every fault pulls in a window around them, so
sampling 10,000 patches from the 2.6 GB ``unlabeled_X.bin`` read the whole
file from disk.  ``madvise(MADV_RANDOM)`` turns read-ahead off for the
mapping; ``benchmarks/bench_patches.py`` measures the difference (bytes
read from disk with and without it).

:func:`random_access` advises ``MADV_RANDOM`` on the memory map behind an
array for the duration of a ``with`` block and restores ``MADV_NORMAL``
after, so that a later full scan (``as_float``, features of every image)
keeps its read-ahead.  Where there is no memory map behind the array, or the
platform has no ``madvise`` (Windows, Python < 3.8), it does nothing.
"""

import contextlib
import mmap

import numpy as np

__all__ = ["find_mmap", "random_access"]

_RANDOM = getattr(mmap, "MADV_RANDOM", None)
_NORMAL = getattr(mmap, "MADV_NORMAL", None)


def find_mmap(array):
    """The ``mmap.mmap`` an array's memory comes from, or None.

    Follows ``.base`` from ``array`` (an ``np.memmap``, a view or slice of
    one, or an array over an ``mmap`` buffer) until a memory map turns up.

    Parameters
    ----------
    array : object

    Returns
    -------
    mmap.mmap or None
    """
    seen = 0
    while array is not None and seen < 64:
        if isinstance(array, mmap.mmap):
            return array
        found = getattr(array, "_mmap", None)
        if isinstance(found, mmap.mmap):
            return found
        array = getattr(array, "base", None) if isinstance(array, np.ndarray) else None
        seen += 1
    return None


def _advise(mapping, advice):
    """``mapping.madvise(advice)``; False where the platform or a closed map refuses."""
    if mapping is None or advice is None or not hasattr(mapping, "madvise"):
        return False
    try:
        mapping.madvise(advice)
    except (OSError, ValueError):  # closed map, or a kernel that rejects the advice
        return False
    return True


@contextlib.contextmanager
def random_access(*arrays):
    """Advise random access on the memory maps behind ``arrays`` while the block runs.

    Parameters
    ----------
    *arrays : objects
        Arrays that may be memory-mapped (others are ignored).

    Yields
    ------
    int
        How many memory maps were advised (0 where nothing is mapped or
        ``madvise`` is missing).
    """
    maps = []
    for array in arrays:
        mapping = find_mmap(array)
        if mapping is not None and all(mapping is not other for other in maps):
            maps.append(mapping)
    advised = [mapping for mapping in maps if _advise(mapping, _RANDOM)]
    try:
        yield len(advised)
    finally:
        for mapping in advised:
            _advise(mapping, _NORMAL)
