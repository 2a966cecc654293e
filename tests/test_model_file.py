"""The model file (nnlite.model_file): version 2 layout, version 1 files, damaged and foreign files."""

import json
import os
import zipfile

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from nnlite import SparseAutoencoder, load_model, model_file
from nnlite.exceptions import ModelFileError
from nnlite.model_file import FORMAT_VERSION
from nnlite.patch_model import PatchModel
from nnlite.preprocessing import PatchNormalizer, ZCAWhitening, make_preprocessor
from nnlite.stacked import StackedAutoencoder

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def _raw(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return json.loads(str(arrays.pop("metadata"))), arrays


@pytest.fixture
def fitted(data):
    """Any small fitted autoencoder: the file is what these tests look at."""
    return SparseAutoencoder(hidden_size=4, max_iter=8, random_state=1).fit(data)


@pytest.fixture
def data(rng):
    """80 rows of 12 values in [0.1, 0.9]."""
    return rng.uniform(0.1, 0.9, size=(80, 12))


def test_version_2_layout_is_json_and_named_arrays(fitted, tmp_path):
    scaler = PatchNormalizer(channels=3).fit(np.arange(24.0).reshape(2, 12))
    path = model_file.write(tmp_path / "m", fitted, preprocessor=scaler, patch_shape=(2, 2, 3),
                            settings={"a": 1}, summary={"b": 2}, data={"c": 3}, extra={"d": 4},
                            extra_arrays={"e": np.ones(2)})
    metadata, arrays = _raw(path)
    assert metadata["format"] == "nnlite-model" and metadata["format_version"] == FORMAT_VERSION == 2
    assert metadata["estimator"]["class"] == "SparseAutoencoder"
    state = metadata["estimator"]["state"]
    assert state["sizes"] == [12, 4, 12] and state["activations"] == ["sigmoid", "sigmoid"]
    assert state["params"]["sparsity_param"] == 0.01
    assert metadata["patch_shape"] == [2, 2, 3] and metadata["preprocessor"]["class"] == "PatchNormalizer"
    assert (metadata["settings"], metadata["summary"], metadata["data"], metadata["extra"]) == (
        {"a": 1}, {"b": 2}, {"c": 3}, {"d": 4})
    assert sorted(arrays) == ["estimator/loss_curve", "estimator/theta", "estimator/time_curve",
                              "extra/e", "preprocessor/mean", "preprocessor/std"]


def test_version_2_round_trip(fitted, data, tmp_path):
    X = np.random.default_rng(1).uniform(size=(50, 12))
    zca = ZCAWhitening(epsilon=0.2).fit(X)
    path = model_file.write(tmp_path / "m.npz", fitted, preprocessor=zca, patch_shape=(2, 2, 3),
                            data={"name": "x"})
    contents = model_file.read(path)
    assert contents.format_version == 2 and contents.patch_shape == (2, 2, 3)
    assert contents.data == {"name": "x"} and contents.settings is None
    np.testing.assert_array_equal(contents.estimator.transform(data), fitted.transform(data))
    np.testing.assert_array_equal(contents.preprocessor.transform(X), zca.transform(X))


def test_stacked_round_trip(data, tmp_path):
    stack = StackedAutoencoder([6, 3, 6], pretrain_iter=3, finetune_iter=3, random_state=0).fit(data)
    loaded = load_model(stack.save(tmp_path / "s.npz"))
    assert isinstance(loaded, StackedAutoencoder)
    np.testing.assert_array_equal(loaded.transform(data), stack.transform(data))
    assert loaded.stage_results_ == stack.stage_results_


@pytest.mark.parametrize("name, patch_size, layer, key", [
    ("model_v1_train.npz", 8, None, "train_features"),                     # nnlite train (0.1)
    ("model_v1_feature_model.npz", 4, "concat", "feature_model_features"),  # FeatureModel.save (0.1)
])
def test_version_1_files_load(name, patch_size, layer, key):
    path = os.path.join(FIXTURES, name)
    expected = np.load(os.path.join(FIXTURES, "model_v1_expected.npz"))
    contents = model_file.read(path)
    assert contents.format_version == 1 and contents.patch_shape == (patch_size, patch_size, 3)
    model = PatchModel.load(path)
    assert model.patch_shape_ == (patch_size, patch_size, 3)
    assert model.settings.patch_size == patch_size
    features = model.encode(expected["images"], stride=4, layer=layer, dtype="float64")
    np.testing.assert_array_equal(features, expected[key])


def test_version_1_train_file_details():
    model = PatchModel.load(os.path.join(FIXTURES, "model_v1_train.npz"))
    assert isinstance(model.preprocessor_, PatchNormalizer) and not model.preprocessor_.remove_mean
    assert model.settings.normalization == "spec" and model.settings.num_patches == 500
    assert model.data_["name"] == "sample" and model.hidden == [75]
    zca = PatchModel.load(os.path.join(FIXTURES, "model_v1_feature_model.npz"))
    assert [name for name, _ in zca.preprocessor_.steps] == ["normalize", "zca"]
    assert zca.settings.normalization == "zca" and zca.hidden == [6, 3, 6]


def test_damaged_and_foreign_files_give_clear_errors(fitted, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(ModelFileError, match="not a readable nnlite model"):
        load_model(garbage)
    path = fitted.save(tmp_path / "model.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(open(path, "rb").read()[:200])
    with pytest.raises(ModelFileError):
        load_model(truncated)
    other = tmp_path / "plain.npz"
    np.savez(other, theta=np.zeros(3))
    with pytest.raises(ModelFileError, match="no 'metadata'"):
        load_model(other)
    assert issubclass(ModelFileError, ValueError)


def test_flipped_byte_fails_the_crc(fitted, tmp_path):
    path = fitted.save(tmp_path / "model.npz")
    content = bytearray(open(path, "rb").read())
    offset = content.index(b"estimator/theta.npy") + 200   # inside the theta array's data
    content[offset] ^= 0xFF
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(content))
    with pytest.raises(ModelFileError, match="not a readable nnlite model"):
        load_model(damaged)


def test_other_versions_are_refused(fitted, tmp_path):
    metadata, arrays = _raw(fitted.save(tmp_path / "model.npz"))
    for key, value, message in [("format_version", FORMAT_VERSION + 1, "format version 3"),
                                ("format_version", 0, "format version 0"),
                                ("nnlite_version", "99.0.0", "another major version"),
                                ("format", "other", "not an nnlite model file")]:
        path = tmp_path / f"{key}.npz"
        np.savez(path, metadata=np.array(json.dumps({**metadata, key: value})), **arrays)
        with pytest.raises(ModelFileError, match=message):
            load_model(path)
    assert zipfile.is_zipfile(tmp_path / "format_version.npz")


def test_inconsistent_contents_are_refused(fitted, tmp_path):
    metadata, arrays = _raw(fitted.save(tmp_path / "model.npz"))
    cases = [({**metadata, "estimator": {"class": "Unknown", "state": {}}}, arrays, "unknown model class"),
             (metadata, {k: v for k, v in arrays.items() if k != "estimator/theta"}, "no 'theta'"),
             ({**metadata, "patch_shape": [3, 3, 3]}, arrays, "patch shape"),
             (metadata, {**arrays, "estimator/theta": np.zeros(3)}, "inconsistent")]
    for index, (document, payload, message) in enumerate(cases):
        path = tmp_path / f"case{index}.npz"
        np.savez(path, metadata=np.array(json.dumps(document)), **payload)
        with pytest.raises(ModelFileError, match=message):
            load_model(path)


def test_object_arrays_are_refused(fitted, tmp_path):
    with pytest.raises(ValueError, match="object dtype"):
        fitted.save(tmp_path / "x.npz", arrays={"bad": np.array([{}], dtype=object)})


def test_bare_estimator_file_is_not_a_patch_model(fitted, tmp_path):
    with pytest.raises(ModelFileError, match="without a patch shape"):
        PatchModel.load(fitted.save(tmp_path / "bare.npz"))


@pytest.mark.parametrize("name", ["spec", "mean-removed", "zca"])
def test_preprocessor_state_round_trip(name, rng):
    X = rng.uniform(0, 255, size=(60, 12))
    preprocessor = make_preprocessor(name).fit(X)
    metadata, arrays = model_file.preprocessor_state(preprocessor)
    rebuilt = model_file.preprocessor_from_state(json.loads(json.dumps(metadata)), arrays)
    np.testing.assert_array_equal(rebuilt.transform(X), preprocessor.transform(X))
    with pytest.raises(ValueError, match="unknown stored preprocessor class 'Nope'"):
        model_file.preprocessor_from_state({"class": "Nope"}, {})
    with pytest.raises(ValueError, match="cannot store a StandardScaler"):
        model_file.preprocessor_state(StandardScaler().fit(X))
