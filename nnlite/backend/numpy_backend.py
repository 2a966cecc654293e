"""The default backend: numpy on the CPU, float64 or float32."""

import numpy as np

from .base import ArrayBackend


class NumpyBackend(ArrayBackend):
    """CPU backend over numpy and its BLAS; arrays are plain ``numpy.ndarray``.

    With ``dtype='float64'`` and a C-contiguous float64 input, :meth:`asarray`
    returns the input itself, so a training set is never copied.
    """

    name = "numpy"
    xp = np
