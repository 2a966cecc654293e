"""Encoders at feature time: how a learned dictionary turns a patch into a code.

The autoencoder learns the dictionary (its first-layer weights ``W``, one
row per unit); the *encoder* used when features are extracted need not be
the autoencoder's own hidden activation.  Coates & Ng (2011) show that the
encoding matters at least as much as how the dictionary was learned.
Three choices, by name (:data:`ENCODERS`):

``'activation'``
    ``f(W x + b)``: the autoencoder's own hidden activation (sigmoid by
    default); ``H`` codes per patch.
``'soft-threshold'``
    With ``w_k`` the rows of ``W`` scaled to unit norm and ``s_k = w_k . x``:
    ``max(0, s_k - alpha)`` and ``max(0, -s_k - alpha)`` (both polarities),
    ``2 H`` codes per patch.
``'triangle'``
    With the unit-norm rows as centroids ``c_k`` and
    ``z_k = ||x - c_k||``: ``max(0, mean_j(z_j) - z_k)``; ``H`` codes.

``x`` is the patch *after* the preprocessing the autoencoder was trained
with (e.g. mean removal and ZCA whitening).  :class:`PatchEncoder` computes
all of them from one matrix product per chunk of raw patches, with the
linear part of the preprocessing folded into the weights
(:mod:`nnlite.folding`).

References
----------
.. [1] A. Coates and A. Y. Ng, "The importance of encoding versus training
   with sparse coding and vector quantization", ICML 2011 (soft threshold).
.. [2] A. Coates, H. Lee and A. Y. Ng, "An analysis of single-layer
   networks in unsupervised feature learning", AISTATS 2011 ("triangle"
   K-means encoding).
"""

import numpy as np

from .backend.numpy_backend import NumpyBackend
from .folding import fold_preprocessor
from .validation import check_non_negative

__all__ = ["ENCODERS", "PatchEncoder", "encoder_width", "soft_threshold", "triangle", "unit_norm_rows"]

#: Names of the encoders at feature time.
ENCODERS = ("activation", "soft-threshold", "triangle")


def check_encoder(name):
    """Return ``name`` if it is one of :data:`ENCODERS`, else raise ``ValueError`` naming it."""
    if name not in ENCODERS:
        raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {name!r}")
    return name


def encoder_width(name, n_units):
    """Codes per patch of encoder ``name`` on ``n_units`` dictionary rows (``2 H`` for 'soft-threshold')."""
    return 2 * n_units if check_encoder(name) == "soft-threshold" else n_units


def unit_norm_rows(weights):
    """Rows of ``weights`` (H, D) scaled to unit Euclidean norm (zero rows stay zero)."""
    weights = np.asarray(weights, dtype=np.float64)
    norms = np.linalg.norm(weights, axis=1, keepdims=True)
    return weights / np.where(norms > 0, norms, 1.0)


def soft_threshold(responses, alpha):
    """Both-polarity soft threshold of responses ``s = w . x`` (Coates & Ng 2011).

    Parameters
    ----------
    responses : ndarray of shape (n, H)
        ``s_k`` for unit-norm dictionary rows ``w_k``.
    alpha : float
        Threshold, >= 0.

    Returns
    -------
    ndarray of shape (n, 2 H)
        ``[max(0, s - alpha), max(0, -s - alpha)]``, same dtype.

    Notes
    -----
    The two halves keep the sign of the response apart, so a linear
    classifier sees "edge" and "inverted edge" as different features.

    Examples
    --------
    >>> soft_threshold(np.array([[0.5, -2.0]]), 1.0)
    array([[0., 0., 0., 1.]])
    """
    responses = np.asarray(responses)
    alpha = check_non_negative(alpha, "alpha")
    out = np.empty((responses.shape[0], 2 * responses.shape[1]), dtype=responses.dtype)
    _soft_threshold_into(responses, alpha, out)
    return out


def _threshold_halves(upper, lower, alpha, positive, negative):
    """``positive = max(upper - alpha, 0)``, ``negative = max(-lower - alpha, 0)`` (in place allowed)."""
    np.subtract(upper, alpha, out=positive)
    np.maximum(positive, 0, out=positive)
    np.negative(lower, out=negative)
    negative -= alpha
    np.maximum(negative, 0, out=negative)


def _soft_threshold_into(responses, alpha, out):
    """``out[:, :H] = max(s - alpha, 0)``, ``out[:, H:] = max(-s - alpha, 0)``."""
    units = responses.shape[1]
    _threshold_halves(responses, responses, alpha, out[:, :units], out[:, units:])
    return out


def triangle(distances):
    """The "triangle" K-means encoding of distances to centroids (Coates, Lee & Ng 2011).

    Parameters
    ----------
    distances : ndarray of shape (n, K)
        ``z_k = ||x - c_k||``.

    Returns
    -------
    ndarray of shape (n, K)
        ``max(0, mean_j(z_j) - z_k)``: non-zero for the centroids closer than
        average (about half of them).

    Examples
    --------
    >>> triangle(np.array([[1.0, 2.0, 6.0]]))
    array([[2., 1., 0.]])
    """
    distances = np.asarray(distances)
    out = distances.mean(axis=1, keepdims=True) - distances
    return np.maximum(out, 0, out=out)


def _triangle_from_responses_(responses, squared_norms):
    """In place: ``s_k -> triangle(z)`` with ``z_k^2 = ||x||^2 - 2 s_k + 1`` (unit-norm centroids)."""
    responses *= -2
    responses += (squared_norms + 1.0)[:, None].astype(responses.dtype)
    np.maximum(responses, 0, out=responses)
    np.sqrt(responses, out=responses)
    mean = responses.mean(axis=1, keepdims=True)
    np.subtract(mean, responses, out=responses)
    return np.maximum(responses, 0, out=responses)


class PatchEncoder:
    """Codes of raw patch rows under one encoder, from one product per chunk.

    Parameters
    ----------
    weights : ndarray of shape (H, D)
        The first layer's weights (the dictionary), acting on preprocessed patches.
    bias : ndarray of shape (H,)
        The first layer's bias ('activation' only).
    activation : {'sigmoid', 'relu', 'identity'}
        The first layer's activation ('activation' only).
    preprocessor : fitted transformer or None
        What turns raw patch rows into the encoder's inputs; folded into the
        weights (:func:`nnlite.folding.fold_preprocessor`).
    encoder : {'activation', 'soft-threshold', 'triangle'}
    alpha : float
        Threshold of 'soft-threshold'.
    dtype : {'float32', 'float64'}
    fold : bool, default=True
        Fold the preprocessing's linear part into the weights (fast); False
        preprocesses every patch first (the reference arithmetic, equal bit
        for bit to the network applied to preprocessed patches).

    Attributes
    ----------
    folded : FoldedPreprocessor
    width : int
        Codes per patch.
    """

    def __init__(self, weights, bias, activation, preprocessor, encoder="activation", alpha=0.25,
                 dtype="float32", fold=True):
        self.encoder = check_encoder(encoder)
        self.alpha = float(check_non_negative(alpha, "alpha"))
        self.activation = activation
        self.dtype = np.dtype(dtype)
        self._host = NumpyBackend(dtype=self.dtype.name)  # its activations, in cache-sized row blocks
        weights = np.asarray(weights, dtype=np.float64)
        n_units, n_columns = weights.shape
        self.folded = fold_preprocessor(preprocessor, n_columns, fold=fold)
        self.n_units = n_units
        self.width = encoder_width(encoder, n_units)
        if encoder == "activation":
            folded, shift = self.folded.fold(weights, bias)
        else:
            folded, shift = self.folded.fold(unit_norm_rows(weights))
        if encoder == "triangle":
            # extra columns: the preprocessed patch itself, for ||x||^2
            identity_w, identity_b = self.folded.fold(np.eye(n_columns))
            folded = np.concatenate([folded, identity_w], axis=1)
            shift = np.concatenate([shift, identity_b])
        self.weights_ = np.ascontiguousarray(folded, dtype=self.dtype)
        self.shift_ = shift.astype(self.dtype)

    def prepare_images(self, images, out=None):
        """Whole image rows as a new float array of ``dtype`` (or in ``out``), with any pixel-wise clipping."""
        return self.folded.on_images(images, self.dtype, out=out)

    def responses(self, patches, out=None):
        """The product ``preprocess(patches) @ W.T (+ b)`` of this encoder, (n, columns).

        ``patches`` (n, D) floats of ``dtype`` from :meth:`prepare_images`;
        overwritten by the element-wise preprocessing step.  ``out``: where
        to write the product (n, columns), e.g. a slice of the feature matrix.
        """
        patches = self.folded.elementwise_(patches)
        if patches.dtype != self.dtype:
            patches = patches.astype(self.dtype)
        out = np.matmul(patches, self.weights_, out=out)
        out += self.shift_
        return out

    def _activations(self, patches, out=None):
        """The 'activation' codes by the numpy backend's ``linear_activate`` (the network's own arithmetic)."""
        patches = self.folded.elementwise_(patches)
        if patches.dtype != self.dtype:
            patches = patches.astype(self.dtype)
        if out is None:
            out = np.empty((patches.shape[0], self.width), dtype=self.dtype)
        return self._host.linear_activate(patches, self.weights_.T, self.shift_, self.activation, out)

    def encode(self, patches, out=None, scratch=None):
        """Codes of patch rows (from :meth:`prepare_images`), shape (n, ``width``).

        ``out`` (n, ``width``) of ``dtype``, optional: written in place (no
        copy of the codes).  ``scratch`` (n, product columns), optional:
        where the product goes when it is not ``out``.
        """
        if self.encoder == "activation":
            return self._activations(patches, out=out if out is not None else scratch)
        return self.finish(self.responses(patches, out=scratch), target=out)

    @property
    def n_columns(self):
        """Columns of the product (``H``, or ``H + D`` for 'triangle')."""
        return self.weights_.shape[1]

    def finish(self, out, target=None):
        """Codes from the product of :meth:`responses` (overwritten where possible), into ``target`` if given."""
        if self.encoder == "activation":
            return self._host.activate_(self.activation, out)
        if self.encoder == "soft-threshold":
            if target is None:
                target = np.empty((out.shape[0], self.width), out.dtype)
            return _soft_threshold_into(out, self.alpha, target)
        units = self.n_units
        squared = np.einsum("ij,ij->i", out[:, units:], out[:, units:])
        codes = _triangle_from_responses_(out[:, :units], squared)
        if target is not None:
            target[...] = codes
            return target
        return codes

    def encode_pooled(self, patches, pooling, add, product=None, work=None):
        """Encode a block of patch rows and hand the codes to a pooling reduction instead of returning them.

        Parameters
        ----------
        patches : ndarray of shape (n, D) or (n, D + 1)
            Patch rows from :meth:`prepare_images` (overwritten); for the
            soft threshold, a last column of ones adds the bias inside the
            product.
        pooling : {'sum', 'mean', 'max'}
        add : callable(values, kind, columns)
            Receives ``values`` (n, m), the reduction ``kind`` ('sum', 'max'
            or 'min') to apply over positions, and the slice of the code
            columns they pool into; e.g. :meth:`nnlite.pooling.CellPooler.add`.
        product, work : ndarray of shape (n, n_columns) and (n, width), optional
            Scratch (a block that stays in cache).

        Notes
        -----
        The soft threshold never writes its ``2 H`` codes.  For sums, with
        ``t = s - alpha`` and ``u = s + alpha``: ``t + |t| = 2 max(t, 0)``
        and ``u - |u| = -2 max(-s - alpha, 0)`` are summed (both exact in
        floating point), then scaled by ``1/2`` and ``-1/2`` in
        :meth:`finish_pooled`: equal to the sums of the codes up to the
        rounding of ``s - alpha`` and of the sums; a sum of zero codes is
        exactly zero.  For maxima only ``max s`` and ``min s`` are
        kept: ``max(0, .)`` and ``- alpha`` commute with the maximum, so the
        result equals the maximum of the codes exactly.
        """
        if self.encoder != "soft-threshold":
            codes = self.encode(patches, out=work, scratch=product)
            add(codes, "max" if pooling == "max" else "sum", slice(None))
            return
        units = self.n_units
        positive, negative = slice(0, units), slice(units, 2 * units)
        n_columns = self.weights_.shape[0]
        if patches.shape[1] == n_columns + 1 and self.folded.fallback is not None:
            patches = patches[:, :n_columns]  # a preprocessor kept whole returns new rows: no room for the ones
        augmented = patches.shape[1] == n_columns + 1  # a last column of ones: the bias rides in the product
        values = self.folded.elementwise_(patches, columns=n_columns if augmented else None)
        if values.dtype != self.dtype:
            values, augmented = values.astype(self.dtype), False
        offset = 0.0 if pooling == "max" else -self.alpha  # the product gives s (max) or t = s - alpha (sums)
        if augmented:
            responses = np.matmul(patches, self._augmented_weights(offset), out=product)
        else:  # (adding a row to every row of a block runs three times slower than a pass over it)
            responses = np.matmul(values, self.weights_, out=product)
            responses += (self.shift_ + offset).astype(self.dtype)
        if pooling == "max":
            add(responses, "max", positive)
            add(responses, "min", negative)
            return
        # t = s - alpha, u = s + alpha: 2 max(t, 0) = t + |t| and -2 max(-s - alpha, 0) = u - |u|, exactly in
        # floating point (and faster than np.maximum / np.minimum, which do not vectorise as well);
        # halved at the end.  Both in contiguous buffers: a pass over strided halves runs twice slower.
        work = np.empty((2,) + responses.shape, self.dtype) if work is None \
            else work.reshape(-1)[:2 * responses.size].reshape((2,) + responses.shape)
        np.abs(responses, out=work[0])
        work[0] += responses
        add(work[0], "sum", positive)
        responses += 2.0 * self.alpha
        np.abs(responses, out=work[1])
        np.subtract(responses, work[1], out=work[1])
        add(work[1], "sum", negative)

    def _augmented_weights(self, offset):
        """``[weights_; shift_ + offset]`` (D + 1, H): the product with ``[x, 1]`` adds the bias (cached)."""
        cache = self.__dict__.setdefault("_augmented_cache", {})
        if offset not in cache:
            cache.clear()
            cache[offset] = np.ascontiguousarray(
                np.vstack([self.weights_, (self.shift_.astype(np.float64) + offset)[None, :]]), dtype=self.dtype)
        return cache[offset]

    def finish_pooled(self, pooled, counts, pooling):
        """Turn the reductions of :meth:`encode_pooled` into pooled codes, in place.

        Parameters
        ----------
        pooled : ndarray of shape (n_images, cells, width)
        counts : ndarray of shape (cells, 1)
            Positions per cell.
        pooling : {'sum', 'mean', 'max'}
        """
        if self.encoder == "soft-threshold":
            units, alpha = self.n_units, self.alpha
            positive, negative = pooled[:, :, :units], pooled[:, :, units:]
            if pooling == "max":
                _threshold_halves(positive, negative, alpha, positive, negative)
                return pooled
            positive *= 0.5
            negative *= -0.5
        if pooling == "mean":
            pooled /= counts.astype(pooled.dtype)
        return pooled
