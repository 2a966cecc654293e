"""Array backends: where the network's arrays live and how they are computed.

``get_backend(name, dtype)`` returns an :class:`~nnlite.backend.base.ArrayBackend`.
Names: ``'numpy'`` (default), ``'cupy'`` and ``'cudamat'`` (GPU; see the
README).  With ``name=None`` the environment variable ``NNLITE_BACKEND`` picks
one, falling back to numpy.
"""

import importlib
import os

from .base import ACTIVATION_NAMES, ArrayBackend
from .numpy_backend import NumpyBackend

#: Backend name -> "module:ClassName", imported only when asked for.
BACKENDS = {
    "numpy": "nnlite.backend.numpy_backend:NumpyBackend",
    "cupy": "nnlite.backend.cupy_backend:CupyBackend",
    "cudamat": "nnlite.backend.cudamat_backend:CudamatBackend",
}

ENV_VARIABLE = "NNLITE_BACKEND"


def get_backend(name=None, dtype="float64"):
    """Return a backend instance.

    Parameters
    ----------
    name : str, ArrayBackend or None
        A backend name (see ``BACKENDS``), an existing backend (returned
        unchanged when its dtype matches), or None for ``$NNLITE_BACKEND`` or
        ``'numpy'``.
    dtype : {'float64', 'float32'}
        Precision of the backend's arrays.

    Returns
    -------
    ArrayBackend
    """
    if isinstance(name, ArrayBackend):
        if name.dtype.name != str(getattr(dtype, "name", dtype)):
            return type(name)(dtype=dtype)
        return name
    if name is None:
        name = os.environ.get(ENV_VARIABLE, "numpy") or "numpy"
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {sorted(BACKENDS)}")
    module_name, class_name = BACKENDS[name.lower()].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(dtype=dtype)


__all__ = ["ACTIVATION_NAMES", "ArrayBackend", "BACKENDS", "NumpyBackend", "get_backend"]
