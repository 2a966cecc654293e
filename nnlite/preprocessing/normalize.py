"""SPEC's normalisation and :class:`PatchNormalizer`, the same mapping with stored statistics.

* :func:`normalize_data` -- SPEC's ``normalize_data``: for each colour
  channel, clip to mean +- 3 standard deviations (over all rows and pixels
  given), then map that interval linearly onto ``[0.1, 0.9]``.
* :class:`PatchNormalizer` -- the same mapping as a scikit-learn transformer
  that *stores* the per-channel statistics, so patches of new images (e.g.
  the grid patches of the classification images) get exactly the mapping
  the autoencoder was trained with; optionally removes each patch's own
  mean first (UFLDL's variant).

Rows: ``X`` of shape ``(n_samples, n_pixels * channels)`` with the channel
varying fastest (``row.reshape(h, w, c)``), so only the column index modulo
``channels`` matters; any image size, square or not.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..validation import check_data, check_positive, check_positive_int

#: Target interval of SPEC's normalisation.
LOW, HIGH = 0.1, 0.9
#: Clip at this many standard deviations from the channel mean.
N_STD = 3.0


def as_float(X, name="X"):
    """Validated float rows: float32 stays float32, everything else becomes float64."""
    X = check_data(X, name=name)
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


def own_float_copy(X, name="X"):
    """Like :func:`as_float`, but never shares memory with ``X`` (safe to modify in place)."""
    converted = as_float(X, name)
    if isinstance(X, np.ndarray) and np.may_share_memory(converted, X):
        converted = converted.copy()
    return converted


def channel_view(X, channels, name="X"):
    """``X`` of shape (n, D) seen as (n, D // channels, channels), without copying."""
    if X.shape[1] % channels:
        raise ValueError(f"{name} has {X.shape[1]} columns, not a multiple of channels={channels}")
    return X.reshape(X.shape[0], -1, channels)


def _remove_row_mean(X):
    """Each row minus its own mean (over all its pixels and channels), as a new array."""
    return X - X.mean(axis=1, keepdims=True, dtype=np.float64).astype(X.dtype)


def row_variance(X):
    """Each row's variance (rows already centred), float64 of shape (n,)."""
    return np.einsum("ij,ij->i", X, X, dtype=np.float64) / X.shape[1]


def divide_by_contrast_(X, variance_offset, variance=None):
    """Divide each (centred) row of ``X`` (n, D) in place by ``sqrt(its variance + variance_offset)``; returns ``X``.

    ``variance``: the rows' variances when already computed (:func:`row_variance`).
    """
    variance = row_variance(X) if variance is None else variance
    X /= np.sqrt(variance + variance_offset).astype(X.dtype)[:, None]
    return X


def normalize_data(images):
    """SPEC's normalisation: per channel, clip to mean +- 3 sd, map linearly to [0.1, 0.9].

    Parameters
    ----------
    images : array-like of shape (n_samples, n_pixels * 3)
        Images, patches or filters as rows (``row.reshape(h, w, 3)``);
        uint8 or float.

    Returns
    -------
    ndarray of shape (n_samples, n_pixels * 3)
        float64 (float32 input stays float32), values in ``[0.1, 0.9]``.

    Notes
    -----
    For channel ``k`` with mean ``mu_k`` and standard deviation ``sd_k``
    (``ddof=0``) over every row and pixel,
    ``y = 0.1 + 0.8 * (clip(x, mu_k - 3 sd_k, mu_k + 3 sd_k) - (mu_k - 3 sd_k)) / (6 sd_k)``,
    so the channel mean maps to 0.5.  A constant channel (``sd_k = 0``)
    maps to 0.5.  Equal to ``PatchNormalizer().fit_transform(images)``.

    Examples
    --------
    >>> import numpy as np
    >>> Y = normalize_data(np.random.default_rng(0).integers(0, 256, (100, 192)))
    >>> bool(Y.min() >= 0.1 and Y.max() <= 0.9)
    True
    """
    return PatchNormalizer(remove_mean=False, channels=3).fit_transform(images)


class PatchNormalizer(TransformerMixin, BaseEstimator):
    """SPEC's per-channel normalisation with stored statistics.

    Parameters
    ----------
    remove_mean : bool, default=False
        Subtract each row's own mean (over all its pixels and channels,
        as UFLDL does) before computing or applying the statistics.
    channels : int, default=3
        Colour channels (the column index modulo ``channels`` is the channel).
    contrast : float or None, default=None
        Contrast normalisation (needs ``remove_mean``): after its mean is
        removed, each row is divided by ``sqrt(v + contrast * row_variance_)``
        where ``v`` is the row's own variance and ``row_variance_`` the mean
        of ``v`` over the rows seen by :meth:`fit` -- Coates, Lee & Ng
        (2011)'s brightness and contrast normalisation, with the regulariser
        relative to the data's scale (their 10 on 0-255 pixels is about
        0.01-0.02 of the mean 6x6 CIFAR-10 patch variance).  None: off.

    Attributes
    ----------
    mean_ : ndarray of shape (channels,)
        Per-channel mean over every row and pixel seen by :meth:`fit`.
    std_ : ndarray of shape (channels,)
        Per-channel standard deviation (``ddof=0``).
    low_, high_ : ndarray of shape (channels,)
        Clip bounds ``mean_ -+ 3 * std_``, mapped to 0.1 and 0.9.
    row_variance_ : float
        With ``contrast``: the mean per-row variance after mean removal.
    n_features_in_ : int
        Columns seen by :meth:`fit` (:meth:`transform` accepts any multiple
        of ``channels``: patches or whole images alike).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).integers(0, 256, size=(500, 192))
    >>> scaler = PatchNormalizer().fit(X)
    >>> np.allclose(scaler.transform(X), normalize_data(X))
    True
    """

    def __init__(self, remove_mean=False, channels=3, contrast=None):
        self.remove_mean = remove_mean
        self.channels = channels
        self.contrast = contrast

    def _check_contrast(self):
        """``contrast`` as a float (None when off); raises ValueError when it cannot apply."""
        if self.contrast is None:
            return None
        contrast = check_positive(self.contrast, "contrast")
        if not self.remove_mean:
            raise ValueError("contrast normalisation needs remove_mean=True (the 'mean-removed' or "
                             "'zca' normalization)")
        return contrast

    def variance_offset(self):
        """The constant added to each row's variance by the contrast step (None when off)."""
        return None if self.contrast is None else float(self.contrast) * self.row_variance_

    def fit(self, X, y=None):
        """Compute the per-channel mean and standard deviation of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels * channels)
        y : ignored

        Returns
        -------
        self
        """
        channels = check_positive_int(self.channels, "channels")
        contrast = self._check_contrast()
        X = as_float(X)
        if self.remove_mean:
            X = _remove_row_mean(X)
        if contrast is not None:
            variance = row_variance(X)
            self.row_variance_ = float(variance.mean())
            divide_by_contrast_(X, contrast * self.row_variance_, variance)
        view = channel_view(X, channels)
        self.mean_ = view.mean(axis=(0, 1), dtype=np.float64)
        self.std_ = view.std(axis=(0, 1), dtype=np.float64)
        self.low_ = self.mean_ - N_STD * self.std_
        self.high_ = self.mean_ + N_STD * self.std_
        self.n_features_in_ = X.shape[1]
        return self

    def _mapping(self, dtype):
        """Per-channel ``scale`` and ``offset`` with ``y = (clip(x) - low) * scale + offset``."""
        span = self.high_ - self.low_
        constant = span <= 0
        scale = np.where(constant, 0.0, (HIGH - LOW) / np.where(constant, 1.0, span))
        offset = np.where(constant, 0.5 * (LOW + HIGH), LOW)
        return scale.astype(dtype), offset.astype(dtype)

    def transform(self, X):
        """Apply the fitted mapping: clip to ``[low_, high_]``, map to ``[0.1, 0.9]``.

        ``X`` has shape ``(n_samples, n_pixels * channels)``; the result has
        the same shape, float64 (float32 input stays float32), in ``[0.1, 0.9]``.
        """
        check_is_fitted(self, "mean_")
        X = own_float_copy(X)
        if self.remove_mean:
            X -= X.mean(axis=1, keepdims=True, dtype=np.float64).astype(X.dtype)
        if self.contrast is not None:
            divide_by_contrast_(X, self.variance_offset())
        view = channel_view(X, len(self.mean_))
        low, high = self.low_.astype(X.dtype), self.high_.astype(X.dtype)
        scale, offset = self._mapping(X.dtype)
        np.clip(view, low, high, out=view)
        view -= low
        view *= scale
        view += offset
        return X

    def inverse_transform(self, X):
        """Map values in ``[0.1, 0.9]`` back to the clip interval (clipping and mean removal are not undone).

        Same shapes as :meth:`transform`: ``(n_samples, n_pixels * channels)`` in and out.
        """
        check_is_fitted(self, "mean_")
        X = own_float_copy(X)
        view = channel_view(X, len(self.mean_))
        span = (self.high_ - self.low_).astype(X.dtype)
        view -= LOW
        view *= span / (HIGH - LOW)
        view += self.low_.astype(X.dtype)
        return X

    def get_state(self):
        """``(metadata, arrays)`` describing the fitted normaliser (JSON + numeric arrays)."""
        check_is_fitted(self, "mean_")
        metadata = {"class": type(self).__name__, "params": self.get_params(deep=False),
                    "n_features_in": int(self.n_features_in_)}
        arrays = {"mean": self.mean_, "std": self.std_}
        if self.contrast is not None:
            arrays["row_variance"] = np.array([self.row_variance_])
        return metadata, arrays

    @classmethod
    def from_state(cls, metadata, arrays):
        """Rebuild a fitted normaliser from :meth:`get_state`'s output."""
        model = cls(**metadata["params"])
        model.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        model.std_ = np.asarray(arrays["std"], dtype=np.float64)
        model.low_ = model.mean_ - N_STD * model.std_
        model.high_ = model.mean_ + N_STD * model.std_
        model.n_features_in_ = int(metadata.get("n_features_in", 0))
        if model.contrast is not None:
            model.row_variance_ = float(np.asarray(arrays["row_variance"]).ravel()[0])
        return model
