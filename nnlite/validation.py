"""Input checks shared by the library: each raises ``ValueError`` naming the bad value."""

import numbers
import os
import tempfile

import numpy as np


def check_data(data, n_features=None, name="data", min_samples=1):
    """Validate a sample matrix and return it as a floating-point array.

    Parameters
    ----------
    data : array-like of shape (n_samples, n_features)
        Samples are rows.  Integer and boolean inputs are converted to
        float64 (so uint8 images work, with values 0..255); float32 and
        float64 are kept as they are.
    n_features : int, optional
        The number of columns required.
    name : str
        Name used in error messages.
    min_samples : int
        Fewest rows accepted.  A single row is valid: the mean activation of
        a hidden unit is then that row's activation.

    Returns
    -------
    ndarray of shape (n_samples, n_features)

    Raises
    ------
    ValueError
        When ``data`` is not 2-D, has too few rows, the wrong number of
        columns, a non-numeric dtype, or NaN/infinite entries.
    """
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    if not hasattr(data, "shape") or not hasattr(data, "dtype"):
        raise ValueError(f"{name} must be an array of shape (n_samples, n_features), got {type(data).__name__}")
    if type(data).__module__.split(".")[0] != "numpy":
        # Device arrays (CuPy, ...) are validated by their backend.
        pass
    else:
        data = np.asarray(data)
    if data.ndim != 2:
        hint = " (one sample? use data.reshape(1, -1))" if data.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {tuple(data.shape)}{hint}")
    if data.shape[0] < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} row(s), got {data.shape[0]}")
    if n_features is not None and data.shape[1] != n_features:
        raise ValueError(f"{name} has {data.shape[1]} columns, expected {n_features}")
    kind = np.dtype(data.dtype).kind
    if kind in "biu":
        data = np.asarray(data, dtype=np.float64)
    elif kind != "f":
        raise ValueError(f"{name} must be numeric, got dtype {data.dtype}")
    if isinstance(data, np.ndarray) and not np.isfinite(data).all():
        bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return data


def check_hidden_sizes(hidden_size, name="hidden_size"):
    """Return a symmetric list of positive layer sizes.

    Parameters
    ----------
    hidden_size : int or sequence of int or 1-D ndarray
        ``75``, ``[75]``, ``np.array([200, 50, 200])``...

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        Empty, non-integer, non-positive or non-symmetric sizes.
    """
    if isinstance(hidden_size, numbers.Integral) and not isinstance(hidden_size, bool):
        sizes = [hidden_size]
    else:
        array = np.asarray(hidden_size)
        if array.ndim != 1:
            raise ValueError(f"{name} must be an integer or a 1-D sequence of integers, got {hidden_size!r}")
        sizes = list(array.tolist())
    if not sizes:
        raise ValueError(f"{name} must name at least one hidden layer, got {list(sizes)}")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Real) or int(size) != size:
            raise ValueError(f"{name} must hold integers, got {list(sizes)}")
    sizes = [int(size) for size in sizes]
    if any(size <= 0 for size in sizes):
        raise ValueError(f"{name} must be > 0, got {sizes}")
    if sizes != sizes[::-1]:
        raise ValueError(f"{name} must be symmetric (e.g. [200, 50, 200]), got {sizes}")
    return sizes


def check_open_unit_interval(value, name):
    """Return ``value`` as a float strictly between 0 and 1, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be in the open interval (0, 1), got {value!r}")
    return float(value)


def check_non_negative(value, name):
    """Return ``value`` as a finite float >= 0, else raise ``ValueError``."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not np.isfinite(value) or value < 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive(value, name):
    """Return ``value`` as a finite float > 0, else raise ``ValueError``."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not np.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def is_integer(value):
    """True for a Python or numpy integer that is not a ``bool``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(value, name, minimum=None, maximum=None):
    """Return ``value`` as an ``int`` within ``[minimum, maximum]``, else raise ``ValueError``.

    The one check for "an integer, not a bool, in range" that every entry
    point uses; the message names the argument and the value given.

    Parameters
    ----------
    value : object
    name : str
        How the caller names the argument in the message (``'stride'``, ``'--patches'``).
    minimum, maximum : int, optional
        Inclusive bounds; ``None`` leaves that side open.
    """
    if not is_integer(value) or (minimum is not None and value < minimum) or (
            maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            want = f"an integer in [{minimum}, {maximum}]"
        elif minimum == 1:
            want = "a positive integer"
        elif minimum is not None:
            want = f"an integer >= {minimum}"
        elif maximum is not None:
            want = f"an integer <= {maximum}"
        else:
            want = "an integer"
        raise ValueError(f"{name} must be {want}, got {value!r}")
    return int(value)


def check_positive_int(value, name):
    """Return ``value`` as an int >= 1, else raise ``ValueError``."""
    return check_int(value, name, minimum=1)


def check_random_state(random_state):
    """Turn ``None``, an int seed, a ``Generator`` or a ``RandomState`` into a ``Generator``.

    The same seed always gives the same generator stream; ``None`` draws
    fresh entropy from the operating system.
    """
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(random_state, bool):
            raise ValueError(f"random_state must be None, an int or a Generator, got {random_state!r}")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise ValueError(f"random_state must be None, an int or a Generator, got {random_state!r}")


def check_writable_folder(path, name, create=True):
    """Return ``path`` once it is a folder this process can write in, else raise ``ValueError``.

    Meant to run *before* expensive work whose results go to ``path``: a
    path that is a file, lies under a file, or cannot be written is reported
    at once, naming the argument and the path.

    Parameters
    ----------
    path : str or os.PathLike
    name : str
        How the caller names the argument (``'cache_dir'``, ``'--cache-dir'``).
    create : bool, default=True
        Create the folder (and its parents) when it does not exist; with
        False a missing folder is checked only for a writable parent.

    Returns
    -------
    str
        ``os.fspath(path)``.

    Raises
    ------
    ValueError
        ``path`` is an existing file, a parent is a file, or the folder
        cannot be created or written (a probe file is created and removed).
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name} {path!r} is a file, not a folder: give a folder (it is created "
                         f"when missing)")
    existing = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(path) and not os.path.isdir(existing):
        raise ValueError(f"{name} {path!r} cannot be created: {existing!r} is a file, not a folder")
    target = path if os.path.isdir(path) else existing
    try:
        if create:
            os.makedirs(path, exist_ok=True)
            target = path
        handle, probe = tempfile.mkstemp(prefix=".nnlite-write-test-", dir=target)
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"{name} {path!r} cannot be written ({error.strerror or error}): choose "
                         f"another folder") from None
    return path
