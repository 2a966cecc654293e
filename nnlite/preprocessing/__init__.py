"""Patch preprocessing: SPEC's normalisation, a fitted normaliser, ZCA whitening, named choices.

* :mod:`~nnlite.preprocessing.normalize` -- :func:`normalize_data` (SPEC's
  per-channel clip and map to ``[0.1, 0.9]``) and :class:`PatchNormalizer`
  (the same with stored statistics, optionally removing each patch's mean);
* :mod:`~nnlite.preprocessing.zca` -- :class:`ZCAWhitening`;
* :mod:`~nnlite.preprocessing.factory` -- :func:`make_preprocessor`, the
  named choices ``'spec'``, ``'mean-removed'``, ``'zca'``.

Every fitted preprocessor has ``get_state()`` / ``from_state()`` (JSON +
arrays); :mod:`nnlite.model_file` stores them.  The autoencoder settings that
suit each choice live in :mod:`nnlite.patch_model` (``PatchSettings.from_options``).
"""

from .factory import PREPROCESSORS, make_preprocessor
from .normalize import PatchNormalizer, normalize_data
from .zca import ZCAWhitening

__all__ = ["PREPROCESSORS", "PatchNormalizer", "ZCAWhitening", "make_preprocessor", "normalize_data"]
