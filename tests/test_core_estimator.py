"""SparseAutoencoder: scikit-learn behaviour, save/load round trip and input checks (file format: test_model_file.py)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from nnlite import SparseAutoencoder, load_model


@pytest.fixture
def data(rng):
    return rng.uniform(0.1, 0.9, (120, 12))


@pytest.fixture
def fitted(data):
    return SparseAutoencoder(hidden_size=5, max_iter=15, random_state=0).fit(data)


def test_three_lines_train_a_model(data):
    model = SparseAutoencoder(hidden_size=5, max_iter=15, random_state=0)
    codes = model.fit(data).transform(data)
    assert codes.shape == (120, 5) and np.all((codes > 0) & (codes < 1))
    assert model.n_iter_ == 15 and len(model.loss_curve_) == 16
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.components_.shape == (5, 12)
    assert model.inverse_transform(codes).shape == (120, 12)
    assert model.score(data) == pytest.approx(-model.reconstruction_error(data))


def test_fit_is_deterministic_with_a_seed(data):
    first = SparseAutoencoder(hidden_size=4, max_iter=5, random_state=3).fit(data).transform(data)
    second = SparseAutoencoder(hidden_size=4, max_iter=5, random_state=3).fit(data).transform(data)
    np.testing.assert_array_equal(first, second)


def test_pipeline_and_clone(data, rng):
    labels = (data[:, 0] > 0.5).astype(int)
    pipe = Pipeline([("ae", SparseAutoencoder(hidden_size=6, max_iter=10, random_state=0)),
                     ("clf", LogisticRegression())])
    pipe.fit(data, labels)
    assert pipe.predict(data).shape == (120,)
    copy = clone(pipe.named_steps["ae"])
    assert copy.get_params() == pipe.named_steps["ae"].get_params()
    assert not hasattr(copy, "network_")
    copy.set_params(hidden_size=3)
    assert copy.hidden_size == 3


def test_deep_model_transform_is_the_middle_layer(data):
    model = SparseAutoencoder(hidden_size=[6, 3, 6], max_iter=5, random_state=0).fit(data)
    assert model.transform(data).shape == (120, 3)
    assert model.encode(data, layer=1).shape == (120, 6)
    assert model.encode(data, layer=3).shape == (120, 6)
    with pytest.raises(ValueError, match=r"layer must be an integer in \[1, 3\], got 4"):
        model.encode(data, layer=4)


def test_save_and_load_round_trip(fitted, data, tmp_path):
    path = fitted.save(tmp_path / "model", arrays={"stats": np.arange(3.0)}, metadata={"note": "x"})
    assert path.endswith(".npz")
    loaded, extras = load_model(path, with_extras=True)
    np.testing.assert_array_equal(loaded.transform(data), fitted.transform(data))
    assert loaded.get_params() == fitted.get_params()
    assert loaded.loss_curve_ == fitted.loss_curve_ and loaded.n_iter_ == fitted.n_iter_
    np.testing.assert_array_equal(extras["arrays"]["stats"], np.arange(3.0))
    assert extras["metadata"] == {"note": "x"}
    assert isinstance(SparseAutoencoder.load(path), SparseAutoencoder)
    assert SparseAutoencoder.load(path, backend="numpy").network_.backend.name == "numpy"


@pytest.mark.parametrize("X, message", [
    (np.full((5, 12), np.nan), "NaN or infinite"),
    (np.ones(12), "must be 2-D"),
    (np.ones((0, 12)), "at least 1 row"),
    (np.array([["a"] * 12]), "numeric"),
])
def test_bad_training_data(X, message):
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(hidden_size=3, max_iter=2).fit(X)


def test_wrong_number_of_columns_at_transform(fitted):
    with pytest.raises(ValueError, match="has 7 columns, expected 12"):
        fitted.transform(np.ones((3, 7)))


def test_integer_and_single_row_data_are_accepted():
    X = np.random.default_rng(0).integers(0, 255, (30, 12)).astype(np.uint8) / 255.0
    model = SparseAutoencoder(hidden_size=4, max_iter=3, random_state=0).fit((X * 255).astype(np.uint8) / 255)
    assert model.transform(X[:1]).shape == (1, 4)
    model_int = SparseAutoencoder(hidden_size=4, max_iter=3, random_state=0).fit(np.eye(12, dtype=int))
    assert np.isfinite(model_int.cost_)
    one_row = SparseAutoencoder(hidden_size=4, max_iter=3, random_state=0).fit(X[:1])
    assert np.isfinite(one_row.cost_)


@pytest.mark.parametrize("params, message", [
    ({"hidden_size": [5, 3]}, "symmetric"),
    ({"hidden_size": []}, "at least one hidden layer"),
    ({"hidden_size": [0]}, "> 0"),
    ({"sparsity_param": 1.5}, r"open interval \(0, 1\), got 1.5"),
    ({"sparsity_param": 0.0}, "open interval"),
    ({"lambda_": -1.0}, "lambda_ must be a finite number >= 0, got -1.0"),
    ({"beta": -0.1}, "beta must be"),
    ({"activation": "tanh"}, r"unknown activation 'tanh'; choose one of \['identity', 'relu', 'sigmoid'\]"),
    ({"activation": "identity"}, "KL sparsity needs non-negative"),
    ({"dtype": "float16"}, "dtype must be"),
    ({"backend": "nope"}, "unknown backend"),
])
def test_bad_hyper_parameters_fail_at_fit(params, message, data):
    model = SparseAutoencoder(max_iter=2, **{"hidden_size": 3, **params})
    with pytest.raises(ValueError, match=message):
        model.fit(data)


def test_float32_training(data):
    model = SparseAutoencoder(hidden_size=5, max_iter=10, random_state=0, dtype="float32").fit(data)
    assert model.transform(data).dtype == np.float32
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_optimizer_choice(data):
    scipy_model = SparseAutoencoder(hidden_size=5, max_iter=30, random_state=0).fit(data)
    own_model = SparseAutoencoder(hidden_size=5, max_iter=30, random_state=0, optimizer="lbfgs").fit(data)
    assert own_model.n_iter_ == 30
    assert own_model.cost_ < own_model.loss_curve_[0]
    assert own_model.cost_ <= 1.05 * scipy_model.cost_
    with pytest.raises(ValueError, match="optimizer must be one of"):
        SparseAutoencoder(hidden_size=5, max_iter=3, optimizer="adam").fit(data)
