"""A fitted patch preprocessor split into an element-wise step and an affine map.

Feature extraction applies the *same* preprocessing to every one of millions
of overlapping patches and then multiplies by the encoder's weights.  Every
preprocessor of :func:`nnlite.preprocessing.make_preprocessor` is

    ``preprocess(x) = elementwise(x) @ A + c``

where ``elementwise`` is cheap (removing each patch's own mean, dividing it
by its contrast where that is asked for, and clipping to the stored bounds) and ``A`` (``D x D``), ``c`` (``D``) are the linear
part (the per-channel mapping onto ``[0.1, 0.9]``, the ZCA mean and
matrix).  :func:`fold_preprocessor` returns that split, so a product with
weights ``W`` becomes ``elementwise(x) @ (A @ W.T) + c @ W.T``: the
whitening is paid once on the ``D x H`` weights instead of once per patch.
The result is the same numbers up to rounding.

SPEC's own normalisation (no mean removal) maps each pixel on its own; it is
applied to whole images before cutting (:meth:`FoldedPreprocessor.on_images`).
"""

import numpy as np
from sklearn.pipeline import Pipeline

from .preprocessing import PatchNormalizer, ZCAWhitening
from .preprocessing.normalize import divide_by_contrast_

__all__ = ["FoldedPreprocessor", "fold_preprocessor"]

#: Blocks of at most this many rows are clipped against bounds of their own shape (cached).
FULL_BOUNDS_ROWS = 4096


class FoldedPreprocessor:
    """``preprocess(x) = elementwise(x) @ matrix + offset`` for a fitted preprocessor.

    Attributes
    ----------
    image_map : PatchNormalizer or None
        SPEC's pixel-wise normalisation, applied to whole images before
        cutting patches (once per pixel instead of once per overlapping patch).
    remove_mean : bool
        ``elementwise`` subtracts each patch's own mean.
    variance_offset : float or None
        ``elementwise`` then divides each patch by ``sqrt(its variance +
        variance_offset)`` (contrast normalisation; None: not).
    low, high : ndarray of shape (channels,) or None
        Per-channel clip bounds of ``elementwise`` (None: no clipping).
    matrix : ndarray of shape (D, D) or None
        ``A`` (None: the identity).
    offset : ndarray of shape (D,) or None
        ``c`` (None: zero).
    fallback : transformer or None
        A preprocessor that cannot be split: ``elementwise`` is its
        ``transform`` and the affine part is the identity.
    """

    def __init__(self, image_map=None, remove_mean=False, low=None, high=None, matrix=None, offset=None,
                 fallback=None, variance_offset=None):
        self.image_map, self.remove_mean, self.low, self.high = image_map, remove_mean, low, high
        self.variance_offset = variance_offset
        self.matrix, self.offset, self.fallback = matrix, offset, fallback

    def on_images(self, images, dtype=np.float64, out=None):
        """Whole image rows as floats of ``dtype`` (a new array, or ``out``), SPEC's map applied where it is the step.

        The map is :meth:`PatchNormalizer.transform`'s arithmetic, element by
        element in the same order (so float64 features equal those of
        earlier versions bit for bit), with bounds tiled to the row length.
        """
        if out is None:
            out = np.array(images, dtype=dtype)
        else:
            np.copyto(out, images, casting="unsafe")
        if self.image_map is not None:
            normalizer = self.image_map
            repeats = out.shape[1] // len(normalizer.mean_)
            _clip_rows_(out, normalizer.low_, normalizer.high_)
            scale, offset = normalizer._mapping(out.dtype)
            out -= np.tile(normalizer.low_.astype(out.dtype), repeats)
            out *= np.tile(scale, repeats)
            out += np.tile(offset, repeats)
        return out

    def elementwise_(self, patches, columns=None):
        """The non-linear per-patch step, in place where possible; returns the patches (n, D).

        ``columns``: only the first ``columns`` values of each row of
        ``patches`` are the patch (the rest, e.g. a column of ones, is kept
        as it is); the patches returned are then that (n, columns) view.
        """
        values = patches if columns is None else patches[:, :columns]
        if self.fallback is not None:
            return self.fallback.transform(values)
        if self.remove_mean:  # the means by one matrix-vector product (a third of the time of .mean)
            values -= (values @ self._averaging(values.shape[1], values.dtype))[:, None]
        if self.variance_offset is not None:
            divide_by_contrast_(values, self.variance_offset)
        if self.low is not None:
            if patches.flags.c_contiguous and patches.shape[0] <= FULL_BOUNDS_ROWS:
                # bounds of the block's own shape: one contiguous pass, three times faster than bounds
                # broadcast along the rows (the columns past ``columns`` are bounded by -inf, inf)
                low, high = self._block_bounds(patches.shape, values.shape[1], patches.dtype)
                np.maximum(patches, low, out=patches)
                np.minimum(patches, high, out=patches)
            else:
                low, high = self._row_bounds(values.shape[1], values.dtype)
                np.maximum(values, low, out=values)  # = np.clip, in a third of its time
                np.minimum(values, high, out=values)
        return values

    def _block_bounds(self, shape, columns, dtype):
        """The clip bounds for a whole block of ``shape``: (shape) arrays, +-inf past ``columns`` (cached)."""
        cache = self.__dict__.setdefault("_block_bounds_cache", {})
        key = (shape[1], columns, np.dtype(dtype))
        bounds = cache.get(key)
        if bounds is None or bounds[0].shape[0] < shape[0]:
            low, high = self._row_bounds(columns, dtype)
            rows = max(shape[0], 0 if bounds is None else bounds[0].shape[0])
            bounds = cache[key] = tuple(
                np.tile(np.concatenate([bound, np.full(shape[1] - columns, fill, dtype)]), (rows, 1))
                for bound, fill in ((low, -np.inf), (high, np.inf)))
        return bounds[0][:shape[0]], bounds[1][:shape[0]]

    def _averaging(self, length, dtype):
        """The vector of ``length`` values ``1 / length`` in ``dtype`` (cached)."""
        cache = self.__dict__.setdefault("_averaging_cache", {})
        key = (length, np.dtype(dtype))
        if key not in cache:
            cache[key] = np.full(length, 1.0 / length, dtype)
        return cache[key]

    def _row_bounds(self, length, dtype):
        """The clip bounds tiled to rows of ``length`` values, in ``dtype`` (cached)."""
        cache = self.__dict__.setdefault("_bounds_cache", {})
        key = (length, np.dtype(dtype))
        if key not in cache:
            repeats = length // self.low.shape[0]
            cache[key] = (np.tile(self.low, repeats).astype(dtype), np.tile(self.high, repeats).astype(dtype))
        return cache[key]

    def fold(self, weights, bias=None):
        """Weights and bias acting on ``elementwise(x)``: ``(A @ W.T, c @ W.T + b)``.

        Parameters
        ----------
        weights : ndarray of shape (H, D)
        bias : ndarray of shape (H,), optional

        Returns
        -------
        folded_weights : ndarray of shape (D, H)
            Ready for ``patches @ folded_weights``.
        folded_bias : ndarray of shape (H,)
        """
        weights = np.asarray(weights, dtype=np.float64)
        bias = np.zeros(weights.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
        folded = weights.T if self.matrix is None else self.matrix @ weights.T
        shift = bias if self.offset is None else self.offset @ weights.T + bias
        return folded, shift

    def transform(self, patches):
        """The whole preprocessing of raw patch rows (a float copy): for checks and small inputs."""
        patches = np.array(patches, dtype=np.float64)
        out = self.elementwise_(patches)
        if self.matrix is not None:
            out = out @ self.matrix
        if self.offset is not None:
            out = out + self.offset
        return out


def _clip_rows_(rows, low, high):
    """Clip rows (n, L) in place to per-channel bounds (channel = column index modulo ``len(low)``).

    The bounds are tiled to the row length: a clip with (L,) bounds runs over
    contiguous rows, one with (channels,) bounds on an (n, L/c, c) view loops
    over length-3 rows and is ten times slower.
    """
    repeats = rows.shape[1] // low.shape[0]
    # np.maximum then np.minimum: the same values as np.clip, in a third of its time
    np.maximum(rows, np.tile(low, repeats).astype(rows.dtype), out=rows)
    np.minimum(rows, np.tile(high, repeats).astype(rows.dtype), out=rows)
    return rows


def _normalizer_parts(normalizer, n_columns):
    """(low, high, A as per-column scale, c) of a fitted :class:`PatchNormalizer` on ``n_columns``."""
    channels = len(normalizer.mean_)
    scale, offset = normalizer._mapping(np.float64)
    column_scale = np.tile(scale, n_columns // channels)
    column_offset = np.tile(offset - normalizer.low_ * scale, n_columns // channels)
    return normalizer.low_.copy(), normalizer.high_.copy(), column_scale, column_offset


def fold_preprocessor(preprocessor, n_columns, fold=True):
    """Split a fitted preprocessor of patches with ``n_columns`` values into a :class:`FoldedPreprocessor`.

    Parameters
    ----------
    preprocessor : None, PatchNormalizer, ZCAWhitening or Pipeline of them
        Fitted.  Anything else is kept whole (``fallback``): correct, not faster.
    n_columns : int
        ``D = p * p * c``.
    fold : bool, default=True
        False keeps every preprocessor but SPEC's pixel-wise map whole
        (``fallback``): the reference arithmetic, equal bit for bit to
        preprocessing the patches and then multiplying.

    Returns
    -------
    FoldedPreprocessor
    """
    if preprocessor is None:
        return FoldedPreprocessor()
    steps = [step for _, step in preprocessor.steps] if isinstance(preprocessor, Pipeline) else [preprocessor]
    first = steps[0]
    if isinstance(first, PatchNormalizer) and not first.remove_mean and len(steps) == 1:
        return FoldedPreprocessor(image_map=first)
    if not fold:
        return FoldedPreprocessor(fallback=preprocessor)
    matrix = offset = low = high = variance_offset = None
    remove_mean = False
    rest = steps
    if isinstance(first, PatchNormalizer) and first.remove_mean:
        low, high, column_scale, offset = _normalizer_parts(first, n_columns)
        matrix, remove_mean, rest = np.diag(column_scale), True, steps[1:]
        variance_offset = first.variance_offset()
    if len(rest) > 1 or (rest and not isinstance(rest[0], ZCAWhitening)):
        return FoldedPreprocessor(fallback=preprocessor)
    if rest:
        zca = rest[0]
        matrix = zca.whitening_ if matrix is None else matrix @ zca.whitening_
        offset = ((0.0 if offset is None else offset) - zca.mean_) @ zca.whitening_
    return FoldedPreprocessor(remove_mean=remove_mean, low=low, high=high, matrix=matrix, offset=offset,
                              variance_offset=variance_offset)
