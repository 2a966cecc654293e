"""The library under hostile use: checks before work, all-or-nothing files, usable models, misuse warned.

The command-line side (exit status, one ``error:`` line, Ctrl-C) is in
tests/test_hardening_cli.py.
"""

import json
import os
import warnings

import numpy as np
import pytest

from nnlite import SparseAutoencoder
from nnlite import model_file
from nnlite.classify import ClassificationSettings, run_classification
from nnlite.cli import main
from nnlite.estimator import load_model
from nnlite.exceptions import DataRangeWarning, ModelFileError
from nnlite.memory import InsufficientMemoryError, peak_resident_memory
from nnlite.patch_model import PatchModel
from nnlite.stacked import StackedAutoencoder
from nnlite.staging import StagedOutputs

from conftest import synthetic_images
from test_classify_cli import FAST, write_folder

TINY = dict(hidden=(6,), patch_size=4, num_patches=300, max_iter=3, verbose=0)


@pytest.fixture(scope="module")
def images():
    return synthetic_images(60)


@pytest.fixture(scope="module")
def fitted(images):
    return PatchModel(**TINY).fit(images[0], (12, 12, 3))


# ------------------------------------------------------------ checks before work
def test_absurd_sizes_are_refused_before_sampling(images):
    lines = []
    with pytest.raises(InsufficientMemoryError, match="1000000000000 patches .* ask for fewer patches"):
        PatchModel(**dict(TINY, num_patches=10**12)).fit(images[0], (12, 12, 3), progress=lines.append)
    with pytest.raises(InsufficientMemoryError, match="choose smaller hidden layers"):
        PatchModel(**dict(TINY, hidden=(10**8,))).fit(images[0], (12, 12, 3), progress=lines.append)
    assert lines == []  # not even the sampling line


def test_a_network_too_large_for_memory_is_refused_before_allocating():
    with pytest.raises(InsufficientMemoryError, match=r"192 -> 100000000 -> 192 .* needs .* GiB"):
        SparseAutoencoder(hidden_size=10**8).fit(np.full((5, 192), 0.5))


@pytest.mark.parametrize("options,message", [
    ({"logistic": {"bogus": 1}}, "has no parameter 'bogus'; its parameters are C, "),
    ({"knn": {"n_neighbors": 0}}, "'n_neighbors' parameter"),
    ({"logistic": {"C": "high"}}, "'C' parameter"),
])
def test_classifier_options_are_checked_before_any_work(images, options, message):
    lines = []
    data = (images[0], images[1])
    with pytest.raises(ValueError, match=message):
        run_classification(data, data, ClassificationSettings(classifier_options=options),
                           progress=lines.append)
    assert lines == []


# ------------------------------------------------------------------ all or nothing
def write(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def read_all(folder):
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))}


def test_staged_outputs_appear_together(tmp_path):
    target = tmp_path / "out"
    with StagedOutputs() as staged:
        write(staged.path(target / "a.txt"), "a")
        write(staged.path(target / "b.txt"), "b")
        assert not target.exists()
    assert read_all(target) == {"a.txt": b"a", "b.txt": b"b"}


def test_a_failed_move_puts_every_previous_file_back(tmp_path, monkeypatch):
    target = tmp_path / "out"
    target.mkdir()
    write(target / "a.txt", "old a")
    write(target / "b.txt", "old b")
    real, calls = os.replace, []

    def failing(source, destination):
        calls.append(destination)
        if len(calls) == 4:  # a moved aside, a moved in, b moved aside, b moving in: fails
            raise OSError(28, "No space left on device", str(destination))
        real(source, destination)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="No space"):
        with StagedOutputs() as staged:
            write(staged.path(target / "a.txt"), "new a")
            write(staged.path(target / "b.txt"), "new b")
    assert read_all(target) == {"a.txt": b"old a", "b.txt": b"old b"}


def test_an_exception_while_writing_discards_everything(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    write(target / "a.txt", "old")
    with pytest.raises(RuntimeError):
        with StagedOutputs() as staged:
            write(staged.path(target / "a.txt"), "new")
            raise RuntimeError("the plot failed")
    assert read_all(target) == {"a.txt": b"old"}


def test_a_folder_in_the_way_is_refused_before_anything_moves(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    write(target / "a.txt", "old")
    staged = StagedOutputs()
    write(staged.path(target / "a.txt"), "new")
    write(staged.path(target / "b.txt"), "new")
    (target / "b.txt").mkdir()  # appears while the run writes
    with pytest.raises(ValueError, match="b.txt.*a folder of that name is in the way"):
        staged.commit()
    assert sorted(os.listdir(target)) == ["a.txt", "b.txt"] and (target / "a.txt").read_text() == "old"
    with pytest.raises(ValueError, match="in the way"):
        staged.path(target / "b.txt")


def test_a_model_file_is_replaced_atomically(fitted, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    fitted.save(path)
    before = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fitted.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]


# --------------------------------------------------------------- usable models
def test_non_finite_weights_are_refused_on_save(fitted, tmp_path):
    broken = PatchModel.load(fitted.save(tmp_path / "good.npz"))
    theta = broken.encoder_.network_.theta.copy()
    theta[0] = np.inf
    broken.encoder_.network_.set_theta(theta)
    with pytest.raises(ModelFileError, match=r"nan\.npz.*'estimator/theta' holds 1 non-finite"):
        broken.save(tmp_path / "nan.npz")
    assert not (tmp_path / "nan.npz").exists()


@pytest.mark.parametrize("array", ["estimator/theta", "preprocessor/0/mean"])
def test_non_finite_weights_are_refused_on_load(fitted, tmp_path, array):
    archive = dict(np.load(fitted.save(tmp_path / "good.npz")))
    name = array if array in archive else next(key for key in archive if key.startswith("preprocessor/"))
    archive[name] = archive[name].astype(float)
    archive[name].flat[0] = np.nan
    np.savez(tmp_path / "bad.npz", **archive)
    for load in (PatchModel.load, load_model, model_file.read):
        with pytest.raises(ModelFileError, match=rf"bad\.npz.*'{name}' holds 1 non-finite"):
            load(tmp_path / "bad.npz")


def test_a_model_trained_on_cupy_loads_here_on_numpy(fitted, images, tmp_path, capsys):
    """The backend is the loader's choice: a file that says cupy loads where CuPy is absent."""
    model = PatchModel.from_parts(fitted.settings.replace(backend="cupy"), fitted.encoder_,
                                  fitted.preprocessor_, fitted.patch_shape_, fitted.summary_)
    fitted.encoder_.backend = "cupy"
    try:
        path = model.save(tmp_path / "cupy.npz")
    finally:
        fitted.encoder_.backend = None
    metadata = json.loads(str(np.load(path)["metadata"]))
    assert metadata["estimator"]["state"]["params"]["backend"] == "cupy"
    assert metadata["settings"]["backend"] == "cupy"
    expected = fitted.encode(images[0][:5], stride=4)
    loaded = PatchModel.load(path)
    np.testing.assert_array_equal(loaded.encode(images[0][:5], stride=4), expected)
    assert load_model(path).transform(np.full((2, 48), 0.5)).shape == (2, 6)
    root = write_folder(tmp_path / "train")
    assert main(["classify", "folder", root, "--holdout", "15", "--classifiers", "logistic", "--no-raw",
                 "--model", path] + FAST) == 0
    assert "ae 6 s4" in capsys.readouterr().out


# ------------------------------------------------------------------ misuse warned
def test_raw_pixels_under_a_sigmoid_decoder_warn_once_per_fit():
    pixels = np.random.default_rng(0).integers(0, 256, size=(40, 12)).astype(float)
    for model in (SparseAutoencoder(hidden_size=3, max_iter=2),
                  StackedAutoencoder(hidden_size=[4, 2, 4], pretrain_iter=2, finetune_iter=2)):
        with pytest.warns(DataRangeWarning, match=r"spans \[0, 25\d\].*Normalise.*identity") as caught:
            model.fit(pixels)
        assert sum(issubclass(w.category, DataRangeWarning) for w in caught) == 1


@pytest.mark.parametrize("data,output", [(lambda x: x / 255, "sigmoid"), (lambda x: x - 128, "identity")])
def test_no_warning_for_data_the_decoder_can_produce(data, output):
    pixels = np.random.default_rng(0).integers(0, 256, size=(40, 12)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRangeWarning)
        SparseAutoencoder(hidden_size=3, max_iter=2, output_activation=output).fit(data(pixels))


def test_peak_resident_memory_is_known_and_grows():
    before = peak_resident_memory()
    block = np.ones(64 * 2**20, dtype=np.uint8)
    assert before > 0 and peak_resident_memory() >= block.nbytes


def test_classifiers_fitted_by_column_blocks_give_the_pipeline_figures(monkeypatch):
    """The study's low-memory fit (scaler by column blocks, in place) equals ``pipeline.fit`` bit for bit."""
    from sklearn.base import clone

    from nnlite.classify import make_classifier
    from nnlite.classify import study

    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 50)) * rng.uniform(0.1, 20, 50) + rng.uniform(-3, 3, 50)
    X = X.astype(np.float32)
    X[:, 7] = 1.5  # a constant column
    y = np.arange(300) % 3
    monkeypatch.setattr(study, "SCALER_BLOCK_BYTES", 300 * 21 * 7)  # blocks of 7 columns
    for name in ("logistic", "linear_svm", "knn"):
        reference = make_classifier(name, 0, max_iter=50) if name != "knn" else make_classifier(name, 0)
        ours = clone(reference)
        reference.fit(X, y)
        data = X.copy()
        study._fit(ours, data, y, in_place=True)
        scaler, expected = ours.steps[0][1], reference.steps[0][1]
        for attribute in ("mean_", "var_", "scale_"):
            np.testing.assert_array_equal(getattr(scaler, attribute), getattr(expected, attribute))
        np.testing.assert_array_equal(data, expected.transform(X))  # scaled in place
        np.testing.assert_array_equal(ours.predict(X), reference.predict(X))
        if name != "knn":
            np.testing.assert_array_equal(ours.steps[-1][1].coef_, reference.steps[-1][1].coef_)
        copy = X.copy()
        study._fit(clone(reference), copy, y, in_place=False)
        np.testing.assert_array_equal(copy, X)  # not in place: the input is left alone
