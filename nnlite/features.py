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
result does not depend on the chunking.  Layer choice and pooling live in
:mod:`nnlite.pooling`; :class:`nnlite.patch_model.PatchModel` configures this
transformer for a trained patch model.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .data.shapes import resolve_image_shape
from .data.strided import grid_patches, grid_shape
from .layers.dense import Dense
from .network import Network
from .pooling import POOLING_MODES, pool_codes, resolve_layers
from .preprocessing import PatchNormalizer
from .validation import check_int


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
            check_int(self.pool_grid, f"pool_grid (for a {grid[0]}x{grid[1]} grid of positions)",
                      minimum=1, maximum=min(grid))
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
