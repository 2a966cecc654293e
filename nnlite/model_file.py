"""The model file: the one module that knows its layout (writer and reader).

A model file is an uncompressed ``.npz`` archive, read with
``np.load(allow_pickle=False)`` (loading one never runs code).  It holds a
JSON document in the 0-d unicode array ``metadata`` and numeric arrays.
(Over 400 lines on purpose: the format's full documentation below, the
writer, the reader and the version-1 conversion belong in the one module
that knows the layout.)

Format version 2 (written by this module)
-----------------------------------------
JSON keys of ``metadata``:

``format``
    ``"nnlite-model"``.
``format_version``
    ``2``.
``nnlite_version``
    Version of nnlite that wrote the file (another major version is refused).
``estimator``
    ``{"class": name, "state": {...}}``: ``name`` is a class registered with
    :func:`register_model` (``SparseAutoencoder``, ``StackedAutoencoder``);
    ``state`` is the JSON half of its ``get_state()``: ``params``
    (constructor arguments; ``backend`` is where the network ran when it
    was saved -- a record only: the loader chooses where it runs), ``sizes``, ``activations``, ``training``
    (``n_iter``, ``cost``, ``training_time``, ``interrupted``) and, for a
    stack, ``stacked`` (stage records and times).
``preprocessor``
    ``null``, or the fitted patch preprocessor: ``{"class": "PatchNormalizer"
    | "ZCAWhitening", "params": {...}, "n_features_in": D}`` or
    ``{"class": "Pipeline", "steps": [{..., "name": step name}, ...]}``.
``patch_shape``
    ``null`` or ``[p, p, c]``: the patch the encoder's input row reshapes to.
``settings``
    ``null`` or the training settings (:meth:`nnlite.patch_model.PatchSettings.to_dict`).
``summary``
    ``null`` or the training summary of a patch model (final cost,
    reconstruction error, mean hidden activations, ...).
``data``
    ``null`` or a JSON description of the training data given by the caller.
``extra``
    Anything else the caller stored (``{}`` by default).

Arrays:

``estimator/<name>``
    The array half of the estimator's ``get_state()``: ``theta`` (the flat
    parameter vector, SPEC's layout), ``loss_curve``, ``time_curve``.
``preprocessor/<name>`` or ``preprocessor/<step>/<name>``
    The fitted preprocessor's arrays (``mean``, ``std``, ``whitening``,
    ``dewhitening``, ``eigenvalues``); ``<step>`` is the 0-based index of a
    pipeline step.
``extra/<name>``
    Arrays the caller stored.

Format version 1 (nnlite 0.1's files) is still read: the estimator state sat
at the top level of the JSON (``class``, ``params``, ``sizes``,
``activations``, ``training``, ``stacked``), its arrays were ``theta``,
``loss_curve``, ``time_curve``, and everything else lived under ``extra``:
``extra.preprocessor`` with arrays ``extra/preprocessor/...``, and the patch
side either in ``extra.patch_size`` (``FeatureModel.save``) or in
``extra.data.patch_size`` (``nnlite train``, with ``extra.data.image_shape``
giving the channels).  :func:`read` converts both to the version 2 view.
"""

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field

import numpy as np
from sklearn.pipeline import Pipeline

from ._version import __version__
from .exceptions import ModelFileError
from .preprocessing import PatchNormalizer, ZCAWhitening

FORMAT_NAME = "nnlite-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)

#: Estimator classes by name (filled by :func:`register_model`), so files can name them.
MODEL_CLASSES = {}
#: Preprocessor classes that can be stored (each has ``get_state``/``from_state``).
PREPROCESSOR_CLASSES = {"PatchNormalizer": PatchNormalizer, "ZCAWhitening": ZCAWhitening}


def register_model(cls):
    """Class decorator: make estimator ``cls`` storable and loadable by name.

    ``cls`` provides ``get_state() -> (dict, dict of arrays)`` and
    ``from_state(state, arrays, backend=None, dtype=None)``.
    """
    MODEL_CLASSES[cls.__name__] = cls
    return cls


@dataclass
class ModelContents:
    """What a model file holds, in the version 2 view.

    Attributes
    ----------
    estimator : SparseAutoencoder or StackedAutoencoder
    preprocessor : fitted transformer or None
    patch_shape : tuple of int or None
        ``(p, p, c)``.
    settings, summary, data : dict or None
    extra : dict
        Caller's JSON metadata.
    extra_arrays : dict of str -> ndarray
        Caller's arrays.
    format_version : int
        Version of the file read.
    nnlite_version : str
    """

    estimator: object
    preprocessor: object = None
    patch_shape: tuple = None
    settings: dict = None
    summary: dict = None
    data: dict = None
    extra: dict = field(default_factory=dict)
    extra_arrays: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    nnlite_version: str = __version__


# ------------------------------------------------------------ preprocessors
def preprocessor_state(preprocessor):
    """The fitted ``preprocessor`` as JSON metadata + arrays named relative to its prefix.

    Parameters
    ----------
    preprocessor : PatchNormalizer, ZCAWhitening or Pipeline of them

    Returns
    -------
    metadata : dict
    arrays : dict of str -> ndarray
        Names like ``'mean'`` or ``'1/whitening'`` (pipeline step 1).
    """
    if isinstance(preprocessor, Pipeline):
        steps, arrays = [], {}
        for index, (name, step) in enumerate(preprocessor.steps):
            step_metadata, step_arrays = preprocessor_state(step)
            steps.append(dict(step_metadata, name=name))
            arrays.update({f"{index}/{key}": value for key, value in step_arrays.items()})
        return {"class": "Pipeline", "steps": steps}, arrays
    if type(preprocessor).__name__ not in PREPROCESSOR_CLASSES:
        raise ValueError(f"cannot store a {type(preprocessor).__name__} preprocessor; "
                         f"use PatchNormalizer, ZCAWhitening or a Pipeline of them")
    metadata, arrays = preprocessor.get_state()
    return metadata, {key: np.asarray(value) for key, value in arrays.items()}


def preprocessor_from_state(metadata, arrays):
    """Rebuild the fitted preprocessor described by :func:`preprocessor_state`.

    Parameters
    ----------
    metadata : dict
    arrays : dict of str -> ndarray
        Names relative to the preprocessor's prefix.

    Returns
    -------
    PatchNormalizer, ZCAWhitening or Pipeline
    """
    name = metadata.get("class")
    if name == "Pipeline":
        steps = []
        for index, step in enumerate(metadata.get("steps", [])):
            own = {key[len(f"{index}/"):]: value for key, value in arrays.items()
                   if key.startswith(f"{index}/")}
            steps.append((step.get("name", f"step{index}"), preprocessor_from_state(step, own)))
        if not steps:
            raise ValueError("stored preprocessor pipeline has no steps")
        return Pipeline(steps)
    if name not in PREPROCESSOR_CLASSES:
        raise ValueError(f"unknown stored preprocessor class {name!r}")
    try:
        return PREPROCESSOR_CLASSES[name].from_state(metadata, arrays)
    except KeyError as error:
        raise ValueError(f"stored {name} lacks array {error.args[0]!r}") from None


# ------------------------------------------------------------------ writing
def _prefixed(prefix, arrays):
    return {prefix + name: np.asarray(value) for name, value in (arrays or {}).items()}


def write(path, estimator, preprocessor=None, patch_shape=None, settings=None, summary=None,
          data=None, extra=None, extra_arrays=None):
    """Write a version 2 model file, atomically (a temporary file beside it, then ``os.replace``).

    Non-finite weights are refused (:func:`check_finite`): a model that
    transforms everything to NaN is not worth a file.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npz`` is appended when missing.
    estimator : registered estimator, fitted
    preprocessor : fitted transformer, optional
    patch_shape : tuple of int, optional
    settings, summary, data, extra : dict, optional
        JSON-serialisable.
    extra_arrays : dict of str -> ndarray, optional

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ModelFileError
        A weight or preprocessing array holds NaN or inf (nothing is written).
    """
    name = type(estimator).__name__
    if name not in MODEL_CLASSES:
        raise ValueError(f"{name} is not a registered model class; use register_model")
    state, estimator_arrays = estimator.get_state()
    document = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "nnlite_version": __version__,
                "estimator": {"class": name, "state": state}, "preprocessor": None,
                "patch_shape": None if patch_shape is None else [int(v) for v in patch_shape],
                "settings": settings, "summary": summary, "data": data, "extra": dict(extra or {})}
    arrays = _prefixed("estimator/", estimator_arrays)
    if preprocessor is not None:
        document["preprocessor"], own = preprocessor_state(preprocessor)
        arrays.update(_prefixed("preprocessor/", own))
    arrays.update(_prefixed("extra/", extra_arrays))
    return _save(path, document, arrays)


#: Arrays that must hold finite numbers: the weights and the fitted preprocessing (not the curves).
WEIGHT_PREFIXES = ("estimator/theta", "preprocessor/")


def check_finite(path, arrays, action):
    """Raise :class:`ModelFileError` when a weight array of ``arrays`` holds NaN or inf.

    Parameters
    ----------
    path : str
        The model file, named in the message.
    arrays : dict of str -> ndarray
        Archive names (``'estimator/theta'``, ``'preprocessor/0/mean'``, ...).
    action : {'save', 'load'}
    """
    for name, array in arrays.items():
        if not name.startswith(WEIGHT_PREFIXES) or array.dtype.kind not in "fc":
            continue
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            why = ("training diverged: lower the learning settings (e.g. --lambda, --beta) or normalise "
                   "the data, then train again" if action == "save"
                   else "the file is damaged or was written by a run that diverged: train the model again")
            raise ModelFileError(f"cannot {action} model file {path!r}: array {name!r} holds {bad} "
                                 f"non-finite value(s) (NaN or inf) of {array.size}; {why}")


def _save(path, document, arrays):
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    for name, array in arrays.items():
        if array.dtype.kind == "O":
            raise ValueError(f"array {name!r} has object dtype; only numeric arrays can be saved")
    check_finite(path, arrays, "save")
    payload = dict(arrays, metadata=np.array(json.dumps(document, sort_keys=True)))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=os.path.basename(path) + ".partial-", suffix=".npz",
                                         dir=folder)
    os.close(handle)
    try:
        np.savez(temporary, **payload)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


# ------------------------------------------------------------------ reading
def _load(path):
    """(metadata, arrays) of a readable file, after the format and version checks."""
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
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path!r} has damaged metadata")
    if metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path!r} is not an nnlite model file (format {metadata.get('format')!r})")
    if metadata.get("format_version") not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{path!r} uses model format version {metadata.get('format_version')!r}; this nnlite "
            f"({__version__}) reads versions {', '.join(map(str, READABLE_VERSIONS))}")
    saved = str(metadata.get("nnlite_version", "?"))
    if saved.split(".")[0] != __version__.split(".")[0]:
        raise ModelFileError(f"{path!r} was saved by nnlite {saved}; this is nnlite {__version__} "
                             f"(another major version)")
    return metadata, arrays


def _upgrade_v1(metadata, arrays):
    """Version 1 ``(metadata, arrays)`` rearranged into the version 2 layout."""
    extra = dict(metadata.get("extra", {}))
    state = {key: metadata[key] for key in ("params", "sizes", "activations", "training", "stacked")
             if key in metadata}
    preprocessor = extra.pop("preprocessor", None)
    data = extra.pop("data", None)
    patch_size = extra.pop("patch_size", None)
    channels = None
    if isinstance(data, dict):
        patch_size = data.get("patch_size", patch_size)
        shape = data.get("image_shape")
        channels = shape[2] if isinstance(shape, list) and len(shape) == 3 else None
    patch_shape = None
    if patch_size is not None:
        n_inputs = int(metadata["sizes"][0])
        channels = channels or n_inputs // (int(patch_size) ** 2)
        patch_shape = [int(patch_size), int(patch_size), int(channels)]
    document = {"format": FORMAT_NAME, "format_version": 1,
                "nnlite_version": metadata.get("nnlite_version"),
                "estimator": {"class": metadata.get("class"), "state": state},
                "preprocessor": preprocessor, "patch_shape": patch_shape, "settings": None,
                "summary": None, "data": data, "extra": extra}
    renamed = {}
    for name, value in arrays.items():
        if name.startswith("extra/preprocessor/"):
            renamed["preprocessor/" + name[len("extra/preprocessor/"):]] = value
        elif name.startswith("extra/"):
            renamed[name] = value
        else:
            renamed["estimator/" + name] = value
    return document, renamed


def _section(arrays, prefix):
    return {name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)}


def read(path, backend=None, dtype=None):
    """Read a model file of format version 1 or 2.

    Parameters
    ----------
    path : str or os.PathLike
    backend : str, optional
        Where the estimator's network runs (default: numpy, or
        ``$NNLITE_BACKEND``), whatever backend it was trained on.
    dtype : {'float64', 'float32'}, optional
        Default: the stored one.

    Returns
    -------
    ModelContents

    Raises
    ------
    ModelFileError
        Missing, damaged, unknown-version or inconsistent file, or one whose
        weights hold NaN or inf.
    """
    metadata, arrays = _load(path)
    check_finite(os.fspath(path), arrays, "load")
    try:
        if metadata["format_version"] == 1:
            metadata, arrays = _upgrade_v1(metadata, arrays)
        estimator_info = metadata["estimator"]
        name = estimator_info.get("class")
        if name not in MODEL_CLASSES:
            raise ModelFileError(f"{path!r} holds an unknown model class {name!r}")
        own = _section(arrays, "estimator/")
        if "theta" not in own:
            raise ModelFileError(f"{path!r} has no 'theta' array")
        estimator = MODEL_CLASSES[name].from_state(estimator_info["state"], own, backend=backend,
                                                   dtype=dtype)
        preprocessor = (preprocessor_from_state(metadata["preprocessor"], _section(arrays, "preprocessor/"))
                        if metadata.get("preprocessor") else None)
        shape = metadata.get("patch_shape")
        if shape is not None:
            shape = tuple(int(v) for v in shape)
            if len(shape) != 3 or shape[0] * shape[1] * shape[2] != estimator.n_features_in_:
                raise ModelFileError(f"{path!r}: patch shape {shape} does not match the encoder's "
                                     f"{estimator.n_features_in_} inputs")
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{path!r} has inconsistent contents ({error!r})") from None
    return ModelContents(estimator=estimator, preprocessor=preprocessor, patch_shape=shape,
                         settings=metadata.get("settings"), summary=metadata.get("summary"),
                         data=metadata.get("data"), extra=dict(metadata.get("extra") or {}),
                         extra_arrays=_section(arrays, "extra/"),
                         format_version=int(metadata["format_version"]),
                         nnlite_version=str(metadata.get("nnlite_version")))
