"""Patch preprocessing: SPEC's normalisation, a fitted normaliser, ZCA whitening.

* :func:`normalize_data` -- SPEC's ``normalize_data``: for each colour
  channel, clip to mean +- 3 standard deviations (over all rows and pixels
  given), then map that interval linearly onto ``[0.1, 0.9]``.
* :class:`PatchNormalizer` -- the same mapping as a scikit-learn transformer
  that *stores* the per-channel statistics, so patches of new images (e.g.
  the grid patches of the classification images) get exactly the mapping
  the autoencoder was trained with; optionally removes each patch's own
  mean first (UFLDL's variant).
* :class:`ZCAWhitening` -- ZCA whitening fitted on patches.
* :func:`make_preprocessor` -- the named choices of ``nnlite train
  --normalization``; :func:`preprocessor_state` / :func:`load_preprocessor`
  store a fitted one as plain arrays + JSON inside a model ``.npz``.

All of them work on rows: ``X`` of shape ``(n_samples, n_pixels * channels)``
with the channel varying fastest (``row.reshape(h, w, c)``), so only the
column index modulo ``channels`` matters; any image size, square or not.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .validation import check_data, check_non_negative, check_positive_int

__all__ = ["normalize_data", "PatchNormalizer", "ZCAWhitening", "make_preprocessor",
           "PREPROCESSORS", "default_output_activation", "default_hyperparameters",
           "preprocessor_state",
           "load_preprocessor", "load_model_preprocessor"]

#: Target interval of SPEC's normalisation.
LOW, HIGH = 0.1, 0.9
#: Clip at this many standard deviations from the channel mean.
N_STD = 3.0


def _as_float(X, name="X"):
    """Validated float rows: float32 stays float32, everything else becomes float64."""
    X = check_data(X, name=name)
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


def _own_float_copy(X, name="X"):
    """Like :func:`_as_float`, but never shares memory with ``X`` (safe to modify in place)."""
    converted = _as_float(X, name)
    if isinstance(X, np.ndarray) and np.may_share_memory(converted, X):
        converted = converted.copy()
    return converted


def _channel_view(X, channels, name="X"):
    """``X`` of shape (n, D) seen as (n, D // channels, channels), without copying."""
    if X.shape[1] % channels:
        raise ValueError(f"{name} has {X.shape[1]} columns, not a multiple of channels={channels}")
    return X.reshape(X.shape[0], -1, channels)


def _remove_row_mean(X):
    """Each row minus its own mean (over all its pixels and channels), as a new array."""
    return X - X.mean(axis=1, keepdims=True, dtype=np.float64).astype(X.dtype)


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

    Attributes
    ----------
    mean_ : ndarray of shape (channels,)
        Per-channel mean over every row and pixel seen by :meth:`fit`.
    std_ : ndarray of shape (channels,)
        Per-channel standard deviation (``ddof=0``).
    low_, high_ : ndarray of shape (channels,)
        Clip bounds ``mean_ -+ 3 * std_``, mapped to 0.1 and 0.9.
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

    def __init__(self, remove_mean=False, channels=3):
        self.remove_mean = remove_mean
        self.channels = channels

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
        X = _as_float(X)
        if self.remove_mean:
            X = _remove_row_mean(X)
        view = _channel_view(X, channels)
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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels * channels)

        Returns
        -------
        ndarray of shape (n_samples, n_pixels * channels)
            float64 (float32 input stays float32), in ``[0.1, 0.9]``.
        """
        check_is_fitted(self, "mean_")
        X = _own_float_copy(X)
        if self.remove_mean:
            X -= X.mean(axis=1, keepdims=True, dtype=np.float64).astype(X.dtype)
        view = _channel_view(X, len(self.mean_))
        low, high = self.low_.astype(X.dtype), self.high_.astype(X.dtype)
        scale, offset = self._mapping(X.dtype)
        np.clip(view, low, high, out=view)
        view -= low
        view *= scale
        view += offset
        return X

    def inverse_transform(self, X):
        """Map values in ``[0.1, 0.9]`` back to the clip interval (clipping and mean removal are not undone).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels * channels)

        Returns
        -------
        ndarray of shape (n_samples, n_pixels * channels)
        """
        check_is_fitted(self, "mean_")
        X = _own_float_copy(X)
        view = _channel_view(X, len(self.mean_))
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
        return metadata, {"mean": self.mean_, "std": self.std_}

    @classmethod
    def from_state(cls, metadata, arrays):
        """Rebuild a fitted normaliser from :meth:`get_state`'s output."""
        model = cls(**metadata["params"])
        model.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        model.std_ = np.asarray(arrays["std"], dtype=np.float64)
        model.low_ = model.mean_ - N_STD * model.std_
        model.high_ = model.mean_ + N_STD * model.std_
        model.n_features_in_ = int(metadata.get("n_features_in", 0))
        return model


class ZCAWhitening(TransformerMixin, BaseEstimator):
    """ZCA whitening fitted on patches: ``(X - mean_) @ whitening_``.

    Parameters
    ----------
    epsilon : float, default=0.1
        Added to every eigenvalue of the covariance before the inverse square
        root: it damps the low-variance (noisy, high-frequency) directions.
        It is on the scale of the data's variance; 0.1 suits patches in
        ``[0, 1]`` or ``[0.1, 0.9]`` (UFLDL's value).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    whitening_ : ndarray of shape (n_features, n_features)
        ``U diag(1 / sqrt(s + epsilon)) U^T`` (symmetric), where
        ``Sigma = U diag(s) U^T`` is the covariance of the centred rows.
    dewhitening_ : ndarray of shape (n_features, n_features)
        ``U diag(sqrt(s + epsilon)) U^T``, the inverse of ``whitening_``.
    eigenvalues_ : ndarray of shape (n_features,)
        ``s``, in decreasing order.
    n_features_in_ : int
    """

    def __init__(self, epsilon=0.1):
        self.epsilon = epsilon

    def fit(self, X, y=None):
        """Estimate the mean and the whitening matrix from the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        epsilon = check_non_negative(self.epsilon, "epsilon")
        X = check_data(X, name="X").astype(np.float64, copy=False)
        self.mean_ = X.mean(axis=0)
        centred = X - self.mean_
        covariance = centred.T @ centred / X.shape[0]
        eigenvalues, vectors = np.linalg.eigh(covariance)
        eigenvalues = np.clip(eigenvalues[::-1], 0.0, None)
        vectors = vectors[:, ::-1]
        if np.any(eigenvalues + epsilon <= 0):
            raise ValueError(f"the covariance is singular and epsilon={self.epsilon!r}; "
                             f"use epsilon > 0")
        root = np.sqrt(eigenvalues + epsilon)
        self.whitening_ = (vectors / root) @ vectors.T
        self.dewhitening_ = (vectors * root) @ vectors.T
        self.eigenvalues_ = eigenvalues
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """Whiten: ``(X - mean_) @ whitening_``, shape ``(n_samples, n_features)``."""
        check_is_fitted(self, "whitening_")
        X = _as_float(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} columns; this ZCAWhitening was fitted on "
                             f"{self.n_features_in_}")
        return (X - self.mean_.astype(X.dtype)) @ self.whitening_.astype(X.dtype)

    def inverse_transform(self, X):
        """Undo the whitening: ``X @ dewhitening_ + mean_``."""
        check_is_fitted(self, "whitening_")
        X = _as_float(X)
        return X @ self.dewhitening_.astype(X.dtype) + self.mean_.astype(X.dtype)

    def get_state(self):
        """``(metadata, arrays)`` describing the fitted whitening (JSON + numeric arrays)."""
        check_is_fitted(self, "whitening_")
        metadata = {"class": type(self).__name__, "params": self.get_params(deep=False),
                    "n_features_in": int(self.n_features_in_)}
        return metadata, {"mean": self.mean_, "whitening": self.whitening_,
                          "dewhitening": self.dewhitening_, "eigenvalues": self.eigenvalues_}

    @classmethod
    def from_state(cls, metadata, arrays):
        """Rebuild a fitted whitening from :meth:`get_state`'s output."""
        model = cls(**metadata["params"])
        model.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        model.whitening_ = np.asarray(arrays["whitening"], dtype=np.float64)
        model.dewhitening_ = np.asarray(arrays["dewhitening"], dtype=np.float64)
        model.eigenvalues_ = np.asarray(arrays["eigenvalues"], dtype=np.float64)
        model.n_features_in_ = int(metadata.get("n_features_in", model.mean_.shape[0]))
        return model


# ---------------------------------------------------------------- named choices
#: ``nnlite train --normalization`` choices.
PREPROCESSORS = ("spec", "mean-removed", "zca")
_OUTPUT_ACTIVATION = {"spec": "sigmoid", "mean-removed": "sigmoid", "zca": "identity"}
_STATE_CLASSES = {"PatchNormalizer": PatchNormalizer, "ZCAWhitening": ZCAWhitening}


def make_preprocessor(name, epsilon=0.1, channels=3):
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
          linear decoder (``output_activation='identity'``, see
          :func:`default_output_activation`) and a stronger weight decay
          than SPEC's, which otherwise leaves the weights along the weak
          (amplified) directions undamped and the filters noisy: UFLDL's
          linear-decoder values ``lambda_=3e-3, sparsity_param=0.035,
          beta=5`` are what ``nnlite train --normalization zca`` uses.
    epsilon : float, default=0.1
        ZCA regulariser (``'zca'`` only).
    channels : int, default=3

    Returns
    -------
    transformer
    """
    if name == "spec":
        return PatchNormalizer(remove_mean=False, channels=channels)
    if name == "mean-removed":
        return PatchNormalizer(remove_mean=True, channels=channels)
    if name == "zca":
        return Pipeline([("normalize", PatchNormalizer(remove_mean=True, channels=channels)),
                         ("zca", ZCAWhitening(epsilon=epsilon))])
    raise ValueError(f"unknown normalization {name!r}; choose one of {', '.join(PREPROCESSORS)}")


def default_output_activation(name):
    """The output activation that suits preprocessor ``name``: 'sigmoid', or 'identity' for 'zca'."""
    if name not in _OUTPUT_ACTIVATION:
        raise ValueError(f"unknown normalization {name!r}; choose one of {', '.join(PREPROCESSORS)}")
    return _OUTPUT_ACTIVATION[name]


def default_hyperparameters(name):
    """Sparse-autoencoder settings that suit preprocessor ``name``.

    Returns
    -------
    dict with ``sparsity_param``, ``lambda_``, ``beta``
        SPEC's ``0.01, 1e-4, 3`` for 'spec' and 'mean-removed'; UFLDL's
        linear-decoder values ``0.035, 3e-3, 5`` for 'zca' (with SPEC's
        weight decay the weights along the whitening's weak directions stay
        undamped and the filters look like noise).
    """
    default_output_activation(name)   # validates the name
    if name == "zca":
        return {"sparsity_param": 0.035, "lambda_": 3e-3, "beta": 5.0}
    return {"sparsity_param": 0.01, "lambda_": 1e-4, "beta": 3.0}


def preprocessor_state(preprocessor, prefix="preprocessor/"):
    """Describe a fitted preprocessor as JSON metadata + named arrays (for a model file).

    Parameters
    ----------
    preprocessor : PatchNormalizer, ZCAWhitening or Pipeline of them
    prefix : str
        Prefix of the array names.

    Returns
    -------
    metadata : dict
        JSON-serialisable.
    arrays : dict of str -> ndarray

    Examples
    --------
    Store it beside a model, then get both back::

        metadata, arrays = preprocessor_state(normalizer)
        model.save("model.npz", arrays=arrays, metadata={"preprocessor": metadata})
        model, normalizer = load_model_preprocessor("model.npz")
    """
    if isinstance(preprocessor, Pipeline):
        steps, arrays = [], {}
        for index, (name, step) in enumerate(preprocessor.steps):
            step_metadata, step_arrays = preprocessor_state(step, f"{prefix}{index}/")
            steps.append(dict(step_metadata, name=name))
            arrays.update(step_arrays)
        return {"class": "Pipeline", "steps": steps}, arrays
    if not hasattr(preprocessor, "get_state"):
        raise ValueError(f"cannot store a {type(preprocessor).__name__} preprocessor; "
                         f"use PatchNormalizer, ZCAWhitening or a Pipeline of them")
    metadata, arrays = preprocessor.get_state()
    return metadata, {prefix + key: np.asarray(value) for key, value in arrays.items()}


def load_preprocessor(metadata, arrays, prefix="preprocessor/"):
    """Rebuild the fitted preprocessor described by :func:`preprocessor_state`.

    Parameters
    ----------
    metadata : dict
    arrays : dict of str -> ndarray
    prefix : str

    Returns
    -------
    PatchNormalizer, ZCAWhitening or Pipeline
    """
    name = metadata.get("class")
    if name == "Pipeline":
        steps = [(step.get("name", f"step{index}"),
                  load_preprocessor(step, arrays, f"{prefix}{index}/"))
                 for index, step in enumerate(metadata.get("steps", []))]
        if not steps:
            raise ValueError("stored preprocessor pipeline has no steps")
        return Pipeline(steps)
    if name not in _STATE_CLASSES:
        raise ValueError(f"unknown stored preprocessor class {name!r}")
    own = {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}
    try:
        return _STATE_CLASSES[name].from_state(metadata, own)
    except KeyError as error:
        raise ValueError(f"stored {name} lacks array {prefix}{error.args[0]}") from None


def load_model_preprocessor(path):
    """Load a model file and the preprocessor stored in it by ``nnlite train``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    model : SparseAutoencoder (or another registered estimator)
    preprocessor : fitted transformer, or None when the file holds none
    """
    from .estimator import load_model

    model, extras = load_model(path, with_extras=True)
    metadata = extras["metadata"].get("preprocessor")
    if metadata is None:
        return model, None
    return model, load_preprocessor(metadata, extras["arrays"])
