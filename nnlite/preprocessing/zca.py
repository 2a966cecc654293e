"""ZCA whitening fitted on patches (rows of ``p * p * c`` values)."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..validation import check_data, check_non_negative
from .normalize import as_float

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
        """Estimate the mean and the whitening matrix from the rows of ``X`` (n_samples, n_features); returns self."""
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
        X = as_float(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} columns; this ZCAWhitening was fitted on "
                             f"{self.n_features_in_}")
        return (X - self.mean_.astype(X.dtype)) @ self.whitening_.astype(X.dtype)

    def inverse_transform(self, X):
        """Undo the whitening: ``X @ dewhitening_ + mean_``."""
        check_is_fitted(self, "whitening_")
        X = as_float(X)
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
