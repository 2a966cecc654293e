"""Saving and loading models as ``.npz`` arrays plus JSON metadata (never pickle).

A model file is an uncompressed ``.npz`` archive holding

* ``metadata``: a 0-d unicode array with a JSON document (format name and
  version, nnlite version, class, hyper-parameters, architecture, training
  summary and anything the caller adds);
* ``theta``: the flat parameter vector (float64, SPEC's layout);
* any further named arrays (e.g. normalisation statistics).

Files are read with ``allow_pickle=False``, so loading one never runs code.
"""

import json
import os
import zipfile

import numpy as np

from ._version import __version__

FORMAT_NAME = "nnlite-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file is missing, damaged, or from an incompatible version."""


def save_arrays(path, metadata, arrays):
    """Write ``arrays`` and the JSON ``metadata`` to ``path`` (``.npz``), atomically.

    Parameters
    ----------
    path : str or os.PathLike
    metadata : dict
        JSON-serialisable; ``format``, ``format_version`` and
        ``nnlite_version`` are added.
    arrays : dict of str -> ndarray
        Numeric arrays only (no object dtype).

    Returns
    -------
    str
        The path written.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    document = dict(metadata)
    document.update(format=FORMAT_NAME, format_version=FORMAT_VERSION, nnlite_version=__version__)
    payload = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.dtype.kind == "O":
            raise ValueError(f"array {name!r} has object dtype; only numeric arrays can be saved")
        if name == "metadata":
            raise ValueError("'metadata' is reserved for the JSON document")
        payload[name] = array
    payload["metadata"] = np.array(json.dumps(document, sort_keys=True))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = path + ".partial.npz"
    np.savez(temporary, **payload)
    os.replace(temporary, path)
    return path


def load_arrays(path):
    """Read a file written by :func:`save_arrays`.

    Returns
    -------
    metadata : dict
    arrays : dict of str -> ndarray

    Raises
    ------
    ModelFileError
        Missing file, not an npz, damaged archive, missing or invalid
        metadata, another format version, or another major nnlite version.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"model file {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as error:
        raise ModelFileError(f"{path!r} is not a readable nnlite model file ({error})") from None
    if "metadata" not in arrays:
        raise ModelFileError(f"{path!r} has no 'metadata' entry; it was not written by nnlite")
    try:
        metadata = json.loads(str(arrays.pop("metadata")))
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path!r} has damaged metadata ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path!r} is not an nnlite model file (format {metadata.get('format')!r})"
                             if isinstance(metadata, dict) else f"{path!r} has damaged metadata")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} uses model format version {metadata.get('format_version')!r}; this nnlite "
            f"({__version__}) reads version {FORMAT_VERSION}")
    saved = str(metadata.get("nnlite_version", "?"))
    if saved.split(".")[0] != __version__.split(".")[0]:
        raise ModelFileError(f"{path!r} was saved by nnlite {saved}; this is nnlite {__version__} "
                             f"(another major version)")
    return metadata, arrays
