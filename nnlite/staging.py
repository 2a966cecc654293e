"""All-or-nothing outputs: files are written beside their destinations, then moved in together.

A run that writes several files (``nnlite train``'s model, pictures and
summary; ``nnlite classify``'s table, plot, models and ``--json``) must not
leave a mixture of new and old files when one of them fails.
:class:`StagedOutputs` hands out a temporary path for each destination, in a
hidden folder inside the destination's folder (so on the same filesystem and
``os.replace`` is a rename), and :meth:`StagedOutputs.commit` moves every file
into place only when all of them were written.  Before moving anything it
checks that no destination is in the way (a folder of the same name); while
moving, it keeps each previous file aside and puts them all back if a move
fails.  On any failure the destinations are left as they were and the
temporary files are removed.

Examples
--------
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> with StagedOutputs() as outputs:
...     with open(outputs.path(os.path.join(folder, "a.txt")), "w") as handle:
...         _ = handle.write("new")
>>> sorted(os.listdir(folder))
['a.txt']
"""

import contextlib
import os
import shutil
import tempfile
import uuid

__all__ = ["StagedOutputs", "check_destination", "replaced_file"]

#: Prefix of the hidden folders that hold a run's files until they are moved into place.
PARTIAL_PREFIX = ".nnlite-partial-"


@contextlib.contextmanager
def replaced_file(path, mode="wb", encoding=None):
    """One file written all or nothing: a new file beside ``path`` that replaces it on success.

    Parameters
    ----------
    path : str or os.PathLike
    mode : {'wb', 'w'}
    encoding : str, optional
        For text mode.

    Yields
    ------
    file object
        Open for writing.  When the block ends normally the file is closed
        and moved onto ``path`` (``os.replace``); when it raises, the file is
        removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    temporary = f"{path}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(temporary, mode.replace("w", "x"), encoding=encoding) as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def check_destination(path):
    """Raise ``ValueError`` when ``path`` cannot be replaced by a file (a folder of that name is there).

    Parameters
    ----------
    path : str
        Absolute path of a file about to be written.
    """
    if os.path.isdir(path) and not os.path.islink(path):
        raise ValueError(f"cannot write {path!r}: a folder of that name is in the way; remove or rename "
                         f"it (nothing was written)")


def _existing_ancestor(folder):
    while not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


class StagedOutputs:
    """A set of output files that appear together (on :meth:`commit`) or not at all.

    Use it as a context manager: leaving the block normally commits, an
    exception discards every staged file and propagates.

    Attributes
    ----------
    staged : dict of str -> str
        Destination path -> temporary path, in the order :meth:`path` was called.
    """

    def __init__(self):
        self.staged = {}
        self._folders = {}

    def path(self, destination):
        """The temporary path to write ``destination``'s contents to (same folder, so same filesystem).

        Parameters
        ----------
        destination : str or os.PathLike
            Final path of the file; its folder is created only by :meth:`commit`.

        Returns
        -------
        str
            A path inside a hidden ``.nnlite-partial-*`` folder, with
            ``destination``'s file name (so its extension is kept).
        """
        destination = os.path.abspath(os.fspath(destination))
        check_destination(destination)
        if destination in self.staged:
            return self.staged[destination]
        folder = os.path.dirname(destination)
        if folder not in self._folders:
            self._folders[folder] = tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=_existing_ancestor(folder))
        temporary = os.path.join(self._folders[folder], f"{len(self.staged)}-{os.path.basename(destination)}")
        self.staged[destination] = temporary
        return temporary

    def commit(self):
        """Move every staged file to its destination, or none of them.

        Raises
        ------
        ValueError
            A staged file was not written, or a destination is a folder;
            nothing was moved.
        OSError
            A move failed; the destinations moved already were put back.
        """
        try:
            for destination, temporary in self.staged.items():
                if not os.path.isfile(temporary):
                    raise ValueError(f"{destination!r} was not written; nothing was moved into place")
                check_destination(destination)
            for folder in self._folders:
                os.makedirs(folder, exist_ok=True)
            self._move_all()
        finally:
            self.discard()

    def _move_all(self):
        moved = []  # (destination, previous file kept aside or None)
        try:
            for destination, temporary in self.staged.items():
                aside = None
                if os.path.lexists(destination):
                    aside = temporary + ".previous"
                    os.replace(destination, aside)
                moved.append((destination, aside))
                os.replace(temporary, destination)
        except OSError:
            for destination, aside in reversed(moved):
                if aside is not None and os.path.lexists(aside):
                    os.replace(aside, destination)
                elif aside is None and os.path.lexists(destination):
                    os.remove(destination)
            raise

    def discard(self):
        """Remove the temporary folders and whatever they hold (the destinations are not touched)."""
        for folder in self._folders.values():
            shutil.rmtree(folder, ignore_errors=True)
        self._folders = {}

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.commit()
        else:
            self.discard()
        return False
