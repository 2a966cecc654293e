"""The scikit-learn classifiers of the study, by name, and raw pixels as features."""

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ..data.dataset import as_float

__all__ = ["CLASSIFIER_NAMES", "CLASSIFIER_DEFAULTS", "check_classifier_name", "make_classifier",
           "raw_features"]

#: Classifier names understood by :func:`make_classifier`, in table order.
CLASSIFIER_NAMES = ("logistic", "linear_svm", "knn", "random_forest")

#: Each classifier's parameters where they differ from scikit-learn's defaults.
CLASSIFIER_DEFAULTS = {
    "logistic": {"C": 0.01, "max_iter": 500},
    "linear_svm": {"C": 0.01, "max_iter": 5000},
    "knn": {"n_neighbors": 10},
    "random_forest": {"n_estimators": 200, "n_jobs": -1},
}


def check_classifier_name(name, what="classifier"):
    """Return ``name`` if it is one of :data:`CLASSIFIER_NAMES`, else raise ``ValueError`` naming it."""
    if name not in CLASSIFIER_NAMES:
        raise ValueError(f"unknown {what} {name!r}; choose from {', '.join(CLASSIFIER_NAMES)}")
    return name


def make_classifier(name, random_state=None, **params):
    """A scikit-learn classifier by name, standardising its input where it needs it.

    Parameters
    ----------
    name : {'logistic', 'linear_svm', 'knn', 'random_forest'}
        Logistic regression, linear SVM and k-NN are pipelines
        ``StandardScaler -> model``; the random forest takes raw features.
    random_state : int, optional
        Seeds the models that draw random numbers.
    **params
        Overrides of the model's parameters (e.g. ``C=0.1``).

    Returns
    -------
    sklearn estimator
        Unfitted; ``fit(X, y)`` with ``X`` of shape (n_samples, n_features).
    """
    check_classifier_name(name)
    options = dict(CLASSIFIER_DEFAULTS[name], **params)
    if name == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(random_state=random_state, **options))
    if name == "linear_svm":
        return make_pipeline(StandardScaler(), LinearSVC(random_state=random_state, **options))
    if name == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(**options))
    return RandomForestClassifier(random_state=random_state, **options)


def raw_features(images, dtype="float32"):
    """Pixels as features.

    Parameters
    ----------
    images : ndarray of shape (n_images, h * w * c)
    dtype : {'float32', 'float64'}

    Returns
    -------
    ndarray of shape (n_images, h * w * c)
        ``images`` as floats (uint8 scaled to [0, 1]).
    """
    scale = 1.0 / 255 if np.dtype(images.dtype) == np.uint8 else None
    return as_float(images, dtype, scale=scale)
