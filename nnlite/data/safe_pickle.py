"""A restricted unpickler: numpy arrays and plain containers only, nothing that runs code.

``pickle.load`` calls whatever callable a file names, so a downloaded pickle
can run ``os.system``.  :class:`RestrictedUnpickler` overrides
:meth:`~pickle.Unpickler.find_class`, which the unpickler calls to look up
*every* global a file refers to, before anything is called.  Only the names
numpy needs to rebuild arrays, dtypes and scalars (numpy 1.x and 2.x module
paths, Python 2 and 3 pickles, protocols 0-5) and a few harmless builtins are
admitted; any other global raises :class:`UnsafePickleError` naming it, and
the file is not read further.  Persistent ids are refused too.

A pickle that uses only admitted names can still be damaged or crafted:
wrong argument types, impossible shapes, a length field claiming terabytes.
So the admitted callables are wrappers that check their arguments (the
array constructors refuse to allocate more than the file could hold and
more than the machine has: :func:`nnlite.memory.check_allocation`; an object
array's element list must match its shape; ``_codecs.encode`` only encodes
text as latin-1; ``set``/``bytearray`` take only containers), the stream is
read through a reader that refuses any length field pointing past the end of
the file (before the unpickler allocates a buffer for it), and *every*
failure inside :meth:`RestrictedUnpickler.load` -- ``TypeError``,
``LookupError``, ``struct.error``, ``EOFError``, ``MemoryError``,
``RecursionError``... -- becomes one exception, :class:`PickleDataError`
(a ``ValueError``) naming the file.  :class:`UnsafePickleError` is its
subclass.  The unpickler is the pure-Python one of the standard library (the
C one has no hook where an array's state can be checked); for the files it
reads (a few large arrays and lists of labels) that costs milliseconds.

Dicts, lists, tuples, str, bytes, int, float, bool and None need no global,
so they load as usual.  Object arrays are fine when their elements are.
"""

import codecs
import io
import math
import os
import pickle
import struct
from collections import OrderedDict

import numpy as np

from ..memory import check_allocation
from .errors import PickleDataError

try:  # numpy >= 2 (and 1.26's forward-compatible aliases)
    from numpy._core import multiarray as _multiarray, numeric as _numeric
except ImportError:  # pragma: no cover - numpy < 1.26
    from numpy.core import multiarray as _multiarray, numeric as _numeric

__all__ = ["ALLOWED_GLOBALS", "PickleDataError", "RestrictedUnpickler", "UnsafePickleError",
           "safe_load", "safe_loads"]

#: Bytes any claimed allocation may exceed the file's own size by (small
#: scalars and empty arrays of tiny files).
SLACK_BYTES = 2**20

_LATIN1 = {"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1"}


class UnsafePickleError(PickleDataError, pickle.UnpicklingError):
    """A pickle refers to a global outside :data:`ALLOWED_GLOBALS`; nothing of it was run."""


class _Checked:
    """An admitted global: ``check(unpickler, *args, **kwargs)`` checks the arguments and builds the object.

    It has no ``__dict__`` (``__slots__``), so a pickle's BUILD opcode cannot
    set attributes on it that later loads would see.
    """

    __slots__ = ("name", "check")

    def __init__(self, name, check):
        self.name, self.check = name, check

    def __repr__(self):
        return f"<admitted {self.name}>"


class _Bound:
    """An admitted :class:`_Checked` global bound to the unpickler whose limits it applies."""

    __slots__ = ("unpickler", "checked")

    def __init__(self, unpickler, checked):
        self.unpickler, self.checked = unpickler, checked

    def __call__(self, *args, **kwargs):
        return self.checked.check(self.unpickler, *args, **kwargs)

    def __repr__(self):
        return repr(self.checked)


def _elements(shape):
    """Element count of a shape given as an int or a tuple of ints (Python ints: no overflow)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(size, (int, np.integer)) for size in shape):
        raise TypeError(f"array shape must hold integers, got {shape!r}")
    if any(size < 0 for size in shape):
        raise ValueError(f"negative dimensions in array shape {shape!r}")
    return math.prod(int(size) for size in shape)


def _reconstruct(unpickler, subtype, shape, dtype):
    if not (subtype is np.ndarray or isinstance(subtype, _Bound) and subtype.checked is _NDARRAY):
        raise TypeError(f"_reconstruct builds numpy.ndarray only, got {subtype!r}")
    unpickler.check_bytes(_elements(shape) * np.dtype(dtype).itemsize, f"an array of shape {shape!r}")
    return _multiarray._reconstruct(np.ndarray, shape, dtype)


def _ndarray(unpickler, shape, dtype=float, buffer=None, offset=0, strides=None, order=None):
    if buffer is None:
        unpickler.check_bytes(_elements(shape) * np.dtype(dtype).itemsize,
                              f"an array of shape {shape!r}")
    return np.ndarray(shape, dtype, buffer, offset, strides, order)


def _scalar(unpickler, dtype, obj=None):
    dtype = np.dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    unpickler.check_bytes(dtype.itemsize, f"a scalar of dtype {dtype}")
    return _multiarray.scalar(dtype, obj) if obj is not None else _multiarray.scalar(dtype)


def _frombuffer(unpickler, buf, dtype, shape, order, *axis_order):
    return _numeric._frombuffer(buf, dtype, shape, order, *axis_order)


def _encode(unpickler, obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or not isinstance(encoding, str) or encoding.lower() not in _LATIN1:
        raise TypeError(f"_codecs.encode is admitted only to encode text as latin-1, got "
                        f"{type(obj).__name__} and encoding {encoding!r}")
    return codecs.encode(obj, "latin1")


def _container(kind):
    def build(unpickler, items=()):
        if not isinstance(items, (list, tuple, set, frozenset)):
            raise TypeError(f"{kind.__name__}() is admitted only on a list, tuple or set, "
                            f"got {type(items).__name__}")
        return kind(items)
    return build


def _bytearray(unpickler, source=b"", encoding=None, errors=None):
    if isinstance(source, str) and isinstance(encoding, str) and encoding.lower() in _LATIN1:
        return bytearray(source, "latin1")
    if isinstance(source, (bytes, bytearray)) and encoding is None:
        return bytearray(source)
    raise TypeError(f"bytearray() is admitted only on bytes or latin-1 text, got "
                    f"{type(source).__name__}")


def _ordered_dict(unpickler, items=()):
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"OrderedDict() is admitted only on a list of pairs, got {type(items).__name__}")
    return OrderedDict(items)


def _plain(kind):
    def build(unpickler, *args):
        return kind(*args)
    return build


_NDARRAY = _Checked("numpy.ndarray", _ndarray)

#: (module, name) -> what the file gets: each checks its arguments (see the module docstring).
_ADMITTED = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ADMITTED[(_module, "_reconstruct")] = _Checked(f"{_module}._reconstruct", _reconstruct)
    _ADMITTED[(_module, "scalar")] = _Checked(f"{_module}.scalar", _scalar)
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _ADMITTED[(_module, "_frombuffer")] = _Checked(f"{_module}._frombuffer", _frombuffer)
_ADMITTED[("numpy", "ndarray")] = _NDARRAY
_ADMITTED[("numpy", "dtype")] = np.dtype
_ADMITTED[("_codecs", "encode")] = _Checked("_codecs.encode", _encode)
for _module in ("builtins", "__builtin__"):
    _ADMITTED[(_module, "set")] = _Checked("set", _container(set))
    _ADMITTED[(_module, "frozenset")] = _Checked("frozenset", _container(frozenset))
    _ADMITTED[(_module, "bytearray")] = _Checked("bytearray", _bytearray)
    for _kind in (complex, slice, range):
        _ADMITTED[(_module, _kind.__name__)] = _Checked(_kind.__name__, _plain(_kind))
_ADMITTED[("collections", "OrderedDict")] = _Checked("OrderedDict", _ordered_dict)

#: (module, name) pairs a pickle may refer to.  Everything here only builds
#: data: an empty array to be filled (``_reconstruct``, ``ndarray``), an array
#: from a buffer (``_frombuffer``), a dtype, a scalar from its bytes, bytes
#: from a latin-1 string (``_codecs.encode``, Python 2/protocol 2 bytes).
ALLOWED_GLOBALS = frozenset(_ADMITTED)


class _BoundedReader:
    """A binary file's ``read``/``readline`` that refuse to read past ``size`` bytes.

    A length field in a damaged pickle can claim terabytes; the unpickler
    would ask the file for that many bytes (or allocate a buffer of that
    size) before finding out.  Here the request is compared with the bytes
    actually left first.
    """

    def __init__(self, file, size, source):
        self.file, self.remaining, self.source = file, size, source

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.remaining
        if n > self.remaining:
            raise PickleDataError(
                f"{self.source} is truncated or corrupted: it asks for {n:,} more bytes but only "
                f"{self.remaining:,} are left in the file; download or write it again")
        data = self.file.read(n)
        self.remaining -= len(data)
        return data

    def readline(self):
        line = self.file.readline()
        self.remaining -= len(line)
        return line


def _stream_size(file):
    """Bytes left in ``file`` from its current position, or None when it cannot tell."""
    try:
        return os.fstat(file.fileno()).st_size - file.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    try:
        return file.getbuffer().nbytes - file.tell()
    except (AttributeError, ValueError):
        return None


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` and checks what they are given.

    Parameters
    ----------
    file : binary file object
    source : str, optional
        Name used in error messages (the file path).
    **kwargs
        Passed to :class:`pickle.Unpickler` (``encoding='latin1'`` or
        ``'bytes'`` for Python 2 pickles).

    Notes
    -----
    :meth:`load` returns the object or raises :class:`PickleDataError`
    (:class:`UnsafePickleError` for a forbidden global); no other exception
    escapes it but ``KeyboardInterrupt``.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, source=None, **kwargs):
        self.source = source
        self._where = repr(source) if source else "the pickle data"
        self.size = _stream_size(file)
        if self.size is not None:
            file = _BoundedReader(file, self.size, self._where)
        super().__init__(file, **kwargs)

    def check_bytes(self, nbytes, what):
        """Refuse an allocation the file could not hold (damaged data) or the machine cannot."""
        if self.size is not None and nbytes > self.size + SLACK_BYTES:
            raise PickleDataError(
                f"{self._where} is corrupted or crafted: it asks for {what}, {nbytes:,} bytes, more "
                f"than the {self.size:,}-byte file could hold; download or write it again")
        check_allocation(nbytes, f"unpickling {what} from {self._where}",
                         advice="the file is probably damaged")

    def find_class(self, module, name):
        """Return the global ``module.name`` if it is allowed, else raise before it is used."""
        if (module, name) in _ADMITTED:
            found = _ADMITTED[(module, name)]
            return _Bound(self, found) if isinstance(found, _Checked) else found
        where = f" in {self.source!r}" if self.source else ""
        raise UnsafePickleError(
            f"refusing to unpickle{where}: it refers to the global {module}.{name}, which is not a "
            f"numpy array or plain container (a pickle can run code on load; only arrays, dtypes, "
            f"lists, dicts, tuples, sets, str, bytes and numbers are admitted)")

    def persistent_load(self, pid):
        """Refuse persistent ids (they would need a custom resolver)."""
        where = f" in {self.source!r}" if self.source else ""
        raise UnsafePickleError(f"refusing to unpickle{where}: it uses a persistent id ({pid!r})")

    def load_build(self):
        """BUILD: an array's state must match its shape before numpy allocates from it."""
        state, inst = self.stack[-1], self.stack[-2]
        if isinstance(inst, np.ndarray) and isinstance(state, tuple) and len(state) in (4, 5):
            shape, dtype, data = state[-4], state[-3], state[-1]
            count = _elements(shape)
            if isinstance(dtype, np.dtype) and dtype.hasobject:
                if not isinstance(data, list) or len(data) != count:
                    raise PickleDataError(
                        f"{self._where} is corrupted: an object array of shape {shape!r} comes with "
                        f"{len(data) if isinstance(data, list) else type(data).__name__} elements")
            self.check_bytes(count, f"an array of {count:,} elements")
        pickle._Unpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = load_build

    def load_bytearray8(self):
        """BYTEARRAY8: the claimed length is checked before the buffer is allocated."""
        (length,) = struct.unpack("<Q", self.read(8))
        self.check_bytes(length, f"a bytearray of {length:,} bytes")
        buffer = bytearray(length)
        self.readinto(buffer)
        self.append(buffer)

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    def load(self):
        """Read one object; every failure is a :class:`PickleDataError` naming the source."""
        try:
            return super().load()
        except PickleDataError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure inside means damaged data
            detail = str(error) or "no details"
            raise PickleDataError(
                f"{self._where} is not a readable pickle of arrays and containers "
                f"({type(error).__name__}: {detail[:300]}); it is damaged, truncated or not what "
                f"nnlite expects: download or write it again") from None


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
    PickleDataError
        The file cannot be read, is not a pickle, is truncated or damaged,
        or claims sizes it cannot hold (a ``ValueError``).
    UnsafePickleError
        The file names a forbidden global (a ``PickleDataError``).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pickle file {path!r} does not exist")
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise PickleDataError(f"cannot read pickle file {path!r}: {error.strerror or error}") from None
    with handle:
        return RestrictedUnpickler(handle, source=path, encoding=encoding).load()


def safe_loads(data, encoding="latin1"):
    """Unpickle the bytes ``data`` with :class:`RestrictedUnpickler` (see :func:`safe_load`)."""
    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
