"""A one-vs-rest linear L2-SVM (squared hinge) trained for all classes at once with L-BFGS.

Coates, Lee & Ng (2011) train their classifier this way (minFunc on the
primal): every iteration costs two products with the feature matrix
(``X @ W`` and ``X.T @ G``) whatever the number of classes, so a dense
40,000 x 12,800 float32 matrix is read twice per iteration instead of
once per class and coordinate pass as in liblinear's solvers.

The objective, for labels ``y_ik = +1`` if sample ``i`` is of class ``k``
else ``-1``, scores ``s_ik = x_i . w_k + b_k``::

    J(W, b) = 1/2 ||W||^2 + C * sum_ik max(0, 1 - y_ik s_ik)^2

is that of :class:`sklearn.svm.LinearSVC` (``loss='squared_hinge'``,
``penalty='l2'``, one-vs-rest) with an unpenalised intercept.
"""

from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval

from ..validation import check_int

__all__ = ["L2SVM", "squared_hinge_cost"]


def squared_hinge_cost(theta, X, signs, C):
    """``J`` and its gradient for ``theta = [W.ravel(), b]`` (W of shape (n_features, n_classes)).

    Parameters
    ----------
    theta : ndarray of shape (n_features * n_classes + n_classes,)
    X : ndarray of shape (n_samples, n_features)
    signs : ndarray of shape (n_samples, n_classes)
        ``+1`` for the sample's class, ``-1`` elsewhere.
    C : float

    Returns
    -------
    float, ndarray of the shape of ``theta``
    """
    n_features, n_classes = X.shape[1], signs.shape[1]
    W = theta[:n_features * n_classes].reshape(n_features, n_classes)
    b = theta[n_features * n_classes:]
    scores = X @ W.astype(X.dtype, copy=False) + b.astype(X.dtype)
    margin = np.maximum(1 - signs * scores, 0)
    value = 0.5 * float(np.sum(W * W)) + C * float(np.sum(margin.astype(np.float64) ** 2))
    factor = (-2 * C) * signs * margin
    grad_W = W + (X.T @ factor).astype(np.float64)
    grad_b = factor.sum(axis=0, dtype=np.float64)
    return value, np.concatenate([grad_W.ravel(), grad_b])


class L2SVM(ClassifierMixin, BaseEstimator):
    """Linear one-vs-rest L2-SVM (squared hinge), all classes in one L-BFGS problem.

    Parameters
    ----------
    C : float, default=1.0
        Weight of the summed squared hinge losses (the regulariser is ``||W||^2 / 2``).
    max_iter : int, default=500
        L-BFGS iterations.
    tol : float, default=1e-5
        Relative cost change that stops L-BFGS (``ftol``).

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : int
    """

    #: Checked by scikit-learn's ``_validate_params`` (``nnlite classify`` checks ``--set`` values up front).
    _parameter_constraints = {"C": [Interval(Real, 0, None, closed="neither")],
                              "max_iter": [Interval(Integral, 1, None, closed="left")],
                              "tol": [Interval(Real, 0, None, closed="left")],
                              "random_state": ["random_state"]}

    def __init__(self, C=1.0, max_iter=500, tol=1e-5, random_state=None):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X, y):
        """Fit on features ``X`` (n_samples, n_features), labels ``y`` (n_samples,); returns self."""
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C!r}")
        check_int(self.max_iter, "max_iter", minimum=1)
        X = np.asarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        self.classes_, index = np.unique(np.asarray(y), return_inverse=True)
        n_samples, n_features = X.shape
        n_classes = self.classes_.size
        signs = -np.ones((n_samples, n_classes), dtype=X.dtype)
        signs[np.arange(n_samples), index] = 1
        C = float(self.C)

        start = np.zeros(n_features * n_classes + n_classes)
        result = minimize(squared_hinge_cost, start, args=(X, signs, C), jac=True, method="L-BFGS-B",
                          options={"maxiter": int(self.max_iter), "ftol": float(self.tol), "gtol": 1e-8})
        self.coef_ = result.x[:n_features * n_classes].reshape(n_features, n_classes).T.copy()
        self.intercept_ = result.x[n_features * n_classes:].copy()
        self.n_iter_ = int(result.nit)
        return self

    def decision_function(self, X):
        """Scores per class, shape (n_samples, n_classes)."""
        return np.asarray(X) @ self.coef_.T.astype(np.asarray(X).dtype) + self.intercept_

    def predict(self, X):
        """Labels of the rows of ``X`` (n_samples, n_features) -> (n_samples,)."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
