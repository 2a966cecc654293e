"""How much memory the machine has free, and a check of an allocation against it *before* it is made.

numpy answers an absurd request (``--patches 1000000000000``) with a
``MemoryError`` after trying to allocate terabytes, or, under Linux's
overcommit, with an array that succeeds and then takes the machine down when
it is filled.  :func:`check_allocation` compares the bytes a user-given size
implies with :func:`available_memory` and raises
:class:`InsufficientMemoryError` (a ``ValueError``, so the command line prints
it as one ``error:`` line) saying how much was asked, how much there is, and
what to do.

Every part of nnlite calls it where a size given by the user decides an
allocation: the number of patches, grid patches of whole images, float
copies of an image set, the image stacks the loaders build, the parameter
vector of a network.

``available_memory`` reads ``MemAvailable`` from ``/proc/meminfo`` on Linux
(capped by a cgroup v2 ``memory.max`` when the process runs in a container
with a limit), ``sysconf`` free pages on other POSIX systems, and
``GlobalMemoryStatusEx`` on Windows; where none of these answers it returns
None and the check is skipped (it never refuses work it cannot judge).
"""

import ctypes
import math
import os
import sys

try:
    import resource
except ImportError:  # Windows
    resource = None

import numpy as np

__all__ = ["DEFAULT_FRACTION", "InsufficientMemoryError", "array_nbytes", "available_memory",
           "check_allocation", "check_array_allocation", "format_bytes", "peak_resident_memory"]

#: Share of the available memory one allocation may take by default (the
#: rest is left for the copies and temporaries around it, and for the system).
DEFAULT_FRACTION = 0.8

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


class InsufficientMemoryError(ValueError):
    """An allocation would need more memory than the machine has available; nothing was allocated.

    Attributes
    ----------
    nbytes : int
        Bytes the operation needs.
    available : int
        Bytes available when it was checked.
    """

    def __init__(self, message, nbytes=None, available=None):
        super().__init__(message)
        self.nbytes, self.available = nbytes, available


def format_bytes(nbytes):
    """``1610612736`` -> ``'1.5 GiB'`` (binary units, three significant figures).

    Parameters
    ----------
    nbytes : int or float
        A byte count >= 0 (any size: Python ints do not overflow).

    Returns
    -------
    str
    """
    value = float(nbytes)
    for unit in _UNITS[:-1]:
        if value < 1024:
            return f"{int(value)} B" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} {_UNITS[-1]}"


def _cgroup_headroom():
    """Bytes left under a cgroup v2 memory limit, or None when there is no limit."""
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            limit = handle.read().strip()
        if not limit.isdigit():
            return None
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as handle:
            current = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return max(int(limit) - current, 0)


def _meminfo_available():
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (Linux >= 3.14), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_available():
    """Free physical pages times the page size (POSIX systems that report them), or None."""
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def _windows_available():
    """``ullAvailPhys`` of ``GlobalMemoryStatusEx``, or None."""
    if sys.platform != "win32":
        return None

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong)] + [
            (name, ctypes.c_ulonglong) for name in (
                "ullTotalPhys", "ullAvailPhys", "ullTotalPageFile", "ullAvailPageFile",
                "ullTotalVirtual", "ullAvailVirtual", "ullAvailExtendedVirtual")]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    try:
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
            return int(status.ullAvailPhys)
    except (AttributeError, OSError):
        pass
    return None


def available_memory():
    """Bytes of memory this process can still use without swapping, or None when unknown.

    Returns
    -------
    int or None
        Linux: ``MemAvailable`` (free memory plus reclaimable caches), capped
        by the headroom under a cgroup v2 limit; other POSIX systems: free
        pages; Windows: available physical memory.  None where none of these
        can be read.
    """
    candidates = [_meminfo_available(), _cgroup_headroom()]
    if candidates[0] is None:
        candidates.append(_windows_available() if sys.platform == "win32" else _sysconf_available())
    known = [value for value in candidates if value is not None]
    return min(known) if known else None


def array_nbytes(shape, dtype):
    """Bytes of an array of ``shape`` and ``dtype``, as an exact Python int (no overflow).

    Parameters
    ----------
    shape : int or tuple of int
    dtype : numpy dtype or str

    Returns
    -------
    int
    """
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    return math.prod(int(size) for size in shape) * np.dtype(dtype).itemsize


def check_allocation(nbytes, what, fraction=DEFAULT_FRACTION, dtype=None, advice="ask for fewer",
                     available=None):
    """Raise :class:`InsufficientMemoryError` unless ``nbytes`` fit in memory; call it *before* allocating.

    Parameters
    ----------
    nbytes : int
        Bytes the operation is about to allocate (a Python int: compute it
        with :func:`array_nbytes` or in Python ints so it cannot overflow).
    what : str
        The operation, in words that name the user's input, e.g.
        ``'sampling 1000000000000 patches of 192 values'``.
    fraction : float, default=DEFAULT_FRACTION
        Share of the available memory the allocation may take, in (0, 1].
    dtype : numpy dtype or str, optional
        Named in the message (``'(float64)'``).
    advice : str
        What the user can do, ending the message.
    available : int, optional
        Bytes available; default :func:`available_memory` now.

    Returns
    -------
    int
        ``nbytes``.

    Raises
    ------
    InsufficientMemoryError
        ``nbytes > fraction * available``, e.g. ``"sampling 1000000000000 patches
        of 192 values needs 1.5 PiB (float64); this machine has 22.1 GiB
        available: ask for fewer"``.
    ValueError
        ``nbytes`` negative or ``fraction`` outside (0, 1].
    """
    nbytes = int(nbytes)
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0, got {nbytes}")
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if available is None:
        available = available_memory()
    if available is None or nbytes <= fraction * available:
        return nbytes
    kind = f" ({np.dtype(dtype).name})" if dtype is not None else ""
    share = "" if fraction >= 1 else f" (at most {fraction:.0%} of it is used at once)"
    raise InsufficientMemoryError(
        f"{what} needs {format_bytes(nbytes)}{kind}; this machine has {format_bytes(available)} "
        f"available{share}: {advice}", nbytes=nbytes, available=available)


def check_array_allocation(shape, dtype, what, fraction=DEFAULT_FRACTION, advice="ask for fewer",
                           available=None):
    """:func:`check_allocation` for one array of ``shape`` and ``dtype``; returns its byte count.

    Parameters
    ----------
    shape : int or tuple of int
    dtype : numpy dtype or str
    what : str
        See :func:`check_allocation`.
    fraction, advice, available
        See :func:`check_allocation`.

    Returns
    -------
    int
        The array's size in bytes.
    """
    return check_allocation(array_nbytes(shape, dtype), what, fraction, dtype, advice, available)


def peak_resident_memory():
    """Peak resident memory of this process so far in bytes (``VmHWM``), or None where unknown.

    Linux: ``VmHWM`` of ``/proc/self/status``; other POSIX systems:
    ``getrusage``'s ``ru_maxrss`` (KiB on most, bytes on macOS).

    Returns
    -------
    int or None
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
