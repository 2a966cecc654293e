"""Tests of the validated linear classifiers (C chosen on a validation split of the training data)."""

import numpy as np
import pytest

from nnlite.classify.tuning import C_GRIDS, ValidatedLinear


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
