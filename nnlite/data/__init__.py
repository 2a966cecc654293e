"""Image data: dataset loaders, patches, normalisation and whitening.

Loaders return a :class:`Dataset` whose ``images`` are rows in SPEC's layout
(``row.reshape(h, w, c)``), uint8 for 8-bit sources; :func:`load_dataset`
picks the loader by name ('sample', 'stl10', 'cifar10', 'folder', 'pickle').
Unusable input files raise :class:`DataError` subclasses (``ValueError``)
naming the file: :class:`PickleDataError` for any damaged or crafted pickle,
:class:`ImageFileError` for an unreadable image or a decompression bomb.
"""

from .assignment_pickle import load_assignment_pickle
from .cifar10 import load_cifar10
from .dataset import SOURCES, Dataset, MappedImages, as_float, load_dataset, select_subset
from .download import download, fetch_dataset
from .errors import DataError, ImageFileError, PickleDataError
from .image_folder import load_image_folder
from .safe_pickle import RestrictedUnpickler, UnsafePickleError, safe_load
from .sample_images import load_sample_images
from .stl10 import load_stl10

__all__ = [
    "SOURCES", "DataError", "Dataset", "ImageFileError", "MappedImages", "PickleDataError",
    "RestrictedUnpickler", "UnsafePickleError", "as_float",
    "download", "fetch_dataset", "load_assignment_pickle", "load_cifar10", "load_dataset",
    "load_image_folder", "load_sample_images", "load_stl10", "safe_load", "select_subset",
]
