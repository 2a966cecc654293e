"""The exceptions the data layer raises for unusable input files: one ``ValueError`` family.

Each names the file and says what to do.  They derive from ``ValueError``
so that the command line, which turns ``ValueError`` and
``FileNotFoundError`` into a single ``error:`` line with exit status 2,
reports them without a traceback.

* :class:`DataError` -- the base: a data file, folder or cache cannot be used.
* :class:`PickleDataError` -- a pickle (the assignment's ``.pk`` files,
  CIFAR-10 batches) is damaged, truncated, claims absurd sizes, or does not
  hold the expected layout.  :class:`~nnlite.data.safe_pickle.UnsafePickleError`
  (a forbidden global) is a subclass, so catching this one class catches every
  way a pickle can fail to load.
* :class:`ImageFileError` -- an image cannot be read or decoded, or is refused
  (a decompression bomb: more pixels than Pillow's limit).
"""

import contextlib

__all__ = ["DataError", "ImageFileError", "PickleDataError", "pickle_content"]


class DataError(ValueError):
    """A data file, folder or cache cannot be used; the message names it and what to do."""


class PickleDataError(DataError):
    """A pickle file is damaged, truncated, claims impossible sizes, or is not the expected layout."""


class ImageFileError(DataError):
    """An image file cannot be read or decoded, or is refused as a decompression bomb."""


@contextlib.contextmanager
def pickle_content(path):
    """Turn any failure while interpreting an unpickled object from ``path`` into :class:`PickleDataError`.

    A pickle that loads can still hold the wrong things (a label list with
    ``None`` in it, a dict where an array belongs); numpy then raises
    ``TypeError``, ``ValueError``, ``OverflowError``... from deep inside.
    Inside this block they all become one ``PickleDataError`` naming
    ``path``; a :class:`DataError` passes unchanged.
    """
    try:
        yield
    except DataError:
        raise
    except (TypeError, ValueError, AttributeError, LookupError, OverflowError, RecursionError,
            MemoryError) as error:
        raise PickleDataError(f"{path!r} does not hold what nnlite expects: {error or type(error).__name__}"
                              ) from None
