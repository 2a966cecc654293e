"""Features of whole images from a trained encoder applied on a regular grid.

(Over 400 lines: the transformer keeps its two chunk paths side by side -- the fused one, block by
block in cache, and the reference one that materialises every code -- so that tests can compare them.)

:class:`ConvolutionalFeatures` is a scikit-learn transformer that turns each
image (a row in SPEC's layout) into one feature vector:

1. every ``p x p`` patch on a grid of the given stride is cut out
   (:func:`nnlite.data.strided.grid_patches`; all positions of a chunk of
   images become the rows of one ``(chunk * P, p * p * c)`` matrix);
2. the patches go through the *fitted* preprocessor the encoder was trained
   with (:class:`~nnlite.preprocessing.PatchNormalizer` or
   :class:`~nnlite.preprocessing.ZCAWhitening`; statistics of the training
   patches, never of the image being encoded).  SPEC's normalisation maps
   each pixel on its own, so it is applied to the images before cutting;
   the linear part of the others (per-channel mapping, ZCA) is folded into
   the first layer's weights (:mod:`nnlite.folding`), so each patch pays
   only for its mean removal and clipping before the one matrix product;
3. the *encoder at feature time* (:mod:`nnlite.encoders`) turns every
   patch into a code: the autoencoder's own activations of the chosen
   hidden layer(s) (``encoder='activation'``), or a soft threshold or the
   "triangle" encoding of the learned first-layer dictionary;
4. the codes are either concatenated over all positions (``pooling='none'``,
   the assignment's mode) or summed / averaged / maxed over the cells of a
   ``k x k`` partition of the position grid (Coates, Lee & Ng 2011 use the
   four quadrants, ``k = 2``).

Images are processed in chunks whose size follows from ``memory_limit``; the
result does not depend on the chunking.  Within a chunk, everything but the
float64 activations (kept bit for bit) runs block by block on every core:
a block of patches is gathered from a strided view of the images, multiplied,
encoded and pooled while it stays in cache, so neither the patch matrix nor
the codes of a chunk are ever stored.  Everything runs in ``dtype``
(float32 by default through :class:`~nnlite.patch_model.PatchModel`); a
progress line (images done, rate, time left) goes to ``progress`` every
``progress_interval`` seconds of a long extraction.  Layer choice and pooling live in
:mod:`nnlite.pooling`; :class:`nnlite.patch_model.PatchModel` configures this
transformer for a trained patch model.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .data.shapes import resolve_image_shape
from .data.strided import grid_patches, grid_shape, grid_windows
from .encoders import ENCODERS, PatchEncoder, check_encoder, encoder_width
from .backend.numpy_backend import thread_buffer
from .backend.row_pool import get_pool
from .layers.dense import Dense
from .network import Network
from .pooling import POOLING_MODES, CellPooler, pool_codes, resolve_layers
from .preprocessing import PatchNormalizer
from .progress import Progress
from .validation import check_int, check_non_negative

#: Patches of at most this many images set ``alpha='auto'`` at :meth:`ConvolutionalFeatures.fit`.
AUTO_ALPHA_IMAGES = 200

#: Bytes of one block of the fused path (its patches, product and codes): small enough to stay in the
#: cache (L3) between the gathering, the product, the encoder and the pooling, large enough that the
#: Python work per block stays small beside the product.  Measured on 2 cores with 400 units at stride 1:
#: 1 MiB blocks took 1.5x the product alone, 2 MiB 1.4x, 4 MiB (one whole image) 1.2-1.3x, 8 MiB 1.2-1.3x.
BLOCK_BYTES = 1 << 22

#: A chunk of the fused path holds at least this many tasks (where there are the images), so the
#: threads share it evenly.
MIN_TASKS = 8

#: Images per chunk at least, on the fused path (whose memory does not grow with the chunk): the
#: threads then wait for each other at the end of a chunk rarely.
FUSED_CHUNK_IMAGES = 256

class _Buffers:
    """Work arrays reused by the chunks of one :meth:`ConvolutionalFeatures.transform`.

    A fresh large array is mapped anew by the allocator and page-faults on
    first touch, every chunk; reusing one buffer pays that once.
    """

    def __init__(self, dtype):
        self.dtype, self.arrays = dtype, {}

    def get(self, name, shape):
        """An uninitialised array of ``shape`` backed by buffer ``name``."""
        size = int(np.prod(shape))
        array = self.arrays.get(name)
        if array is None or array.size < size:
            array = self.arrays[name] = np.empty(size, self.dtype)
        return array[:size].reshape(shape)


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
        matrices and is about twice as fast.
    encoding : {'activation', 'soft-threshold', 'triangle'}, default='activation'
        The encoder at feature time (see :mod:`nnlite.encoders`):
        the autoencoder's own hidden activation; or, on the first layer's
        weights scaled to unit norm, the two-polarity soft threshold
        (``2 H`` codes per position) or the triangle encoding.
    alpha : float or 'auto', default='auto'
        Threshold of ``'soft-threshold'``; ``'auto'``: half the median
        ``|w . x|`` over the patches of (at most 200 of) the images given
        to :meth:`fit` (Coates & Ng's rule of thumb).
    progress : callable(str), optional
        Receives a progress line (images done, rate, time left) every
        ``progress_interval`` seconds of :meth:`transform`.
    progress_interval : float, default=5.0

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
    alpha_ : float
        The soft threshold in use ('soft-threshold' only, else None).
    patch_encoder_ : PatchEncoder or None
        The fused first-layer encoding (None where the network runs on
        another backend and computes the activations itself).

    Notes
    -----
    The soft threshold follows A. Coates and A. Y. Ng, "The importance of
    encoding versus training with sparse coding and vector quantization",
    ICML 2011; the triangle encoding A. Coates, H. Lee and A. Y. Ng, "An
    analysis of single-layer networks in unsupervised feature learning",
    AISTATS 2011, here with the unit-norm rows of the learned weights as
    the centroids in place of K-means centroids.  Both use the first
    hidden layer's weights whatever ``layer`` says about a stacked encoder.

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
                 preprocessor=None, memory_limit=256 * 2**20, image_shape=None, backend=None, dtype=None,
                 encoding="activation", alpha="auto", progress=None, progress_interval=5.0):
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
        self.encoding = encoding
        self.alpha = alpha
        self.progress = progress
        self.progress_interval = progress_interval

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
        check_encoder(self.encoding)
        check_non_negative(self.progress_interval, "progress_interval")
        self.layers_ = resolve_layers(self.layer, len(network.layers) - 1)
        if self.encoding != "activation" and self.layer is not None and self.layers_ != [1]:
            raise ValueError(f"encoding {self.encoding!r} uses the first layer's weights; layer must be None, "
                             f"'first' or 1, got {self.layer!r}")
        if self.encoding != "activation":
            self.layers_ = [1]
        self.network_ = _encoder_copy(network, max(self.layers_), self.backend, self.dtype)
        self.image_shape_ = shape
        self.grid_ = grid
        self.n_features_in_ = int(X.shape[1])
        if self.encoding == "activation":
            self.n_units_ = int(sum(network.sizes[k] for k in self.layers_))
        else:
            self.n_units_ = encoder_width(self.encoding, network.sizes[1])
        cells = grid[0] * grid[1] if self.pooling == "none" else self.pool_grid ** 2
        self.n_features_out_ = cells * self.n_units_
        self.chunk_size_ = self._chunk_size(patch_width)
        self.alpha_ = None
        self.patch_encoder_ = None
        first = self.network_.layers[0]
        on_host = getattr(self.network_.backend, "name", "numpy") == "numpy"
        if self.encoding != "activation" or on_host:
            # float64 activations keep the reference arithmetic (features equal bit for bit to earlier
            # versions'); float32 and the other encodings fold the preprocessing into the weights.
            fold = self.network_.dtype != np.float64 or self.encoding != "activation"
            self.patch_encoder_ = PatchEncoder(first.W, first.b, first.activation.name, self.preprocessor,
                                               self.encoding, alpha=0.0, dtype=self.network_.dtype.name, fold=fold)
        if self.encoding == "soft-threshold":
            self.alpha_ = self._auto_alpha(X) if isinstance(self.alpha, str) and self.alpha == "auto" \
                else float(check_non_negative(self.alpha, "alpha (or 'auto')"))
            self.patch_encoder_.alpha = self.alpha_
        return self

    def _auto_alpha(self, X):
        """Half the median ``|w . x|`` over the grid patches of the first images of ``X``."""
        sample = np.asarray(X[:AUTO_ALPHA_IMAGES])
        patches, _ = grid_patches(self.patch_encoder_.prepare_images(sample), self.patch_size, self.stride,
                                  self.image_shape_)
        if patches.shape[0] > 100000:
            patches = patches[np.linspace(0, patches.shape[0] - 1, 100000).astype(np.intp)]
        responses = self.patch_encoder_.responses(np.array(patches))
        return float(0.5 * np.median(np.abs(responses)))

    def _chunk_size(self, patch_width):
        """Images per chunk so that the working arrays stay under ``memory_limit``."""
        if self.memory_limit is None:
            return None
        positions = self.grid_[0] * self.grid_[1]
        itemsize = self.network_.dtype.itemsize
        computed_units = sum(self.network_.sizes[1:]) + self.n_units_ + patch_width
        # the float image chunk, the patches (float, plus a copy where the preprocessor cannot be folded),
        # the products and codes, the pooled features.
        per_image = (positions * (3 * patch_width + 2 * computed_units) + self.n_features_out_) * max(itemsize, 8)
        return max(1, int(self.memory_limit // per_image))

    # ------------------------------------------------------------ transform
    def _network_codes(self, first, patches):
        """Codes of ``layers_`` given the first layer's activations ``first`` (or raw ``patches``)."""
        if first is None:
            return self._codes(patches)
        if self.layers_ == [1]:
            return first
        parts, block = ([first] if 1 in self.layers_ else []), first
        for number in range(2, self.layers_[-1] + 1):
            block = self.network_.forward(block, start=number - 1, stop=number)
            if number in self.layers_:
                parts.append(block)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _codes(self, patches):
        """Activations of ``layers_`` for the rows of preprocessed ``patches``: (n_patches, n_units_)."""
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

    def _fused(self):
        """True when the chunk runs block by block (:meth:`_encode_blocks`).

        Everything but the reference arithmetic of float64 activations (kept
        bit for bit) and activations of deeper layers.
        """
        if self.patch_encoder_ is None:
            return False
        return self.encoding != "activation" or (self.network_.dtype != np.float64 and self.layers_ == [1])

    def _block_plan(self):
        """(images per task, grid rows per block): a block's arrays fit in ``BLOCK_BYTES``.

        And in a quarter of ``memory_limit`` (each thread holds one block).
        """
        encoder, (n_rows, n_cols) = self.patch_encoder_, self.grid_
        row_bytes = (self.network_.sizes[0] + 1 + encoder.n_columns + encoder.width) * self.network_.dtype.itemsize
        block_bytes = BLOCK_BYTES if self.memory_limit is None else int(min(BLOCK_BYTES, self.memory_limit // 4))
        rows = max(n_cols, block_bytes // row_bytes)
        if rows < n_rows * n_cols:
            return 1, rows // n_cols
        per_task = rows // (n_rows * n_cols)
        if self.chunk_size_ is not None:
            # a divisor of chunk_size_: every chunk of a multiple of chunk_size_ images (here, or a task of
            # nnlite.distributed) then groups its images alike, so the products have the same shapes
            per_task = max(d for d in range(1, min(per_task, self.chunk_size_) + 1) if self.chunk_size_ % d == 0)
        return per_task, n_rows

    def _encode_blocks(self, images, out):
        """Features of a chunk of images into ``out``, block by block on every core.

        A task takes a few whole images (or one image, in bands of grid rows):
        it converts its images to floats, gathers the patches of one block
        from a strided view, multiplies, encodes and pools (or writes the
        codes into the feature rows), all in thread-private buffers that stay
        in cache.  Tasks write disjoint rows, so the result does not depend
        on the number of threads.
        """
        encoder, dtype, (n_rows, n_cols) = self.patch_encoder_, self.network_.dtype, self.grid_
        per_task, band = self._block_plan()
        n_images, width, positions = images.shape[0], self.network_.sizes[0], n_rows * n_cols
        pooler = None if self.pooling == "none" else CellPooler(self.grid_, self.pool_grid)
        augment = int(pooler is not None and self.encoding == "soft-threshold")

        def task(index):
            begin = index * per_task
            count = min(per_task, n_images - begin)
            floats = encoder.prepare_images(images[begin:begin + count],
                                            out=thread_buffer("images", (count, images.shape[1]), dtype))
            windows = grid_windows(floats, self.image_shape_, self.patch_size, self.stride)
            rows_out = out[begin:begin + count]
            if pooler is not None:
                pooled = rows_out.reshape(count, self.pool_grid, self.pool_grid, self.n_units_)
            for first_row in range(0, n_rows, band):
                last_row = min(first_row + band, n_rows)
                n_patches = count * (last_row - first_row) * n_cols
                patches = thread_buffer("patches", (n_patches, width + augment), dtype)
                window_rows = windows[:, first_row:last_row]
                if augment:  # a last column of ones: the soft threshold's bias rides in the product
                    patches[:, width] = 1.0
                    target = np.reshape(patches[:, :width], window_rows.shape, copy=False)  # a view, or an error
                    np.copyto(target, window_rows)
                else:
                    np.copyto(patches.reshape(window_rows.shape), window_rows)
                product = thread_buffer("product", (n_patches, encoder.n_columns), dtype)
                if pooler is None:
                    # contiguous: one image's band, or whole images
                    codes = rows_out.reshape(count, positions, self.n_units_)[:, first_row * n_cols:last_row * n_cols]
                    encoder.encode(patches, out=codes.reshape(n_patches, self.n_units_), scratch=product)
                    continue
                work = thread_buffer("codes", (n_patches, encoder.width), dtype)

                def add(values, kind, columns, first_row=first_row):
                    pooler.add(values, first_row, pooled[..., columns], kind)

                encoder.encode_pooled(patches, self.pooling, add, product=product, work=work)
            if pooler is not None:
                encoder.finish_pooled(pooled.reshape(count, -1, self.n_units_), pooler.counts, self.pooling)

        n_tasks = -(-n_images // per_task)
        threads = encoder._host.threads()
        if threads == 1 or n_tasks == 1:
            for index in range(n_tasks):
                task(index)
        else:
            get_pool(threads).run(task, n_tasks)

    def _encode_chunk(self, images, out, buffers=None):
        """Features of a chunk of images, written into ``out`` (n_chunk, n_features_out_)."""
        if self._fused():
            self._encode_blocks(images, out)
            return
        buffers = _Buffers(self.network_.dtype) if buffers is None else buffers
        if self.patch_encoder_ is None:  # the activations on another backend
            if self.preprocessor is not None and self._pixelwise_preprocessor():
                images = self.preprocessor.transform(images)
            patches, (n_rows, n_cols) = grid_patches(images, self.patch_size, self.stride, self.image_shape_)
            if self.preprocessor is not None and not self._pixelwise_preprocessor():
                patches = self.preprocessor.transform(patches)
            codes = self._codes(patches)
        else:
            encoder, n_images = self.patch_encoder_, images.shape[0]
            n_rows, n_cols = self.grid_
            n_patches = n_images * n_rows * n_cols
            floats = encoder.prepare_images(images, out=buffers.get("images", images.shape))
            patches, _ = grid_patches(floats, self.patch_size, self.stride, self.image_shape_,
                                      out=buffers.get("patches", (n_patches, self.network_.sizes[0])))
            scratch = buffers.get("product", (n_patches, encoder.n_columns))
            if self.pooling == "none" and self.layers_ == [1]:  # codes straight into the feature rows
                encoder.encode(patches, out=out.reshape(n_patches, self.n_units_), scratch=scratch)
                return
            first = encoder.encode(patches, scratch=scratch,
                                   out=buffers.get("codes", (n_patches, encoder.width))
                                   if self.encoding == "soft-threshold" else None)
            codes = first if self.encoding != "activation" else self._network_codes(first, None)
        codes = codes.reshape(images.shape[0], n_rows, n_cols, self.n_units_)
        out[...] = pool_codes(codes, self.pooling, self.pool_grid)

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
        if self._fused() and self.chunk_size_ is not None:
            # its work arrays are per block, not per chunk: larger chunks (a multiple of chunk_size_, see
            # _block_plan) balance the threads
            wanted = max(FUSED_CHUNK_IMAGES, MIN_TASKS * self._block_plan()[0])
            chunk *= -(-wanted // chunk)
        counter = Progress(X.shape[0], f"features ({self.encoding}, stride {self.stride})", self.progress,
                           interval=self.progress_interval)
        buffers = _Buffers(self.network_.dtype)
        for begin in range(0, X.shape[0], chunk):
            self._encode_chunk(X[begin:begin + chunk], features[begin:begin + chunk], buffers)
            counter.update(min(begin + chunk, X.shape[0]))
        counter.close()
        return features
