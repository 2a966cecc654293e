"""The named preprocessors of ``--normalization``: 'spec', 'mean-removed', 'zca'."""

from sklearn.pipeline import Pipeline

from .normalize import PatchNormalizer
from .zca import ZCAWhitening

#: ``--normalization`` choices.
PREPROCESSORS = ("spec", "mean-removed", "zca")


def make_preprocessor(name, epsilon=0.1, channels=3, contrast=None):
    """An unfitted preprocessor by name.

    Parameters
    ----------
    name : {'spec', 'mean-removed', 'zca'}
        * ``'spec'``: ``PatchNormalizer()`` -- SPEC's normalisation, targets
          in ``[0.1, 0.9]`` for a sigmoid output layer.
        * ``'mean-removed'``: ``PatchNormalizer(remove_mean=True)`` -- each
          patch's own mean removed first (UFLDL), then the same mapping.
        * ``'zca'``: a :class:`~sklearn.pipeline.Pipeline` of
          ``PatchNormalizer(remove_mean=True)`` (steps ``'normalize'``) and
          ``ZCAWhitening(epsilon)`` (``'zca'``).  The first step removes the
          brightness of each patch and brings every dataset to the same
          ``[0.1, 0.9]`` scale, so ``epsilon`` means the same thing whatever
          the pixel range.  Whitened values are roughly zero-mean and
          unbounded, which a sigmoid output cannot reproduce: train with a
          linear decoder (``output_activation='identity'``, the
          ``'whitened'`` preset of :mod:`nnlite.patch_model`) and a stronger weight decay
          than SPEC's, which otherwise leaves the weights along the weak
          (amplified) directions undamped and the filters noisy: UFLDL's
          linear-decoder values ``lambda_=3e-3, sparsity_param=0.035,
          beta=5`` are that preset's.
    epsilon : float, default=0.1
        ZCA regulariser (``'zca'`` only).
    channels : int, default=3
    contrast : float or None, default=None
        Contrast normalisation of each patch (``'mean-removed'`` and
        ``'zca'``; see :class:`PatchNormalizer`); None: off.

    Returns
    -------
    transformer
    """
    if name == "spec":
        if contrast is not None:
            raise ValueError("contrast normalisation needs the 'mean-removed' or 'zca' normalization, "
                             "not 'spec'")
        return PatchNormalizer(remove_mean=False, channels=channels)
    if name == "mean-removed":
        return PatchNormalizer(remove_mean=True, channels=channels, contrast=contrast)
    if name == "zca":
        return Pipeline([("normalize", PatchNormalizer(remove_mean=True, channels=channels, contrast=contrast)),
                         ("zca", ZCAWhitening(epsilon=epsilon))])
    raise ValueError(f"unknown normalization {name!r}; choose one of {', '.join(PREPROCESSORS)}")
