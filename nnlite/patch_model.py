"""The patch pipeline in one place: images -> patches -> fitted preprocessor -> autoencoder -> file.

* :class:`PatchSettings` (defined in :mod:`nnlite.patch_settings`, with
  :data:`PRESETS` and :data:`NORMALIZATIONS`) -- every choice of the
  pipeline, as one frozen, JSON-ready record;
  :meth:`PatchSettings.from_options` is the *only* place where defaults
  depend on the normalisation.
* :class:`PatchModel` -- fits the pipeline on images, encodes whole images
  through :class:`~nnlite.features.ConvolutionalFeatures`, and saves / loads
  everything in one model file (:mod:`nnlite.model_file`).

This file is over 400 lines on purpose: :class:`PatchModel` is one object
whose methods are the pipeline's steps (fit, memory check, features, filters,
save, load), and most of its length is their docstrings; splitting it would
scatter the one home the module exists to be.

Examples
--------
>>> import numpy as np
>>> images = np.random.default_rng(0).integers(0, 256, size=(20, 16 * 16 * 3)).astype(np.uint8)
>>> model = PatchModel(hidden=(10,), patch_size=4, num_patches=300, max_iter=5).fit(images)
>>> model.encode(images, stride=4, pooling="sum").shape
(20, 40)
"""

import time

import numpy as np

from . import model_file
from .data.patches import sample_patches_raw
from .data.shapes import resolve_image_shape
from .distributed import DistributedFeatures, active_client
from .estimator import SparseAutoencoder
from .exceptions import ModelFileError
from .features import ConvolutionalFeatures
from .memory import check_allocation
from .patch_settings import NORMALIZATIONS, PRESETS, PatchSettings
from .preprocessing import make_preprocessor
from .stacked import StackedAutoencoder

__all__ = ["NORMALIZATIONS", "PRESETS", "PatchModel", "PatchSettings"]

#: The settings a model given as ``pretrained`` to :meth:`PatchModel.fit` may differ in.
FINETUNE_FIELDS = ("finetune_iter", "finetune_sparsity_param", "finetune_lambda_", "finetune_beta",
                   "finetune_decoder_penalty")


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
                                  finetune_iter=finetune, finetune_sparsity_param=_listed(s.finetune_sparsity_param),
                                  finetune_lambda_=_listed(s.finetune_lambda_), finetune_beta=_listed(s.finetune_beta),
                                  finetune_decoder_penalty=s.finetune_decoder_penalty, **common)

    def _check_pretrained(self, pretrained):
        """``pretrained``'s stacked encoder, when its settings differ from these in fine-tuning only."""
        if not isinstance(pretrained, PatchModel):
            raise TypeError(f"pretrained must be a fitted PatchModel, got {type(pretrained).__name__}")
        pretrained._check_fitted()
        finetuning = {name: None for name in FINETUNE_FIELDS}
        if not self.settings.stacked or (self.settings.replace(**finetuning)
                                         != pretrained.settings.replace(**finetuning)):
            raise ValueError(f"pretrained must be a stacked model whose settings differ from these in "
                             f"fine-tuning only ({', '.join(FINETUNE_FIELDS)}); got {pretrained.settings!r} "
                             f"for {self.settings!r}")
        return pretrained.encoder_

    def fit(self, images, image_shape=None, progress=None, pretrained=None, client=None):
        """Sample patches of ``images``, fit the preprocessor and the autoencoder on them.

        Parameters
        ----------
        images : ndarray of shape (n_images, h * w * c) or MappedImages
            Training images only (never test images).
        image_shape : tuple of int, optional
            ``(h, w, c)``; None: square RGB images.
        progress : callable(str), optional
            Receives progress lines.
        pretrained : PatchModel, optional
            Stacked models only: a model fitted in this session on the same
            ``images`` with settings that differ in fine-tuning only; its
            greedy stages are fine-tuned instead of pretraining again (see
            :meth:`StackedAutoencoder.fit <nnlite.stacked.StackedAutoencoder.fit>`).
        client : distributed.Client, optional
            Train on this Dask cluster (:mod:`nnlite.distributed`); default:
            the client of an enclosing ``nnlite.distributed.use_client``
            block, else one process.  Stacked models pretrain every stage
            and fine-tune there too.

        Returns
        -------
        self
        """
        s = self.settings
        reused = None if pretrained is None else self._check_pretrained(pretrained)
        say = progress or (lambda text: None)
        start = time.perf_counter()
        if not hasattr(images, "shape") or len(images.shape) != 2:
            raise ValueError(f"images must be a 2-D array (n_images, h*w*c), "
                             f"got {getattr(images, 'shape', type(images).__name__)}")
        shape = resolve_image_shape(images.shape[1], image_shape)
        self.check_memory(shape[2])
        say(f"sampling {s.num_patches} patches of {s.patch_size}x{s.patch_size} from "
            f"{images.shape[0]} images of {shape[0]}x{shape[1]}x{shape[2]}")
        raw = self._sample(images, shape)
        preprocessor = make_preprocessor(s.normalization, epsilon=s.epsilon, channels=shape[2],
                                         contrast=s.contrast)
        patches = preprocessor.fit_transform(raw)
        encoder = self._make_encoder()
        client = client if client is not None else active_client()
        if client is not None:
            encoder.set_params(client=client)
            say(f"training on the Dask cluster at {client.scheduler.address}")
        sizes = [patches.shape[1], *s.hidden, patches.shape[1]]
        say(f"training {' -> '.join(map(str, sizes))} ({s.activation}, output {s.output_activation}) "
            f"for {s.max_iter} L-BFGS iterations")
        try:
            encoder.fit(patches) if reused is None else encoder.fit(patches, pretrained=reused)
        except ImportError as error:
            raise ValueError(f"backend {s.backend!r} is not available here ({error})") from None
        if client is not None:
            encoder.set_params(client=None)  # the fitted model does not keep the connection
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

    def check_memory(self, channels=3, available=None):
        """Raise before any work when the patches or the network would not fit in memory.

        Counts the raw and the normalised patches (float64) and the
        network's parameters and gradient; the optimiser's history and the
        activations come on top, so passing is necessary, not sufficient.

        Parameters
        ----------
        channels : int, default=3
            Colour channels of the images.
        available : int, optional
            Bytes available (default: :func:`nnlite.memory.available_memory`).

        Raises
        ------
        InsufficientMemoryError
            A ``ValueError`` naming the setting and the bytes it needs.
        """
        s = self.settings
        n_inputs = s.patch_size * s.patch_size * int(channels)
        check_allocation(2 * int(s.num_patches) * n_inputs * 8,
                         f"{s.num_patches} patches of {s.patch_size}x{s.patch_size}x{channels} values "
                         f"(raw and normalised)", dtype="float64", advice="ask for fewer patches",
                         available=available)
        sizes = [n_inputs, *s.hidden, n_inputs]
        n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        check_allocation(2 * n_params * 8, f"a network of sizes {' -> '.join(map(str, sizes))} "
                         f"({n_params} parameters and their gradient)", dtype="float64",
                         advice="choose smaller hidden layers", available=available)

    def _sample(self, images, shape):
        """The raw patches :meth:`fit` trains on (the same ones for the same ``random_state``)."""
        s = self.settings
        return sample_patches_raw(images, s.num_patches, s.patch_size, image_shape=shape,
                                  random_state=np.random.default_rng(s.random_state))

    def training_patches(self, images, image_shape=None):
        """The preprocessed patches :meth:`fit` trained on, drawn again from the same ``images``.

        Parameters
        ----------
        images : ndarray of shape (n_images, h * w * c) or MappedImages
            The images given to :meth:`fit`.
        image_shape : tuple of int, optional

        Returns
        -------
        ndarray of shape (num_patches, p * p * c)
            Identical to the training patches when ``random_state`` is an int.
        """
        self._check_fitted()
        raw = self._sample(images, resolve_image_shape(images.shape[1], image_shape))
        return self.preprocessor_.transform(raw)

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

    def feature_name(self, layer, stride, pooling, pool_grid, encoding="activation"):
        """Label of one feature set, e.g. ``'ae 75 s4'``, ``'ae 200-50-200 first s2 sum2x2'``, ``'ae 800 soft s1'``."""
        parts = [self.name, *_label_layer(layer), *([] if encoding == "activation" else [encoding]), f"s{stride}"]
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
                 dtype="float32", image_shape=None, encoding="activation", alpha="auto", progress=None,
                 client=None):
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
        encoding : {'activation', 'soft-threshold', 'triangle'}
            The encoder at feature time (:mod:`nnlite.encoders`).
        alpha : float or 'auto'
            The soft threshold ('auto': half the median response).
        progress : callable(str), optional
            Receives progress lines of long extractions.
        client : distributed.Client, optional
            Encode on this Dask cluster; default: the client of an enclosing
            ``nnlite.distributed.use_client`` block, else one process.

        Returns
        -------
        ConvolutionalFeatures
            A :class:`~nnlite.distributed.DistributedFeatures` (the same
            features, computed on the cluster) when there is a client.
        """
        self._check_fitted()
        client = client if client is not None else active_client()
        kind = ConvolutionalFeatures if client is None else DistributedFeatures
        extractor = kind(self.encoder_, patch_size=self.patch_shape_[0], stride=stride,
                         pooling=pooling, pool_grid=pool_grid, layer=layer,
                         preprocessor=self.preprocessor_, memory_limit=memory_limit,
                         image_shape=image_shape, dtype=dtype, encoding=encoding, alpha=alpha,
                         progress=progress)
        if client is not None:
            extractor.client = client
        return extractor

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
    def from_parts(cls, settings, encoder, preprocessor, patch_shape, summary):
        """A fitted model from a trained encoder and the preprocessor it was trained behind.

        E.g. the first greedy stage of a stack (``encoder_.stage_models()[0]``)
        as a one-layer model with the stack's preprocessor.

        Parameters
        ----------
        settings : PatchSettings
            Describing ``encoder`` (validated).
        encoder : SparseAutoencoder or StackedAutoencoder
            Fitted, on inputs of ``preprocessor``'s output width.
        preprocessor : fitted transformer
        patch_shape : tuple (p, p, c)
        summary : dict
            As :attr:`summary_` (``final_cost``, ``n_iter``, ...).

        Returns
        -------
        PatchModel
        """
        model = cls(settings)
        if list(encoder.network_.sizes[1:-1]) != list(model.settings.hidden):
            raise ValueError(f"the encoder has hidden sizes {encoder.network_.sizes[1:-1]}, the settings "
                             f"say {list(model.settings.hidden)}")
        model.encoder_, model.preprocessor_, model.patch_shape_ = encoder, preprocessor, tuple(patch_shape)
        model.summary_ = dict(summary)
        model.training_time_ = float(summary.get("training_time", 0.0))
        model.example_patches_ = None
        return model

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


def _listed(value):
    """A per-layer setting as the estimator takes it (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


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
