"""The scikit-learn classifiers of the study, by name, and raw pixels as features."""

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ..data.dataset import as_float
from .l2svm import L2SVM

__all__ = ["CLASSIFIER_NAMES", "CLASSIFIER_DEFAULTS", "C_SELECTABLE", "DEFAULT_CLASSIFIERS", "check_classifier_name", "make_classifier",
           "raw_features"]

#: Classifier names understood by :func:`make_classifier`, in table order.
CLASSIFIER_NAMES = ("logistic", "linear_svm", "knn", "random_forest", "l2svm")
#: The classifiers of a study unless told otherwise ('l2svm' is the large-feature variant of 'linear_svm').
DEFAULT_CLASSIFIERS = CLASSIFIER_NAMES[:4]
#: Linear classifiers whose C ``select_C`` chooses on a validation split (:class:`ValidatedLinear`).
C_SELECTABLE = ("logistic", "linear_svm", "l2svm")

#: Each classifier's parameters where they differ from scikit-learn's defaults.
CLASSIFIER_DEFAULTS = {
    "logistic": {"C": 0.01, "max_iter": 500},
    "linear_svm": {"C": 0.01, "max_iter": 5000},
    "knn": {"n_neighbors": 10},
    "random_forest": {"n_estimators": 200, "n_jobs": -1},
    "l2svm": {"C": 0.01, "max_iter": 500},
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
    name : {'logistic', 'linear_svm', 'knn', 'random_forest', 'l2svm'}
        Logistic regression, linear SVM (liblinear's, or ``'l2svm'``: the
        same squared-hinge objective for all classes at once by L-BFGS,
        :class:`~nnlite.classify.l2svm.L2SVM`, faster on large dense
        features) and k-NN are pipelines ``StandardScaler -> model``; the
        random forest takes raw features.
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
    if name == "l2svm":
        return make_pipeline(StandardScaler(), L2SVM(random_state=random_state, **options))
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
