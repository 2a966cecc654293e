"""A restricted unpickler: numpy arrays and plain containers only, nothing that runs code.

``pickle.load`` calls whatever callable a file names, so a downloaded pickle
can run ``os.system``.  :class:`RestrictedUnpickler` overrides
:meth:`~pickle.Unpickler.find_class`, which the unpickler calls to look up
*every* global a file refers to, before anything is called.  Only the names
numpy needs to rebuild arrays, dtypes and scalars (numpy 1.x and 2.x module
paths, Python 2 and 3 pickles, protocols 0-5) and a few harmless builtins are
admitted; any other global raises :class:`UnsafePickleError` naming it, and
the file is not read further.  Persistent ids are refused too.

Dicts, lists, tuples, str, bytes, int, float, bool and None need no global,
so they load as usual.  Object arrays are fine when their elements are.
"""

import io
import os
import pickle

#: (module, name) pairs a pickle may refer to.  Everything here only builds
#: data: an empty array to be filled (``_reconstruct``, ``ndarray``), an array
#: from a buffer (``_frombuffer``), a dtype, a scalar from its bytes, bytes
#: from a latin-1 string (``_codecs.encode``, Python 2/protocol 2 bytes).
ALLOWED_GLOBALS = frozenset(
    [(module, "_reconstruct") for module in ("numpy.core.multiarray", "numpy._core.multiarray")]
    + [(module, "scalar") for module in ("numpy.core.multiarray", "numpy._core.multiarray")]
    + [(module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")]
    + [(module, name) for module in ("builtins", "__builtin__")
       for name in ("set", "frozenset", "complex", "bytearray", "slice", "range")]
    + [("collections", "OrderedDict")]
)


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle refers to a global outside :data:`ALLOWED_GLOBALS`; nothing of it was run."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`.

    Parameters
    ----------
    file : binary file object
    source : str, optional
        Name used in error messages (the file path).
    **kwargs
        Passed to :class:`pickle.Unpickler` (``encoding='latin1'`` or
        ``'bytes'`` for Python 2 pickles).
    """

    def __init__(self, file, source=None, **kwargs):
        super().__init__(file, **kwargs)
        self.source = source

    def find_class(self, module, name):
        """Return the global ``module.name`` if it is allowed, else raise before it is used."""
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        where = f" in {self.source!r}" if self.source else ""
        raise UnsafePickleError(
            f"refusing to unpickle{where}: it refers to the global {module}.{name}, which is not a "
            f"numpy array or plain container (a pickle can run code on load; only arrays, dtypes, "
            f"lists, dicts, tuples, sets, str, bytes and numbers are admitted)")

    def persistent_load(self, pid):
        """Refuse persistent ids (they would need a custom resolver)."""
        where = f" in {self.source!r}" if self.source else ""
        raise UnsafePickleError(f"refusing to unpickle{where}: it uses a persistent id ({pid!r})")


def safe_load(path, encoding="latin1"):
    """Unpickle the file ``path`` with :class:`RestrictedUnpickler`.

    Parameters
    ----------
    path : str or os.PathLike
    encoding : str, default='latin1'
        How Python 2 ``str`` objects are decoded: ``'latin1'`` (gives str,
        numpy's recommendation for Python 2 arrays) or ``'bytes'``.

    Returns
    -------
    object
        The unpickled object (dicts, lists, ndarrays...).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    UnsafePickleError
        The file names a forbidden global (also a ``ValueError``).
    ValueError
        The file is not a pickle or is truncated.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pickle file {path!r} does not exist")
    with open(path, "rb") as handle:
        try:
            return RestrictedUnpickler(handle, source=path, encoding=encoding).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError) as error:
            raise ValueError(f"{path!r} is not a readable pickle ({error or 'truncated'})") from None


def safe_loads(data, encoding="latin1"):
    """Unpickle the bytes ``data`` with :class:`RestrictedUnpickler` (see :func:`safe_load`)."""
    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
