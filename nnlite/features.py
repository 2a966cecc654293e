"""Features of whole images from a trained encoder applied on a regular grid.

:class:`ConvolutionalFeatures` is a scikit-learn transformer that turns each
image (a row in SPEC's layout) into one feature vector:

1. every ``p x p`` patch on a grid of the given stride is cut out
   (:func:`nnlite.data.strided.grid_patches`; all positions of a chunk of
   images become the rows of one ``(chunk * P, p * p * c)`` matrix);
2. the patches go through the *fitted* preprocessor the encoder was trained
   with (:class:`~nnlite.preprocessing.PatchNormalizer` or
   :class:`~nnlite.preprocessing.ZCAWhitening`; statistics of the training
   patches, never of the image being encoded).  SPEC's normalisation maps
   each pixel on its own, so it is applied to the images before cutting
   (the same numbers, computed once per pixel instead of once per
   overlapping patch);
3. one forward pass of the encoder, on its backend, gives the activations
   of the chosen hidden layer(s) for every position;
4. the codes are either concatenated over all positions (``pooling='none'``,
   the assignment's mode) or summed / averaged / maxed over the cells of a
   ``k x k`` partition of the position grid (Coates, Lee & Ng 2011 use the
   four quadrants, ``k = 2``).

Images are processed in chunks whose size follows from ``memory_limit``; the
result does not depend on the chunking.

:class:`FeatureModel` keeps an encoder together with its fitted patch
preprocessor (saved in one model file, the format ``nnlite train`` writes);
:func:`train_feature_model` makes one from training images.
"""

import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .data.patches import sample_patches_raw
from .data.strided import grid_patches, grid_shape, resolve_image_shape
from .estimator import SparseAutoencoder, load_model
from .layers.dense import Dense
from .network import Network
from .preprocessing import (PatchNormalizer, default_output_activation, load_preprocessor,
                            make_preprocessor, preprocessor_state)
from .stacked import StackedAutoencoder
from .validation import check_hidden_sizes, check_random_state

POOLING_MODES = ("none", "sum", "mean", "max")
LAYER_NAMES = ("first", "middle", "concat")


def resolve_layers(layer, n_hidden):
    """Hidden layer numbers (1 = first hidden) that provide the features.

    Parameters
    ----------
    layer : None, int, {'first', 'middle', 'concat'} or sequence of int
        None and ``'middle'``: the code layer ``(n_hidden + 1) // 2``;
        ``'first'``: layer 1; ``'concat'``: every encoder layer from the
        first to the middle one, concatenated; a sequence: those layers.
    n_hidden : int
        Number of hidden layers of the autoencoder.

    Returns
    -------
    list of int
        Sorted, distinct layer numbers in ``[1, n_hidden]``.
    """
    middle = (n_hidden + 1) // 2
    if layer is None or (isinstance(layer, str) and layer == "middle"):
        return [middle]
    if isinstance(layer, str):
        if layer == "first":
            return [1]
        if layer == "concat":
            return list(range(1, middle + 1))
        raise ValueError(f"layer must be an int, a list of ints or one of {LAYER_NAMES}, got {layer!r}")
    numbers_ = [layer] if isinstance(layer, numbers.Integral) else list(np.ravel(layer).tolist())
    if not numbers_ or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                           or not 1 <= v <= n_hidden for v in numbers_):
        raise ValueError(f"layer must name hidden layers in [1, {n_hidden}], got {layer!r}")
    return sorted(set(int(v) for v in numbers_))


def pool_codes(codes, pooling, pool_grid):
    """Pool per-position codes over a ``k x k`` partition of the position grid.

    Parameters
    ----------
    codes : ndarray of shape (n_images, n_rows, n_cols, n_units)
    pooling : {'none', 'sum', 'mean', 'max'}
        ``'none'`` returns every position's code.
    pool_grid : int
        ``k``: cell ``(i, j)`` covers position rows ``[i*n_rows//k,
        (i+1)*n_rows//k)`` and the same for columns.

    Returns
    -------
    ndarray of shape (n_images, n_rows * n_cols * n_units) for 'none', else
    (n_images, k * k * n_units)
        Ordered cell (or position) row-major, then unit.
    """
    n_images, n_rows, n_cols, n_units = codes.shape
    if pooling == "none":
        return codes.reshape(n_images, -1)
    rows = np.arange(pool_grid) * n_rows // pool_grid
    cols = np.arange(pool_grid) * n_cols // pool_grid
    reducer = np.maximum if pooling == "max" else np.add
    pooled = reducer.reduceat(reducer.reduceat(codes, rows, axis=1), cols, axis=2)
    if pooling == "mean":
        counts = np.outer(np.diff(np.append(rows, n_rows)), np.diff(np.append(cols, n_cols)))
        pooled = pooled / counts[None, :, :, None]
    return pooled.reshape(n_images, -1)


def _encoder_copy(network, n_layers, backend, dtype):
    """A new :class:`Network` holding copies of the first ``n_layers`` layers."""
    layers = [Dense(layer.n_in, layer.n_out, layer.activation) for layer in network.layers[:n_layers]]
    copy = Network(layers, backend=backend if backend is not None else network.backend,
                   dtype=dtype if dtype is not None else network.dtype.name)
    for source, target in zip(network.layers, copy.layers):
        target.W = source.W
        target.b = source.b
    return copy


class ConvolutionalFeatures(TransformerMixin, BaseEstimator):
    """Image features: a trained encoder on a grid of patches, optionally pooled.

    Parameters
    ----------
    encoder : SparseAutoencoder, StackedAutoencoder or Network
        A fitted autoencoder (its ``network_`` is used) or a network whose
        layers are the autoencoder's.
    patch_size : int, default=8
        Side ``p``; ``p * p * c`` must equal the encoder's input width.
    stride : int, default=4
        Pixels between neighbouring patch positions.
    pooling : {'none', 'sum', 'mean', 'max'}, default='none'
        ``'none'``: codes of all positions concatenated; otherwise pooled
        over ``pool_grid x pool_grid`` cells of the position grid.
    pool_grid : int, default=2
        ``k`` (2 = quadrants); ignored for ``'none'``.
    layer : None, int, {'first', 'middle', 'concat'} or list of int
        Which hidden layer's activations are the codes (see
        :func:`resolve_layers`); default: the middle one.
    preprocessor : fitted transformer, optional
        Applied to the raw patches (rows of ``p * p * c`` values) before
        encoding: the ``PatchNormalizer`` / ``ZCAWhitening`` fitted on the
        encoder's training patches.  Without one, patches enter as floats
        of the image's values.
    memory_limit : int or None, default=268435456
        Approximate bytes of working memory per chunk of images (256 MiB);
        None encodes all images at once.
    image_shape : tuple of int, optional
        ``(h, w, c)``; None: square RGB inferred at :meth:`fit`.
    backend : str or ArrayBackend, optional
        Where the encoder runs; default: the encoder's own backend.
    dtype : {'float64', 'float32'}, optional
        Precision of the encoding and of the features; default: the
        encoder's.  ``'float32'`` halves the memory of large feature
        matrices.

    Attributes
    ----------
    image_shape_ : tuple of int
        Shape of the images seen at :meth:`fit`.
    grid_ : tuple of int
        Patch positions ``(n_rows, n_cols)`` per image.
    layers_ : list of int
        Hidden layers providing the codes.
    n_units_ : int
        Code width per position (summed over ``layers_``).
    n_features_out_ : int
        Length of each image's feature vector.
    chunk_size_ : int or None
        Images per chunk (None: all at once).
    network_ : Network
        The encoder layers in use (a copy, on the chosen backend).

    Examples
    --------
    >>> import numpy as np
    >>> from nnlite import SparseAutoencoder
    >>> rng = np.random.default_rng(0)
    >>> encoder = SparseAutoencoder(hidden_size=5, max_iter=5, random_state=0)
    >>> encoder = encoder.fit(rng.uniform(0.1, 0.9, size=(100, 48)))
    >>> images = rng.integers(0, 256, size=(3, 16 * 16 * 3)).astype(np.uint8)
    >>> extractor = ConvolutionalFeatures(encoder, patch_size=4, stride=4, pooling='mean')
    >>> extractor.fit_transform(images / 255.0).shape
    (3, 20)
    """

    def __init__(self, encoder, patch_size=8, stride=4, pooling="none", pool_grid=2, layer=None,
                 preprocessor=None, memory_limit=256 * 2**20, image_shape=None, backend=None, dtype=None):
        self.encoder = encoder
        self.patch_size = patch_size
        self.stride = stride
        self.pooling = pooling
        self.pool_grid = pool_grid
        self.layer = layer
        self.preprocessor = preprocessor
        self.memory_limit = memory_limit
        self.image_shape = image_shape
        self.backend = backend
        self.dtype = dtype

    # ------------------------------------------------------------------ fit
    def _source_network(self):
        network = self.encoder if isinstance(self.encoder, Network) else getattr(self.encoder, "network_", None)
        if network is None:
            if hasattr(self.encoder, "fit"):
                raise ValueError(f"the encoder {type(self.encoder).__name__} is not fitted; call fit first")
            raise TypeError(f"encoder must be a fitted autoencoder or a Network, got {type(self.encoder).__name__}")
        return network

    def fit(self, X, y=None):
        """Check the settings against the encoder and the images' shape.

        Parameters
        ----------
        X : ndarray of shape (n_images, h * w * c)
            Only its row length (with ``image_shape``) is used.
        y : ignored

        Returns
        -------
        self
        """
        network = self._source_network()
        if not hasattr(X, "shape") or len(X.shape) != 2:
            raise ValueError(f"X must be a 2-D array (n_images, h*w*c), got {getattr(X, 'shape', type(X).__name__)}")
        if self.pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}, got {self.pooling!r}")
        shape = resolve_image_shape(X.shape[1], self.image_shape)
        grid = grid_shape(shape, self.patch_size, self.stride)
        patch_width = self.patch_size * self.patch_size * shape[2]
        if patch_width != network.sizes[0]:
            raise ValueError(
                f"patch_size {self.patch_size} gives {self.patch_size}x{self.patch_size}x{shape[2]} = "
                f"{patch_width} values per patch but the encoder takes {network.sizes[0]} inputs")
        if self.pooling != "none":
            k = self.pool_grid
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= min(grid):
                raise ValueError(f"pool_grid must be an integer in [1, {min(grid)}] for a {grid[0]}x{grid[1]} "
                                 f"grid of positions, got {k!r}")
        if self.memory_limit is not None and (isinstance(self.memory_limit, bool)
                                              or not isinstance(self.memory_limit, numbers.Real)
                                              or self.memory_limit <= 0):
            raise ValueError(f"memory_limit must be a positive number of bytes or None, got {self.memory_limit!r}")
        if self.preprocessor is not None:
            check_is_fitted(self.preprocessor)
        self.layers_ = resolve_layers(self.layer, len(network.layers) - 1)
        self.network_ = _encoder_copy(network, max(self.layers_), self.backend, self.dtype)
        self.image_shape_ = shape
        self.grid_ = grid
        self.n_features_in_ = int(X.shape[1])
        self.n_units_ = int(sum(network.sizes[k] for k in self.layers_))
        cells = grid[0] * grid[1] if self.pooling == "none" else self.pool_grid ** 2
        self.n_features_out_ = cells * self.n_units_
        self.chunk_size_ = self._chunk_size(patch_width)
        return self

    def _chunk_size(self, patch_width):
        """Images per chunk so that the working arrays stay under ``memory_limit``."""
        if self.memory_limit is None:
            return None
        positions = self.grid_[0] * self.grid_[1]
        itemsize = 8  # preprocessors work in float64 whatever the encoder's dtype
        computed_units = sum(self.network_.sizes[1:])
        # raw patches (<= 8 bytes), preprocessed copy + temporary, every computed layer twice
        # (activations and host copy), the pooled features.
        per_image = (positions * (patch_width * 3 + 2 * computed_units) + self.n_features_out_) * itemsize
        return max(1, int(self.memory_limit // per_image))

    # ------------------------------------------------------------ transform
    def _codes(self, patches):
        """Activations of ``layers_`` for the rows of ``patches``: (n_patches, n_units_)."""
        if len(self.layers_) == 1:
            return self.network_.forward(patches, stop=self.layers_[0])
        parts, block = [], patches
        for number in range(1, self.layers_[-1] + 1):
            block = self.network_.forward(block, start=number - 1, stop=number)
            if number in self.layers_:
                parts.append(block)
        return np.concatenate(parts, axis=1)

    def _pixelwise_preprocessor(self):
        """True when the preprocessor maps every pixel on its own (SPEC's normalisation).

        Its result on a patch is then the patch of its result on the image,
        so it runs once per image instead of once per overlapping patch.
        """
        return isinstance(self.preprocessor, PatchNormalizer) and not self.preprocessor.remove_mean

    def _encode_chunk(self, images):
        if self.preprocessor is not None and self._pixelwise_preprocessor():
            images = self.preprocessor.transform(images)
        patches, (n_rows, n_cols) = grid_patches(images, self.patch_size, self.stride, self.image_shape_)
        if self.preprocessor is not None and not self._pixelwise_preprocessor():
            patches = self.preprocessor.transform(patches)
        codes = self._codes(patches).reshape(images.shape[0], n_rows, n_cols, self.n_units_)
        return pool_codes(codes, self.pooling, self.pool_grid)

    def transform(self, X):
        """Feature vectors of the images in ``X``.

        Parameters
        ----------
        X : ndarray of shape (n_images, h * w * c)
            Images of the shape seen at :meth:`fit` (any numeric dtype;
            memory-mapped arrays are read chunk by chunk).

        Returns
        -------
        ndarray of shape (n_images, n_features_out_)
            In the encoder's dtype.
        """
        check_is_fitted(self, "network_")
        if not hasattr(X, "shape") or len(X.shape) != 2:
            raise ValueError(f"X must be a 2-D array (n_images, h*w*c), got {getattr(X, 'shape', type(X).__name__)}")
        if X.shape[1] != self.n_features_in_:
            h, w, c = self.image_shape_
            raise ValueError(f"images have {X.shape[1]} values per row but the extractor was fitted on "
                             f"{h}x{w}x{c} images ({self.n_features_in_} values)")
        features = np.empty((X.shape[0], self.n_features_out_), dtype=self.network_.dtype)
        chunk = self.chunk_size_ or max(1, X.shape[0])
        for begin in range(0, X.shape[0], chunk):
            features[begin:begin + chunk] = self._encode_chunk(X[begin:begin + chunk])
        return features


# ------------------------------------------------------------ feature models
class FeatureModel:
    """A trained encoder together with the patch preprocessing it was trained with.

    Parameters
    ----------
    encoder : SparseAutoencoder or StackedAutoencoder
        Fitted.
    preprocessor : fitted transformer or None
        Maps raw patches (rows of ``p * p * c`` pixel values) to the
        encoder's input scale.
    patch_size : int
    info : dict, optional
        How it was trained (normalisation, patches, iterations...).

    Attributes
    ----------
    network : Network
    hidden : list of int
        Hidden layer sizes.
    training_time : float
        Seconds spent on sampling, preprocessing and training (0 when loaded).
    """

    def __init__(self, encoder, preprocessor, patch_size, info=None):
        self.encoder = encoder
        self.preprocessor = preprocessor
        self.patch_size = int(patch_size)
        self.info = dict(info or {})
        self.training_time = float(self.info.get("training_time", 0.0))

    def __repr__(self):
        return f"FeatureModel(hidden={self.hidden}, patch_size={self.patch_size}, info={self.info!r})"

    @property
    def network(self):
        """The encoder's trained network."""
        return self.encoder.network_

    @property
    def hidden(self):
        """Hidden layer sizes, e.g. ``[75]`` or ``[200, 50, 200]``."""
        return list(self.network.sizes[1:-1])

    @property
    def name(self):
        """Short label, e.g. ``'ae 75'`` or ``'ae 200-50-200'``."""
        return "ae " + "-".join(str(size) for size in self.hidden)

    def feature_name(self, layer, stride, pooling, pool_grid):
        """Label of one feature set, e.g. ``'ae 75 s4'``, ``'ae 200-50-200 first s2 mean2x2'``."""
        parts = [self.name] + ([str(layer)] if layer not in (None, "middle") else []) + [f"s{stride}"]
        if pooling != "none":
            parts.append(f"{pooling}{pool_grid}x{pool_grid}")
        return " ".join(parts)

    def describe(self):
        """JSON-ready summary: sizes, activations, training record and ``info``."""
        encoder = self.encoder
        summary = {"name": self.name, "hidden": self.hidden, "patch_size": self.patch_size,
                   "class": type(encoder).__name__, "activations": self.network.activation_names,
                   "n_iter": int(getattr(encoder, "n_iter_", 0)),
                   "cost": float(getattr(encoder, "cost_", float("nan")))}
        for key in ("pretraining_time_", "finetuning_time_"):
            if hasattr(encoder, key):
                summary[key.rstrip("_")] = float(getattr(encoder, key))
        summary.update(self.info)
        summary["training_time"] = self.training_time
        return summary

    def save(self, path):
        """Write encoder + preprocessor to ``path`` (readable by :meth:`load` and ``nnlite``)."""
        metadata, arrays = {"patch_size": self.patch_size, "feature_model": self.info}, {}
        if self.preprocessor is not None:
            metadata["preprocessor"], arrays = preprocessor_state(self.preprocessor)
        return self.encoder.save(path, arrays=arrays, metadata=metadata)

    @classmethod
    def load(cls, path, channels=3):
        """Read a model file written by :meth:`save` or by ``nnlite train``.

        Parameters
        ----------
        path : str or os.PathLike
        channels : int, default=3
            Used to infer the patch size when the file does not state it.

        Returns
        -------
        FeatureModel
        """
        encoder, extras = load_model(path, with_extras=True)
        metadata = extras["metadata"]
        preprocessor = (load_preprocessor(metadata["preprocessor"], extras["arrays"])
                        if metadata.get("preprocessor") else None)
        patch_size = metadata.get("patch_size", metadata.get("data", {}).get("patch_size"))
        if patch_size is None:
            patch_size = int(round(np.sqrt(encoder.n_features_in_ / channels)))
            if patch_size * patch_size * channels != encoder.n_features_in_:
                raise ValueError(f"cannot infer the patch size of {path!r}: {encoder.n_features_in_} "
                                 f"inputs are not p*p*{channels}")
        info = dict(metadata.get("feature_model", {}), source=str(path), training_time=0.0)
        return cls(encoder, preprocessor, int(patch_size), info)


def train_feature_model(images, hidden=75, image_shape=None, patch_size=8, num_patches=10000,
                        normalization="spec", max_iter=400, random_state=None, **options):
    """Sample patches from ``images``, fit their preprocessing and an autoencoder on them.

    Parameters
    ----------
    images : ndarray of shape (n_images, h * w * c)
        Training images only (never the test images).
    hidden : int or list of int
        ``75`` trains a :class:`~nnlite.estimator.SparseAutoencoder`;
        ``[200, 50, 200]`` a :class:`~nnlite.stacked.StackedAutoencoder`
        (``max_iter`` for every pretraining stage and for fine-tuning
        unless ``options`` say otherwise).
    image_shape : tuple of int, optional
    patch_size, num_patches : int
    normalization : {'spec', 'mean-removed', 'zca'}
        See :func:`nnlite.preprocessing.make_preprocessor`; ``'zca'``
        defaults to a linear decoder.
    max_iter : int
        L-BFGS iterations.
    random_state : int, optional
        Seeds the patches and the initial weights.
    **options
        Further estimator parameters (``sparsity_param``, ``lambda_``,
        ``beta``, ``activation``, ``output_activation``, ``epsilon`` for
        ZCA, ``finetune_iter``, ``backend``, ``dtype``...).

    Returns
    -------
    FeatureModel
    """
    start = time.perf_counter()
    sizes = check_hidden_sizes(hidden)
    rng = check_random_state(random_state)
    shape = resolve_image_shape(images.shape[1], image_shape)
    options = dict(options)
    preprocessor = make_preprocessor(normalization, epsilon=options.pop("epsilon", 0.1), channels=shape[2])
    options.setdefault("output_activation", default_output_activation(normalization))
    patches = sample_patches_raw(images, num_patches, patch_size, image_shape=shape, random_state=rng)
    data = preprocessor.fit_transform(patches)
    seed = int(rng.integers(2**31 - 1))
    if len(sizes) == 1:
        options.pop("finetune_iter", None)
        encoder = SparseAutoencoder(hidden_size=sizes[0], max_iter=max_iter, random_state=seed, **options)
    else:
        options.setdefault("finetune_iter", max_iter)
        encoder = StackedAutoencoder(hidden_size=sizes, pretrain_iter=max_iter, random_state=seed, **options)
    encoder.fit(data)
    info = {"normalization": normalization, "num_patches": int(num_patches), "max_iter": int(max_iter),
            "training_time": time.perf_counter() - start,
            "autoencoder_options": {k: v for k, v in options.items() if isinstance(v, (int, float, str))}}
    return FeatureModel(encoder, preprocessor, patch_size, info)
