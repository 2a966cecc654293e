"""Linear classifiers whose regularisation C is chosen on a validation split of the training features.

:class:`ValidatedLinear` is the classifier stage of Coates, Lee & Ng (2011):
features standardised with statistics of the *training* features only, then
a linear L2-SVM (squared hinge, :class:`~sklearn.svm.LinearSVC`) or
logistic regression, with ``C`` picked from a small grid by the accuracy on
a stratified, seeded validation split of the training images; the model is
then refitted on all training images with that ``C``.  The test set is
never looked at.  The grid's scores are kept (``grid_scores_``) so that
the study can report them.
"""

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ..progress import format_seconds
from .l2svm import L2SVM
from ..validation import check_random_state

__all__ = ["C_GRIDS", "ValidatedLinear"]

#: The C values tried per model (standardised features).
C_GRIDS = {"linear_svm": (1e-4, 1e-3, 1e-2, 1e-1), "l2svm": (1e-4, 1e-3, 1e-2, 1e-1),
           "logistic": (1e-3, 1e-2, 1e-1, 1.0)}
MODELS = {"linear_svm": LinearSVC, "l2svm": L2SVM, "logistic": LogisticRegression}
DEFAULT_OPTIONS = {"linear_svm": {"max_iter": 5000}, "l2svm": {"max_iter": 500}, "logistic": {"max_iter": 500}}


class ValidatedLinear(ClassifierMixin, BaseEstimator):
    """Standardise, then a linear model with C chosen on a validation split of the training data.

    Parameters
    ----------
    model : {'linear_svm', 'l2svm', 'logistic'}, default='linear_svm'
        L2-regularised squared-hinge SVM, one-vs-rest, by liblinear
        (``'linear_svm'``) or by L-BFGS on all classes at once
        (``'l2svm'``, :class:`~nnlite.classify.l2svm.L2SVM`: the same
        objective, faster on large dense features); or multinomial
        logistic regression.
    Cs : sequence of float, optional
        Grid of ``C``; default :data:`C_GRIDS` ``[model]``.
    validation : float or int, default=0.2
        Fraction (or number) of the training rows held out, stratified, to
        score each ``C``.
    random_state : int, optional
        Seeds the split and the models.
    progress : callable(str), optional
        Receives a line at the start and end of every fit (with its time).
    **options
        Passed to the scikit-learn model (e.g. ``max_iter``).

    Attributes
    ----------
    C_ : float
        The chosen C.
    grid_scores_ : dict
        ``{C: validation accuracy}``.
    pipeline_ : Pipeline
        ``StandardScaler -> model`` refitted on all training rows with ``C_``.
    classes_ : ndarray

    Notes
    -----
    A. Coates, H. Lee and A. Y. Ng, "An analysis of single-layer networks
    in unsupervised feature learning", AISTATS 2011, train an L2-SVM on the
    pooled features and pick C by cross-validation; one validation split
    costs a fifth of 5-fold cross-validation.
    """

    def __init__(self, model="linear_svm", Cs=None, validation=0.2, random_state=None, progress=None,
                 **options):
        self.model = model
        self.Cs = Cs
        self.validation = validation
        self.random_state = random_state
        self.progress = progress
        self.options = options

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self.options)
        return params

    def set_params(self, **params):
        for name in list(params):
            if name not in ("model", "Cs", "validation", "random_state", "progress"):
                self.options[name] = params.pop(name)
        return super().set_params(**params)

    def _say(self, text):
        if self.progress is not None:
            self.progress(text)

    def _make(self, C, seed):
        options = dict(DEFAULT_OPTIONS[self.model], **self.options)
        return MODELS[self.model](C=C, random_state=seed, **options)

    def _timed_fit(self, estimator, X, y, what):
        self._say(f"  {self.model} {what}: fitting on {X.shape[0]:,} x {X.shape[1]:,} ...")
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
        return estimator, seconds

    def fit(self, X, y):
        """Choose C on a validation split of ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)

        Returns
        -------
        self
        """
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        Cs = C_GRIDS[self.model] if self.Cs is None else tuple(float(C) for C in self.Cs)
        if not Cs or any(not C > 0 for C in Cs):
            raise ValueError(f"Cs must hold positive numbers, got {self.Cs!r}")
        rng = check_random_state(self.random_state)
        seed = int(rng.integers(2**31 - 1))
        y = np.asarray(y)
        self.grid_scores_ = {}
        if len(Cs) > 1:
            inner, held = train_test_split(np.arange(len(y)), test_size=self.validation, stratify=y,
                                           random_state=seed)
            scaler = StandardScaler().fit(X[inner])
            X_inner, X_held = scaler.transform(X[inner]), scaler.transform(X[held])
            for C in Cs:
                model, seconds = self._timed_fit(self._make(C, seed), X_inner, y[inner], f"C={C:g}")
                self.grid_scores_[C] = float(np.mean(model.predict(X_held) == y[held]))
                self._say(f"  {self.model} C={C:g}: validation accuracy {self.grid_scores_[C]:.4f} "
                          f"({format_seconds(seconds)})")
            del X_inner, X_held
        self.C_ = max(Cs, key=lambda C: (self.grid_scores_.get(C, 0.0), -C)) if len(Cs) > 1 else Cs[0]
        pipeline = make_pipeline(StandardScaler(), self._make(self.C_, seed))
        self.pipeline_, seconds = self._timed_fit(pipeline, X, y, f"C={self.C_:g} on all training rows")
        self._say(f"  {self.model} C={self.C_:g}: refitted in {format_seconds(seconds)}")
        self.classes_ = self.pipeline_.classes_
        return self

    def predict(self, X):
        """Class labels of the rows of ``X`` (n_samples, n_features) -> (n_samples,)."""
        return self.pipeline_.predict(X)

    def decision_function(self, X):
        """Scores per class, shape (n_samples, n_classes)."""
        return self.pipeline_.decision_function(X)
