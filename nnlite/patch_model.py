"""The patch pipeline in one place: images -> patches -> fitted preprocessor -> autoencoder -> file.

* :class:`PatchSettings` -- every choice of the pipeline, as one frozen,
  JSON-ready record.  :meth:`PatchSettings.from_options` is the *only*
  place where defaults depend on the normalisation: with ``'zca'`` the
  unspecified ``sparsity_param``, ``lambda_``, ``beta`` and
  ``output_activation`` come from the ``'whitened'`` preset (UFLDL's
  linear-decoder recipe), otherwise from ``'spec'`` (SPEC's recipe).
* :class:`PatchModel` -- fits the pipeline on images, encodes whole images
  through :class:`~nnlite.features.ConvolutionalFeatures`, and saves / loads
  everything in one model file (:mod:`nnlite.model_file`).

Examples
--------
>>> import numpy as np
>>> images = np.random.default_rng(0).integers(0, 256, size=(20, 16 * 16 * 3)).astype(np.uint8)
>>> model = PatchModel(hidden=(10,), patch_size=4, num_patches=300, max_iter=5).fit(images)
>>> model.encode(images, stride=4, pooling="sum").shape
(20, 40)
"""

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from . import model_file
from .data.patches import sample_patches_raw
from .data.shapes import resolve_image_shape
from .estimator import SparseAutoencoder
from .exceptions import ModelFileError
from .features import ConvolutionalFeatures
from .preprocessing import make_preprocessor
from .stacked import StackedAutoencoder, encoder_sizes
from .validation import (check_hidden_sizes, check_int, check_non_negative,
                         check_open_unit_interval)

__all__ = ["NORMALIZATIONS", "PRESETS", "PatchModel", "PatchSettings"]

#: Patch normalisations (see :func:`nnlite.preprocessing.make_preprocessor`).
NORMALIZATIONS = ("spec", "mean-removed", "zca")
HIDDEN_ACTIVATIONS = ("sigmoid", "relu")
OUTPUT_ACTIVATIONS = ("sigmoid", "identity", "relu")
OPTIMIZERS = ("lbfgs-b", "lbfgs")
DTYPES = ("float64", "float32")

#: Named recipes.  'spec': SPEC's normalisation, sigmoid decoder, rho 0.01, lambda 1e-4, beta 3.
#: 'whitened': mean removal + ZCA (epsilon 0.1), linear decoder and UFLDL's linear-decoder values
#: rho 0.035, lambda 3e-3, beta 5 (with SPEC's weight decay the whitening's amplified weak
#: directions stay undamped and the filters look like noise).
PRESETS = {
    "spec": {"normalization": "spec", "output_activation": "sigmoid", "sparsity_param": 0.01,
             "lambda_": 1e-4, "beta": 3.0},
    "whitened": {"normalization": "zca", "epsilon": 0.1, "output_activation": "identity",
                 "sparsity_param": 0.035, "lambda_": 3e-3, "beta": 5.0},
}
#: Fields whose default follows the normalisation (see :meth:`PatchSettings.from_options`).
NORMALIZATION_DEPENDENT = ("sparsity_param", "lambda_", "beta", "output_activation")
#: Fields for which an explicit None is a value (not "use the default").
NONE_IS_A_VALUE = ("finetune_iter", "backend", "random_state")


@dataclass(frozen=True)
class PatchSettings:
    """Every choice of the patch pipeline (frozen; JSON-ready through :meth:`to_dict`).

    Parameters
    ----------
    hidden : tuple of int, default=(75,)
        ``(75,)``: one hidden layer (:class:`~nnlite.estimator.SparseAutoencoder`);
        a symmetric odd-length tuple such as ``(200, 50, 200)``: a
        :class:`~nnlite.stacked.StackedAutoencoder`.  An int becomes a 1-tuple.
    patch_size : int, default=8
    num_patches : int, default=10000
    normalization : {'spec', 'mean-removed', 'zca'}, default='spec'
    epsilon : float, default=0.1
        ZCA regulariser (``'zca'`` only).
    sparsity_param, lambda_, beta : float
        ``rho``, weight decay, sparsity weight (SPEC's 0.01, 1e-4, 3).
    activation : {'sigmoid', 'relu'}, default='sigmoid'
    output_activation : {'sigmoid', 'identity', 'relu'}, default='sigmoid'
    max_iter : int, default=400
        L-BFGS iterations (per pretraining stage, and fine-tuning, when stacked).
    finetune_iter : int or None, default=None
        Stacked only: fine-tuning iterations; None: ``max_iter``; 0 keeps
        the pretrained stack.
    optimizer : {'lbfgs-b', 'lbfgs'}, default='lbfgs-b'
    dtype : {'float64', 'float32'}, default='float64'
    backend : str or None
        Training backend (None: numpy or ``$NNLITE_BACKEND``).
    random_state : int or None, default=0
        Seeds the patches and the initial weights (None: fresh entropy).
    verbose : int, default=0
        Progress lines every ``verbose`` iterations (0: quiet; ``True`` becomes 10).
    """

    hidden: tuple = (75,)
    patch_size: int = 8
    num_patches: int = 10000
    normalization: str = "spec"
    epsilon: float = 0.1
    sparsity_param: float = 0.01
    lambda_: float = 1e-4
    beta: float = 3.0
    activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    max_iter: int = 400
    finetune_iter: int = None
    optimizer: str = "lbfgs-b"
    dtype: str = "float64"
    backend: str = None
    random_state: int = 0
    verbose: int = 0

    def __post_init__(self):
        hidden = self.hidden
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (int(hidden),)
        elif isinstance(hidden, (list, tuple, np.ndarray)):
            hidden = tuple(int(v) if isinstance(v, np.integer) else v for v in hidden)
        object.__setattr__(self, "hidden", hidden)
        if isinstance(self.verbose, bool):
            object.__setattr__(self, "verbose", 10 if self.verbose else 0)

    # ------------------------------------------------------------ building
    @classmethod
    def fields(cls):
        """Names of the settings, in order."""
        return [item.name for item in dataclasses.fields(cls)]

    @classmethod
    def _check_names(cls, given):
        unknown = sorted(set(given) - set(cls.fields()))
        if unknown:
            raise TypeError(f"unknown patch settings {unknown}; known: {', '.join(cls.fields())}")

    @classmethod
    def from_options(cls, **given):
        """Settings from options where None or absent means "the default".

        The one place where defaults depend on the normalisation: with
        ``normalization='zca'`` the unspecified ``sparsity_param``,
        ``lambda_``, ``beta`` and ``output_activation`` take the
        ``'whitened'`` preset's values, otherwise SPEC's.  Explicit values
        always win.  ``finetune_iter``, ``backend`` and ``random_state``
        keep an explicit None (it is a value for them).

        Returns
        -------
        PatchSettings
            Not yet validated (call :meth:`validate`).
        """
        cls._check_names(given)
        chosen = {name: value for name, value in given.items()
                  if value is not None or name in NONE_IS_A_VALUE}
        normalization = chosen.get("normalization", cls.normalization)
        preset = PRESETS["whitened" if normalization == "zca" else "spec"]
        for name in NORMALIZATION_DEPENDENT:
            chosen.setdefault(name, preset[name])
        return cls(**chosen)

    @classmethod
    def preset(cls, name, **overrides):
        """The named recipe (``'spec'`` or ``'whitened'``) with ``overrides`` applied."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        cls._check_names(overrides)
        return cls(**dict(PRESETS[name], **overrides))

    def replace(self, **changes):
        """A copy with ``changes`` applied."""
        self._check_names(changes)
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------ checking
    def validate(self):
        """Check every field; return ``self``.

        Raises
        ------
        ValueError
            Naming the first bad field and its value.
        """
        sizes = check_hidden_sizes(list(self.hidden) if isinstance(self.hidden, tuple) else self.hidden,
                                   name="hidden")
        if len(sizes) > 1:
            encoder_sizes(sizes)
        check_int(self.patch_size, "patch_size", minimum=1)
        check_int(self.num_patches, "num_patches", minimum=1)
        for name, allowed in (("normalization", NORMALIZATIONS), ("activation", HIDDEN_ACTIVATIONS),
                              ("output_activation", OUTPUT_ACTIVATIONS), ("optimizer", OPTIMIZERS),
                              ("dtype", DTYPES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        check_non_negative(self.epsilon, "epsilon")
        check_open_unit_interval(self.sparsity_param, "sparsity_param")
        check_non_negative(self.lambda_, "lambda_")
        check_non_negative(self.beta, "beta")
        check_int(self.max_iter, "max_iter", minimum=1)
        if self.finetune_iter is not None:
            check_int(self.finetune_iter, "finetune_iter", minimum=0)
        if self.backend is not None and not isinstance(self.backend, str):
            raise ValueError(f"backend must be a name (str) or None, got {self.backend!r}")
        if self.random_state is not None:
            check_int(self.random_state, "random_state", minimum=0)
        check_int(self.verbose, "verbose", minimum=0)
        return self

    @property
    def stacked(self):
        """True for several hidden layers."""
        return len(self.hidden) > 1

    # ------------------------------------------------------------------ JSON
    def to_dict(self):
        """JSON-ready dict of every field (``hidden`` as a list)."""
        document = dataclasses.asdict(self)
        document["hidden"] = list(self.hidden)
        return document

    @classmethod
    def from_dict(cls, document):
        """Inverse of :meth:`to_dict` (unknown keys raise ``TypeError``)."""
        cls._check_names(document)
        return cls(**document)


def _label_layer(layer):
    return [] if layer in (None, "middle") else ["-".join(map(str, np.ravel(layer).tolist()))
                                                 if not isinstance(layer, str) else layer]


class PatchModel:
    """An autoencoder trained on image patches, with the preprocessing it was trained with.

    Parameters
    ----------
    settings : PatchSettings, optional
        Default: ``PatchSettings.from_options(**overrides)``.
    **overrides
        Fields of :class:`PatchSettings` replacing those of ``settings``.

    Attributes
    ----------
    settings : PatchSettings
    encoder_ : SparseAutoencoder or StackedAutoencoder
    preprocessor_ : fitted transformer
        Maps raw patch rows (``p * p * c`` pixel values) to the encoder's inputs.
    patch_shape_ : tuple of int
        ``(p, p, c)``.
    training_time_ : float
        Seconds spent in :meth:`fit` (sampling, preprocessing, training); 0.0 when loaded.
    summary_ : dict
        ``final_cost``, ``n_iter``, ``reconstruction_error`` (on the training
        patches), ``mean_hidden_activation`` (one per hidden layer),
        ``n_patches``, ``n_images``, ``image_shape``, ``interrupted``,
        ``training_time``.
    example_patches_ : ndarray of shape (<=100, p * p * c) or None
        Preprocessed training patches (None when loaded).
    data_ : dict or None
        Description of the training data given to :meth:`save` (or read by :meth:`load`).
    """

    def __init__(self, settings=None, **overrides):
        if settings is None:
            settings = PatchSettings.from_options(**overrides)
        elif not isinstance(settings, PatchSettings):
            raise TypeError(f"settings must be a PatchSettings or None, got {type(settings).__name__}")
        elif overrides:
            settings = settings.replace(**overrides)
        self.settings = settings.validate()
        self.data_ = None

    def __repr__(self):
        fitted = "fitted" if hasattr(self, "encoder_") else "unfitted"
        return f"PatchModel({self.settings!r}, {fitted})"

    # ------------------------------------------------------------------ fit
    def _make_encoder(self):
        s = self.settings
        common = dict(activation=s.activation, output_activation=s.output_activation,
                      sparsity_param=s.sparsity_param, lambda_=s.lambda_, beta=s.beta,
                      optimizer=s.optimizer, backend=s.backend, dtype=s.dtype,
                      random_state=s.random_state, verbose=s.verbose)
        if not s.stacked:
            return SparseAutoencoder(hidden_size=s.hidden[0], max_iter=s.max_iter, **common)
        finetune = s.max_iter if s.finetune_iter is None else s.finetune_iter
        return StackedAutoencoder(hidden_size=list(s.hidden), pretrain_iter=s.max_iter,
                                  finetune_iter=finetune, **common)

    def fit(self, images, image_shape=None, progress=None):
        """Sample patches of ``images``, fit the preprocessor and the autoencoder on them.

        Parameters
        ----------
        images : ndarray of shape (n_images, h * w * c) or MappedImages
            Training images only (never test images).
        image_shape : tuple of int, optional
            ``(h, w, c)``; None: square RGB images.
        progress : callable(str), optional
            Receives progress lines.

        Returns
        -------
        self
        """
        s = self.settings
        say = progress or (lambda text: None)
        start = time.perf_counter()
        if not hasattr(images, "shape") or len(images.shape) != 2:
            raise ValueError(f"images must be a 2-D array (n_images, h*w*c), "
                             f"got {getattr(images, 'shape', type(images).__name__)}")
        shape = resolve_image_shape(images.shape[1], image_shape)
        say(f"sampling {s.num_patches} patches of {s.patch_size}x{s.patch_size} from "
            f"{images.shape[0]} images of {shape[0]}x{shape[1]}x{shape[2]}")
        raw = sample_patches_raw(images, s.num_patches, s.patch_size, image_shape=shape,
                                 random_state=np.random.default_rng(s.random_state))
        preprocessor = make_preprocessor(s.normalization, epsilon=s.epsilon, channels=shape[2])
        patches = preprocessor.fit_transform(raw)
        encoder = self._make_encoder()
        sizes = [patches.shape[1], *s.hidden, patches.shape[1]]
        say(f"training {' -> '.join(map(str, sizes))} ({s.activation}, output {s.output_activation}) "
            f"for {s.max_iter} L-BFGS iterations")
        try:
            encoder.fit(patches)
        except ImportError as error:
            raise ValueError(f"backend {s.backend!r} is not available here ({error})") from None
        self.encoder_ = encoder
        self.preprocessor_ = preprocessor
        self.patch_shape_ = (s.patch_size, s.patch_size, shape[2])
        self.example_patches_ = np.array(patches[:100])
        codes = [encoder.encode(patches, layer=k) for k in range(1, len(s.hidden) + 1)]
        self.training_time_ = float(time.perf_counter() - start)
        self.summary_ = {
            "final_cost": float(encoder.cost_), "n_iter": int(encoder.n_iter_),
            "reconstruction_error": float(encoder.reconstruction_error(patches)),
            "mean_hidden_activation": [float(code.mean()) for code in codes],
            "n_patches": int(patches.shape[0]), "n_images": int(images.shape[0]),
            "image_shape": [int(v) for v in shape], "interrupted": bool(encoder.interrupted_),
            "training_time": self.training_time_}
        return self

    def _check_fitted(self):
        if not hasattr(self, "encoder_"):
            raise ValueError("this PatchModel is not fitted; call fit or PatchModel.load first")

    # ------------------------------------------------------------- describing
    @property
    def network(self):
        """The encoder's trained :class:`~nnlite.network.Network`."""
        self._check_fitted()
        return self.encoder_.network_

    @property
    def hidden(self):
        """Hidden layer sizes, e.g. ``[75]`` or ``[200, 50, 200]``."""
        return list(self.network.sizes[1:-1])

    @property
    def name(self):
        """Short label, e.g. ``'ae 75'`` or ``'ae 200-50-200'``."""
        return "ae " + "-".join(str(size) for size in self.hidden)

    def feature_name(self, layer, stride, pooling, pool_grid):
        """Label of one feature set, e.g. ``'ae 75 s4'``, ``'ae 200-50-200 first s2 sum2x2'``."""
        parts = [self.name, *_label_layer(layer), f"s{stride}"]
        if pooling != "none":
            parts.append(f"{pooling}{pool_grid}x{pool_grid}")
        return " ".join(parts)

    def describe(self):
        """JSON-ready summary: name, sizes, activations, settings, training record (and data, if known)."""
        encoder = self.encoder_ if hasattr(self, "encoder_") else None
        self._check_fitted()
        document = {"name": self.name, "hidden": self.hidden, "patch_shape": list(self.patch_shape_),
                    "class": type(encoder).__name__, "activations": self.network.activation_names,
                    "settings": self.settings.to_dict(), "n_iter": int(encoder.n_iter_),
                    "cost": float(encoder.cost_), "summary": dict(self.summary_),
                    "training_time": float(self.summary_.get("training_time", 0.0))}
        for key in ("pretraining_time_", "finetuning_time_"):
            if hasattr(encoder, key):
                document[key.rstrip("_")] = float(getattr(encoder, key))
        if self.data_ is not None:
            document["data"] = self.data_
        return document

    # ------------------------------------------------------------- encoding
    def features(self, stride=4, pooling="none", pool_grid=2, layer=None, memory_limit=256 * 2**20,
                 dtype="float32", image_shape=None):
        """A configured (unfitted) :class:`~nnlite.features.ConvolutionalFeatures` for whole images.

        Parameters
        ----------
        stride : int
        pooling : {'none', 'sum', 'mean', 'max'}
        pool_grid : int
        layer : None, int, {'first', 'middle', 'concat'} or list of int
        memory_limit : int or None
        dtype : {'float32', 'float64'}
        image_shape : tuple of int, optional

        Returns
        -------
        ConvolutionalFeatures
        """
        self._check_fitted()
        return ConvolutionalFeatures(self.encoder_, patch_size=self.patch_shape_[0], stride=stride,
                                     pooling=pooling, pool_grid=pool_grid, layer=layer,
                                     preprocessor=self.preprocessor_, memory_limit=memory_limit,
                                     image_shape=image_shape, dtype=dtype)

    def encode(self, images, **options):
        """Feature vectors of whole images, shape ``(n_images, n_features)`` (options as :meth:`features`)."""
        return self.features(**options).fit_transform(images)

    def pixel_filters(self):
        """Rows of ``W1`` in pixel space, shape ``(hidden[0], p * p * c)``.

        With ZCA whitening each filter is mapped back through the whitening
        matrix (UFLDL's ``W * ZCAWhite``): the filter the encoder applies to
        the mean-removed patch.
        """
        self._check_fitted()
        filters = self.encoder_.components_
        for _, step in getattr(self.preprocessor_, "steps", []):
            if hasattr(step, "whitening_"):
                filters = filters @ step.whitening_
        return filters

    # ------------------------------------------------------------ persistence
    def save(self, path, data=None):
        """Write the model file (see :mod:`nnlite.model_file`).

        Parameters
        ----------
        path : str or os.PathLike
        data : dict, optional
            JSON-ready description of the training data.

        Returns
        -------
        str
            The path written.
        """
        self._check_fitted()
        if data is not None:
            self.data_ = dict(data)
        return model_file.write(path, self.encoder_, preprocessor=self.preprocessor_,
                                patch_shape=self.patch_shape_, settings=self.settings.to_dict(),
                                summary=self.summary_, data=self.data_)

    @classmethod
    def load(cls, path, backend=None, dtype=None):
        """Read a patch model file (format 2, or format 1 from ``nnlite train`` / ``FeatureModel.save``).

        Parameters
        ----------
        path : str or os.PathLike
        backend : str, optional
            Where the encoder runs (default: numpy or ``$NNLITE_BACKEND``),
            whatever it was trained on.
        dtype : {'float64', 'float32'}, optional

        Returns
        -------
        PatchModel

        Raises
        ------
        ModelFileError
            Damaged file, or a file of a bare estimator (no patch shape).
        """
        contents = model_file.read(path, backend=backend, dtype=dtype)
        if contents.patch_shape is None:
            raise ModelFileError(f"{path!r} holds a bare {type(contents.estimator).__name__} without a "
                                 f"patch shape; load it with nnlite.load_model")
        try:
            settings = (PatchSettings.from_dict(contents.settings) if contents.settings
                        else _settings_from_estimator(contents))
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"{path!r} has invalid settings ({error})") from None
        model = cls(settings)
        encoder = contents.estimator
        model.encoder_, model.preprocessor_ = encoder, contents.preprocessor
        model.patch_shape_ = contents.patch_shape
        model.training_time_ = 0.0
        model.summary_ = contents.summary or {
            "final_cost": float(encoder.cost_), "n_iter": int(encoder.n_iter_),
            "interrupted": bool(encoder.interrupted_), "training_time": float(encoder.training_time_)}
        model.example_patches_ = None
        model.data_ = contents.data
        return model


def _settings_from_estimator(contents):
    """Settings of a format-1 file, rebuilt from its estimator and data description."""
    params = contents.estimator.get_params(deep=False)
    described = dict(contents.extra.get("feature_model", {}), **(contents.data or {}))
    stacked = isinstance(contents.estimator, StackedAutoencoder)
    epsilon = [step.epsilon for _, step in getattr(contents.preprocessor, "steps", [])
               if hasattr(step, "epsilon")]

    def first(value):
        return value[0] if isinstance(value, (list, tuple)) else value

    return PatchSettings(
        hidden=tuple(contents.estimator.network_.sizes[1:-1]), patch_size=contents.patch_shape[0],
        num_patches=int(described.get("patches", described.get("num_patches", 10000))),
        normalization=described.get("normalization", "spec"),
        epsilon=float(epsilon[0]) if epsilon else 0.1,
        sparsity_param=first(params["sparsity_param"]), lambda_=first(params["lambda_"]),
        beta=first(params["beta"]), activation=first(params["activation"]),
        output_activation=params["output_activation"],
        max_iter=int(first(params["pretrain_iter"] if stacked else params["max_iter"])),
        finetune_iter=params.get("finetune_iter") if stacked else None,
        optimizer=params.get("optimizer", "lbfgs-b"), dtype=params.get("dtype", "float64"),
        backend=None, random_state=params.get("random_state"), verbose=0)
