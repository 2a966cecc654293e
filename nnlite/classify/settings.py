"""What a classification study compares: :class:`ClassificationSettings`.

One frozen dataclass holds every choice of :func:`nnlite.classify.run_classification`
that is not data: the classifiers and their parameters, the raw-pixel
baseline, the autoencoders to train (:class:`~nnlite.patch_model.PatchSettings`
each), how images become feature vectors (feature layers, strides,
pooling), the fold protocol, memory and precision, and the seed of the
classifiers.  :meth:`ClassificationSettings.validate` checks all of it, so a
bad choice fails before any data is read or any model trained.
"""

import dataclasses
from typing import Optional

import numpy as np

from ..patch_model import PatchSettings
from ..validation import check_int, is_integer
from ..encoders import ENCODERS
from .classifiers import CLASSIFIER_NAMES, DEFAULT_CLASSIFIERS, check_classifier_name

__all__ = ["ClassificationSettings", "FEATURE_LAYERS", "POOLINGS"]

#: Named feature layers of a deep encoder (an int picks a hidden layer, 1-based).
FEATURE_LAYERS = ("middle", "first", "concat")

#: Pooling of the codes over the patch grid ('none': every position concatenated).
POOLINGS = ("none", "sum", "mean", "max")


@dataclasses.dataclass(frozen=True)
class ClassificationSettings:
    """Every choice of a classification study (frozen; ``dataclasses.replace`` to vary).

    Attributes
    ----------
    classifiers : tuple of str
        Names from :data:`~nnlite.classify.CLASSIFIER_NAMES`, in table order.
    raw_pixels : bool
        Also classify the raw pixels (scaled to [0, 1]).
    architectures : tuple of PatchSettings
        Autoencoders to train on patches of the training images (or of
        ``patch_images``); empty to use only given models.  With one seed
        they all train on the same patches.
    feature_layers : tuple of {'middle', 'first', 'concat'} or int
        Which hidden layer(s) of a deep encoder give the features; every
        distinct choice is reported (one hidden layer has one choice).
    strides : tuple of int
        Patch strides to compare.
    pooling : {'none', 'sum', 'mean', 'max'}
    pool_grid : int
        Pool over ``pool_grid x pool_grid`` regions (``pooling != 'none'``).
    classifier_options : dict
        Classifier name -> parameter overrides (``{'logistic': {'C': 0.1}}``);
        a name not in ``CLASSIFIER_NAMES`` is an error.
    use_folds : bool
        Also fit once per predefined fold of the training set (STL-10),
        reporting mean and sd, where the training set has folds.
    memory_limit : int
        Bytes per chunk of feature extraction.
    feature_dtype : {'float32', 'float64'}
    random_state : int or None
        Seeds the classifiers (the autoencoders have their own seed).
    encoding : {'activation', 'soft-threshold', 'triangle'}
        The encoder at feature time (:mod:`nnlite.encoders`): the
        autoencoder's own activations, or a soft threshold / triangle
        encoding of its first layer's unit-norm weights.
    alpha : float or 'auto'
        The soft threshold ('auto': half the median response on the
        training images).
    select_C : bool
        Choose C of 'logistic', 'linear_svm' and 'l2svm' from a small grid
        on a stratified 20 % validation split of the training images
        (:class:`~nnlite.classify.tuning.ValidatedLinear`); the chosen C
        and the grid's scores are reported.
    mirror : bool
        Add the left-right mirror image of every training image to the
        classifiers' training set (features of both; the labels repeated).
        The test images are not touched, and the autoencoders still see
        the training images only.
    """

    classifiers: tuple = DEFAULT_CLASSIFIERS
    raw_pixels: bool = True
    architectures: tuple = (PatchSettings(),)
    feature_layers: tuple = ("middle",)
    strides: tuple = (4,)
    pooling: str = "none"
    pool_grid: int = 2
    classifier_options: dict = dataclasses.field(default_factory=dict)
    use_folds: bool = True
    memory_limit: int = 256 * 2**20
    feature_dtype: str = "float32"
    random_state: Optional[int] = 0
    encoding: str = "activation"
    alpha: object = "auto"
    select_C: bool = False
    mirror: bool = False

    def __post_init__(self):
        for name in ("classifiers", "architectures", "feature_layers", "strides"):
            value = getattr(self, name)
            if isinstance(value, (list, np.ndarray)):
                object.__setattr__(self, name, tuple(value.tolist() if isinstance(value, np.ndarray) else value))
        object.__setattr__(self, "classifier_options", dict(self.classifier_options or {}))

    def validate(self):
        """Check every field; return ``self`` or raise ``ValueError`` naming the field and value."""
        if isinstance(self.classifiers, str) or not isinstance(self.classifiers, tuple) or not self.classifiers:
            raise ValueError(f"classifiers must be a non-empty sequence of names, got {self.classifiers!r}")
        for name in self.classifiers:
            check_classifier_name(name)
        for name, params in self.classifier_options.items():
            if name not in CLASSIFIER_NAMES:
                raise ValueError(f"classifier_options names an unknown classifier {name!r}; "
                                 f"choose from {', '.join(CLASSIFIER_NAMES)}")
            if not isinstance(params, dict):
                raise ValueError(f"classifier_options[{name!r}] must be a dict of parameters, got {params!r}")
        if self.encoding not in ENCODERS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODERS)}, got {self.encoding!r}")
        if not (isinstance(self.alpha, str) and self.alpha == "auto"):
            if isinstance(self.alpha, (bool, np.bool_)) or not isinstance(self.alpha, (int, float)) \
                    or not self.alpha >= 0:
                raise ValueError(f"alpha must be 'auto' or a number >= 0, got {self.alpha!r}")
        for name in ("raw_pixels", "use_folds", "select_C", "mirror"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for settings in self.architectures:
            if not isinstance(settings, PatchSettings):
                raise ValueError(f"architectures must hold PatchSettings, got {settings!r}")
            settings.validate()
        if not self.feature_layers:
            raise ValueError("feature_layers must name at least one layer, got ()")
        for layer in self.feature_layers:
            if not (is_integer(layer) and layer >= 1) and layer not in FEATURE_LAYERS:
                raise ValueError(f"feature_layers must hold {', '.join(FEATURE_LAYERS)} or layer numbers "
                                 f">= 1, got {layer!r}")
        if not self.strides:
            raise ValueError("strides must hold at least one stride, got ()")
        for stride in self.strides:
            check_int(stride, "stride", minimum=1)
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        check_int(self.pool_grid, "pool_grid", minimum=1)
        check_int(self.memory_limit, "memory_limit", minimum=1)
        if self.feature_dtype not in ("float32", "float64"):
            raise ValueError(f"feature_dtype must be 'float32' or 'float64', got {self.feature_dtype!r}")
        if self.random_state is not None:
            check_int(self.random_state, "random_state")
        return self

    def to_dict(self):
        """JSON-ready: every field, architectures as :meth:`PatchSettings.to_dict`."""
        document = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        document.update(classifiers=list(self.classifiers), strides=list(self.strides),
                        feature_layers=list(self.feature_layers),
                        architectures=[settings.to_dict() for settings in self.architectures])
        return document
