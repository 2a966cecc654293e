"""Tests of the validated linear classifiers (C chosen on a validation split of the training data)."""

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from nnlite.classify.l2svm import L2SVM, squared_hinge_cost
from nnlite.classify.tuning import C_GRIDS, ValidatedLinear
from nnlite.gradcheck import numerical_gradient


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 5)) + 3.0 * np.eye(3, 5)[y]
    return X, y


@pytest.mark.parametrize("model", ["linear_svm", "logistic"])
def test_chooses_C_on_the_grid_and_reports(model):
    X, y = _blobs()
    lines = []
    classifier = ValidatedLinear(model, random_state=0, progress=lines.append).fit(X, y)
    assert set(classifier.grid_scores_) == set(C_GRIDS[model])
    assert classifier.C_ == max(C_GRIDS[model], key=lambda C: (classifier.grid_scores_[C], -C))
    assert np.mean(classifier.predict(X) == y) > 0.9
    assert any("validation accuracy" in line for line in lines)
    assert lines[-1].startswith(f"  {model} C=") and "refitted in" in lines[-1]


def test_one_C_is_no_search_and_quiet_without_progress(capsys):
    X, y = _blobs()
    classifier = ValidatedLinear("linear_svm", Cs=[0.5], random_state=0).fit(X, y)
    assert classifier.C_ == 0.5 and classifier.grid_scores_ == {}
    assert capsys.readouterr().err == ""


def test_standardisation_uses_training_rows_only():
    X, y = _blobs()
    classifier = ValidatedLinear("logistic", Cs=[1.0], random_state=0).fit(X[:200], y[:200])
    np.testing.assert_allclose(classifier.pipeline_[0].mean_, X[:200].mean(axis=0))


def test_bad_grid_and_model():
    X, y = _blobs()
    with pytest.raises(ValueError, match="Cs"):
        ValidatedLinear(Cs=[0.1, -1]).fit(X, y)
    with pytest.raises(ValueError, match="model"):
        ValidatedLinear("tree").fit(X, y)


def test_l2svm_matches_liblinear_on_a_small_problem():
    X, y = _blobs(400)
    ours = L2SVM(C=0.01, max_iter=2000, tol=1e-12).fit(X, y)
    # liblinear penalises the intercept unless it is scaled up
    theirs = LinearSVC(C=0.01, tol=1e-10, max_iter=100000, intercept_scaling=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=2e-3)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.predict(X.astype(np.float32)).shape == (400,)


def test_l2svm_cost_by_hand_and_its_gradient():
    # one sample x = (1, 2), class 0 of 2; W = [[1, 0], [0, 1]] (features x classes), b = (0, 0):
    # scores (1, 2); margins max(0, 1 - 1) = 0 and max(0, 1 + 2) = 3; J = 1/2 * 2 + C * 9
    X, signs = np.array([[1.0, 2.0]]), np.array([[1.0, -1.0]])
    value, _ = squared_hinge_cost(np.array([1.0, 0, 0, 1, 0, 0]), X, signs, 0.5)
    assert value == pytest.approx(1.0 + 4.5)
    Xr, y = _blobs(30)
    signs = -np.ones((30, 3))
    signs[np.arange(30), y] = 1
    theta = np.random.default_rng(1).normal(size=18)
    _, grad = squared_hinge_cost(theta, Xr, signs, 0.3)
    numeric = numerical_gradient(lambda t: squared_hinge_cost(t, Xr, signs, 0.3)[0], theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)
