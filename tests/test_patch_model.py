"""PatchSettings (defaults, presets, validation) and PatchModel (fit, encode, save/load)."""

import json

import numpy as np
import pytest

from nnlite import SparseAutoencoder, StackedAutoencoder
from nnlite.exceptions import ModelFileError
from nnlite.patch_model import NORMALIZATIONS, PRESETS, PatchModel, PatchSettings
from nnlite.preprocessing import PatchNormalizer

TINY = dict(hidden=(10,), num_patches=300, max_iter=5)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(20, 16 * 16 * 3)).astype(np.uint8)


@pytest.fixture(scope="module")
def fitted(images):
    return PatchModel(**TINY).fit(images)


# ----------------------------------------------------------------- settings
def test_zca_options_give_the_whitened_preset():
    assert NORMALIZATIONS == ("spec", "mean-removed", "zca") and set(PRESETS) == {"spec", "whitened"}
    whitened = PatchSettings.from_options(normalization="zca")
    assert whitened == PatchSettings.preset("whitened")
    assert (whitened.sparsity_param, whitened.lambda_, whitened.beta, whitened.output_activation) == (
        0.035, 3e-3, 5.0, "identity")
    assert PatchSettings.from_options() == PatchSettings() == PatchSettings.preset("spec")
    spec = PatchSettings.from_options(normalization="mean-removed")
    assert (spec.sparsity_param, spec.lambda_, spec.beta, spec.output_activation) == (0.01, 1e-4, 3.0, "sigmoid")


def test_explicit_options_win_and_none_means_default():
    settings = PatchSettings.from_options(normalization="zca", lambda_=1e-4, output_activation="sigmoid",
                                          beta=None, max_iter=None, hidden=[200, 50, 200])
    assert settings.lambda_ == 1e-4 and settings.output_activation == "sigmoid"
    assert settings.sparsity_param == 0.035 and settings.beta == 5.0 and settings.max_iter == 400
    assert settings.hidden == (200, 50, 200)
    assert PatchSettings.from_options(random_state=None).random_state is None
    assert PatchSettings.from_options().random_state == 0
    assert PatchSettings.preset("whitened", beta=1.0).beta == 1.0
    with pytest.raises(TypeError, match="unknown patch settings \\['rho'\\]"):
        PatchSettings.from_options(rho=0.1)
    with pytest.raises(ValueError, match="unknown preset 'pca'"):
        PatchSettings.preset("pca")


def test_settings_are_frozen_and_json_ready():
    settings = PatchSettings(hidden=75, verbose=True)
    assert settings.hidden == (75,) and settings.verbose == 10
    with pytest.raises(AttributeError):
        settings.beta = 1.0
    document = json.loads(json.dumps(settings.to_dict()))
    assert document["hidden"] == [75] and PatchSettings.from_dict(document) == settings
    assert settings.replace(beta=2.0).beta == 2.0 and settings.beta == 3.0


@pytest.mark.parametrize("field, value, message", [
    ("hidden", (), "hidden"),
    ("hidden", (10, 5), "symmetric"),
    ("hidden", (10, 5, 5, 10), "odd number"),
    ("hidden", (0,), "hidden"),
    ("patch_size", 0, "patch_size must be a positive integer, got 0"),
    ("patch_size", 8.0, "patch_size must be a positive integer, got 8.0"),
    ("num_patches", True, "num_patches must be a positive integer, got True"),
    ("normalization", "pca", "normalization must be one of spec, mean-removed, zca, got 'pca'"),
    ("epsilon", -1.0, "epsilon must be a finite number >= 0, got -1.0"),
    ("sparsity_param", 1.0, "sparsity_param must be in the open interval \\(0, 1\\), got 1.0"),
    ("lambda_", float("nan"), "lambda_ must be a finite number >= 0, got nan"),
    ("beta", -3, "beta must be a finite number >= 0, got -3"),
    ("activation", "tanh", "activation must be one of sigmoid, relu, got 'tanh'"),
    ("output_activation", "softmax", "output_activation must be one of .* got 'softmax'"),
    ("max_iter", 0, "max_iter must be a positive integer, got 0"),
    ("finetune_iter", -1, "finetune_iter must be an integer >= 0, got -1"),
    ("optimizer", "adam", "optimizer must be one of lbfgs-b, lbfgs, got 'adam'"),
    ("dtype", "float16", "dtype must be one of float64, float32, got 'float16'"),
    ("backend", 3, "backend must be a name .* got 3"),
    ("random_state", -1, "random_state must be an integer >= 0, got -1"),
    ("verbose", -2, "verbose must be an integer >= 0, got -2"),
])
def test_validate_names_the_bad_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        PatchSettings(**{field: value}).validate()
    with pytest.raises(ValueError, match=message):
        PatchModel(**{field: value})


def test_model_arguments():
    base = PatchSettings.preset("whitened")
    model = PatchModel(base, max_iter=7)
    assert model.settings == base.replace(max_iter=7)
    assert PatchModel(normalization="zca").settings == base
    with pytest.raises(TypeError, match="PatchSettings or None"):
        PatchModel({"hidden": 5})
    with pytest.raises(ValueError, match="not fitted"):
        PatchModel().encode(np.zeros((1, 192)))


# ---------------------------------------------------------------------- fit
def test_fit_gives_the_fitted_attributes(fitted, images):
    assert isinstance(fitted.encoder_, SparseAutoencoder) and fitted.encoder_.n_iter_ == 5
    assert isinstance(fitted.preprocessor_, PatchNormalizer) and fitted.preprocessor_.mean_.shape == (3,)
    assert fitted.patch_shape_ == (8, 8, 3) and fitted.training_time_ > 0
    assert fitted.example_patches_.shape == (100, 192)
    assert np.all((fitted.example_patches_ >= 0.1) & (fitted.example_patches_ <= 0.9))
    summary = fitted.summary_
    assert summary["n_iter"] == 5 and summary["n_patches"] == 300 and summary["n_images"] == 20
    assert summary["final_cost"] == fitted.encoder_.cost_
    assert len(summary["mean_hidden_activation"]) == 1 and 0 < summary["mean_hidden_activation"][0] < 1
    assert summary["reconstruction_error"] > 0 and summary["image_shape"] == [16, 16, 3]
    assert fitted.hidden == [10] and fitted.name == "ae 10" and fitted.network.sizes == [192, 10, 192]
    assert fitted.pixel_filters().shape == (10, 192)
    assert fitted.feature_name(None, 4, "none", 2) == "ae 10 s4"
    assert fitted.feature_name("first", 2, "sum", 2) == "ae 10 first s2 sum2x2"
    features = fitted.encode(images, stride=4)
    assert features.shape == (20, 3 * 3 * 10) and features.dtype == np.float32
    assert fitted.encode(images, stride=8, pooling="max", dtype="float64").shape == (20, 4 * 10)
    extractor = fitted.features(stride=4, pooling="mean")
    assert extractor.preprocessor is fitted.preprocessor_ and extractor.patch_size == 8


def test_fit_stacked_whitened_on_rectangular_images():
    images = np.random.default_rng(1).uniform(0, 1, size=(15, 12 * 16 * 3))
    lines = []
    model = PatchModel(hidden=(6, 3, 6), patch_size=4, num_patches=300, max_iter=3, finetune_iter=0,
                       normalization="zca").fit(images, image_shape=(12, 16, 3), progress=lines.append)
    assert lines and "sampling 300 patches of 4x4" in lines[0]
    assert isinstance(model.encoder_, StackedAutoencoder) and model.encoder_.n_iter_ == 0
    assert model.network.activation_names[-1] == "identity" and model.settings.lambda_ == 3e-3
    whitening = model.preprocessor_.named_steps["zca"].whitening_
    np.testing.assert_allclose(model.pixel_filters(), model.encoder_.components_ @ whitening)
    assert len(model.summary_["mean_hidden_activation"]) == 3
    assert model.encode(images, stride=4, image_shape=(12, 16, 3), layer="concat").shape == (15, 3 * 4 * 9)


def test_same_seed_same_model(images):
    first = PatchModel(**TINY, random_state=3).fit(images)
    second = PatchModel(**TINY, random_state=3).fit(images)
    other = PatchModel(**TINY, random_state=4).fit(images)
    np.testing.assert_array_equal(first.network.theta, second.network.theta)
    np.testing.assert_array_equal(first.example_patches_, second.example_patches_)
    assert not np.array_equal(first.network.theta, other.network.theta)


def test_bad_images():
    with pytest.raises(ValueError, match="2-D"):
        PatchModel(**TINY).fit(np.zeros(192))
    with pytest.raises(ValueError, match="patch_size 8 is larger"):
        PatchModel(**TINY).fit(np.zeros((2, 4 * 4 * 3)))


# -------------------------------------------------------------- persistence
def test_save_load_round_trip(fitted, images, tmp_path):
    path = fitted.save(tmp_path / "model", data={"name": "random", "n_images": 20})
    loaded = PatchModel.load(path)
    np.testing.assert_array_equal(loaded.encode(images), fitted.encode(images))
    np.testing.assert_array_equal(loaded.pixel_filters(), fitted.pixel_filters())
    assert loaded.describe() == fitted.describe()
    assert json.loads(json.dumps(loaded.describe())) == loaded.describe()
    assert loaded.describe()["data"] == {"name": "random", "n_images": 20}
    assert loaded.settings == fitted.settings and loaded.patch_shape_ == (8, 8, 3)
    assert loaded.training_time_ == 0.0 and loaded.example_patches_ is None
    assert loaded.describe()["training_time"] == fitted.summary_["training_time"] > 0
    single = PatchModel.load(path, dtype="float32")
    assert single.network.dtype == np.float32


def test_contrast_normalised_model_round_trip(images, tmp_path):
    model = PatchModel(normalization="zca", contrast=0.01, **TINY).fit(images)
    normalizer = model.preprocessor_.named_steps["normalize"]
    assert normalizer.contrast == 0.01 and normalizer.row_variance_ > 0
    plain = PatchModel(normalization="zca", **TINY).fit(images)
    assert not np.allclose(model.encode(images), plain.encode(images))
    loaded = PatchModel.load(model.save(tmp_path / "contrast.npz"))
    assert loaded.settings == model.settings and loaded.settings.contrast == 0.01
    np.testing.assert_array_equal(loaded.encode(images), model.encode(images))
    for encoding in ("soft-threshold", "triangle"):
        np.testing.assert_array_equal(loaded.encode(images, encoding=encoding, alpha=0.1),
                                      model.encode(images, encoding=encoding, alpha=0.1))


def test_stacked_round_trip_keeps_describe(images, tmp_path):
    model = PatchModel(hidden=(6, 3, 6), num_patches=300, max_iter=2, normalization="zca").fit(images)
    loaded = PatchModel.load(model.save(tmp_path / "stack.npz"))
    assert loaded.describe() == model.describe() and "pretraining_time" in loaded.describe()
    np.testing.assert_array_equal(loaded.encode(images, layer="concat"), model.encode(images, layer="concat"))


def test_a_model_trained_on_cupy_loads_on_numpy(fitted, images, tmp_path):
    """The file records the training backend; the loader decides where the network runs."""
    path = fitted.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(str(arrays.pop("metadata")))
    metadata["estimator"]["state"]["params"]["backend"] = "cupy"
    metadata["settings"]["backend"] = "cupy"
    gpu_file = tmp_path / "trained_on_cupy.npz"
    np.savez(gpu_file, metadata=np.array(json.dumps(metadata)), **arrays)
    loaded = PatchModel.load(gpu_file)
    assert loaded.network.backend.name == "numpy" and loaded.settings.backend == "cupy"
    assert loaded.encoder_.backend is None
    np.testing.assert_array_equal(loaded.encode(images), fitted.encode(images))


def test_bad_settings_in_a_file(fitted, tmp_path):
    path = fitted.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(str(arrays.pop("metadata")))
    metadata["settings"]["rho"] = 0.1
    broken = tmp_path / "broken.npz"
    np.savez(broken, metadata=np.array(json.dumps(metadata)), **arrays)
    with pytest.raises(ModelFileError, match="invalid settings"):
        PatchModel.load(broken)


def test_training_patches_are_the_ones_fit_used(fitted, images):
    patches = fitted.training_patches(images)
    assert patches.shape == (300, 192)
    np.testing.assert_array_equal(patches[:100], fitted.example_patches_)
    assert fitted.encoder_.reconstruction_error(patches) == fitted.summary_["reconstruction_error"]
