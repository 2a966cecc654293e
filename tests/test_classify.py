"""Tests of nnlite.classify: classifiers, hold-out, the study function and its table."""

import csv
import io
import json
import re

import numpy as np
import pytest

from nnlite.classify.study import mirror_images
from nnlite.classify import (CLASSIFIER_NAMES, ClassificationSettings, ResultTable, align_classes,
                             check_test_classes, make_classifier, run_classification, stratified_holdout,
                             study_split)
from nnlite.data import Dataset
from nnlite.patch_model import PatchModel, PatchSettings

from conftest import synthetic_images

FAST = {"random_forest": {"n_estimators": 10, "n_jobs": 1}, "logistic": {"max_iter": 200}}

#: A small autoencoder that trains in well under a second on the synthetic images.
SMALL = PatchSettings(hidden=(6,), patch_size=4, num_patches=400, max_iter=15)


def study_settings(**options):
    """ClassificationSettings of the small study, with ``options`` replacing fields."""
    fields = dict(classifiers=("logistic", "knn"), architectures=(SMALL,), strides=(4, 8),
                  classifier_options=FAST, random_state=0)
    fields.update(options)
    return ClassificationSettings(**fields)


def _study(models=(), progress=None, **options):
    images, labels = synthetic_images()
    return run_classification((images[:60], labels[:60]), (images[60:], labels[60:]),
                              study_settings(**options), models=models, progress=progress)


@pytest.mark.parametrize("name", CLASSIFIER_NAMES)
def test_make_classifier_fits(name):
    images, labels = synthetic_images()
    model = make_classifier(name, random_state=0, **FAST.get(name, {}))
    predicted = model.fit(images[:60] / 255.0, labels[:60]).predict(images[60:] / 255.0)
    assert predicted.shape == (30,) and np.mean(predicted == labels[60:]) > 0.9   # separable: chance is 1/3
    # unknown parameters are an error, never silently dropped
    with pytest.raises(TypeError):
        make_classifier(name, no_such_parameter=1)


def test_classifier_parameters_override_the_defaults():
    assert make_classifier("logistic")[-1].C == 0.01 and make_classifier("logistic", C=0.5)[-1].C == 0.5
    assert make_classifier("knn", n_neighbors=3)[-1].n_neighbors == 3
    assert make_classifier("random_forest", random_state=4).random_state == 4


def test_make_classifier_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown classifier 'svm'"):
        make_classifier("svm")


def test_stratified_holdout_is_disjoint_stratified_and_seeded():
    labels = np.repeat(np.arange(4), 25)
    train, test = stratified_holdout(labels, 20, random_state=3)
    assert train.size == 80 and test.size == 20
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.bincount(labels[test]), [5, 5, 5, 5])
    again = stratified_holdout(labels, 20, random_state=3)
    assert np.array_equal(again[1], test)
    with pytest.raises(ValueError, match="hold-out .* got 100"):
        stratified_holdout(labels, 100)


def test_study_split_holdout_validation_limit_and_given_test_set():
    images, labels = synthetic_images(n=60)
    data = Dataset(images, labels, ["a", "b", "c"], (12, 12, 3))
    train, scored, protocol = study_split(data, holdout=12, random_state=0)
    assert (len(train), len(scored), protocol["test"], protocol["n_holdout"]) == (48, 12, "stratified hold-out", 12)
    assert np.array_equal(np.bincount(scored.labels), [4, 4, 4])
    again = study_split(data, holdout=12, validation=6, train_limit=30, random_state=0)
    assert (len(again[0]), len(again[1]), again[2]["n_validation"]) == (30, 6, 6)
    assert again[2]["test"] == "validation split of the training images (stratified hold-out unused)"
    # no validation image is a training image, and none was in the hold-out
    assert not set(map(bytes, again[1].images)) & set(map(bytes, again[0].images))
    assert not set(map(bytes, again[1].images)) & set(map(bytes, scored.images))
    # a given test set's labels follow the training set's class names
    renamed = Dataset(images[:6], [0, 1, 0, 1, 0, 1], ["c", "a"], (12, 12, 3))
    assert align_classes(renamed, data).labels.tolist() == [2, 0, 2, 0, 2, 0]
    train, scored, protocol = study_split(data, renamed, test_name="separate")
    assert len(train) == 60 and protocol == {"test": "separate"} and scored.class_names == ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"lacks: \['z'\]"):
        align_classes(Dataset(images[:2], [0, 0], ["z"], (12, 12, 3)), data)
    with pytest.raises(ValueError, match="not both"):
        study_split(data, renamed, holdout=5)


def test_test_classes_missing_from_training_are_refused():
    check_test_classes([0, 1, 2], [2, 1])
    with pytest.raises(ValueError, match=r"classes the training set lacks: \['frog'\]"):
        check_test_classes([0, 1], [1, 2], class_names=["cat", "dog", "frog"])
    images, labels = synthetic_images()
    with pytest.raises(ValueError, match="lacks"):
        run_classification((images[labels < 2], labels[labels < 2]), (images, labels),
                           ClassificationSettings(architectures=()))


def test_run_classification_table_holds_every_feature_set_and_classifier():
    lines = []
    table = _study(progress=lines.append)
    names = [row["features"] for row in table]
    assert names == ["raw pixels"] * 2 + ["ae 6 s4"] * 2 + ["ae 6 s8"] * 2
    assert [row["classifier"] for row in table] == ["logistic", "knn"] * 3
    for row in table:  # accuracy is the fraction of the 30 test images classified right
        assert row["accuracy"] * 30 == pytest.approx(round(row["accuracy"] * 30), abs=1e-9)
        assert row["fit_time"] > 0 and row["predict_time"] > 0
    assert table.rows[0]["n_features"] == 12 * 12 * 3
    assert table.rows[2]["n_features"] == 3 * 3 * 6  # 3x3 positions at stride 4
    assert table.rows[4]["n_features"] == 2 * 2 * 6
    steps = [timing["step"] for timing in table.info["timings"]]
    assert steps[:2] == ["raw pixels", "autoencoder ae 6"] and steps[-1] == "total"
    assert table.info["models"][0]["hidden"] == [6]
    assert any("accuracy" in line for line in lines)
    assert table.trained_models == table.models and table.models[0].settings == SMALL
    # the signal is strong: learned features and raw pixels both beat chance (1/3) clearly
    assert table.best()["accuracy"] > 0.6
    assert min(row["accuracy"] for row in table if row["classifier"] == "logistic") > 0.5


def test_mirror_images_reverses_the_columns_of_each_image():
    images = np.arange(2 * 2 * 3 * 3).reshape(2, -1)  # two 2x3 images, 3 channels
    mirrored = mirror_images(images, (2, 3, 3))
    by_hand = images.reshape(2, 2, 3, 3)[:, :, [2, 1, 0], :].reshape(2, -1)
    np.testing.assert_array_equal(mirrored, by_hand)
    assert mirrored.flags.c_contiguous and not np.shares_memory(mirrored, images)
    np.testing.assert_array_equal(mirror_images(mirrored, (2, 3, 3)), images)


@pytest.mark.parametrize("architectures", [(), (SMALL.replace(normalization="zca", output_activation="identity"),)])
def test_mirror_adds_the_mirrored_training_images(architectures):
    # Noise images with random labels; the test set is the training images mirrored.  A 1-NN
    # classifier finds each test image's mirror among its training rows only with mirror=True.
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(40, 12 * 12 * 3)).astype(np.uint8)
    labels = rng.integers(0, 4, size=40)
    test = Dataset(mirror_images(images, (12, 12, 3)), labels, image_shape=(12, 12, 3))
    results = {}
    for mirror in (False, True):
        settings = study_settings(classifiers=("knn",), classifier_options={"knn": {"n_neighbors": 1}},
                                  architectures=architectures, raw_pixels=not architectures,
                                  strides=(2,), pooling="none", mirror=mirror)
        table = run_classification(Dataset(images, labels, image_shape=(12, 12, 3)), test, settings)
        results[mirror] = table.rows[0]["accuracy"]
    assert results[True] == 1.0
    assert results[False] < 0.75


def test_json_and_csv_hold_what_the_table_shows(tmp_path):
    table = _study(strides=(4,), pooling="sum", pool_grid=2)
    document = json.loads(table.to_json(tmp_path / "results.json"))
    assert document == json.loads((tmp_path / "results.json").read_text())
    text = table.format()
    assert len(text.splitlines()) == len(table) + 1
    for row, stored in zip(table, document["results"]):
        assert stored["features"] == row["features"] and stored["accuracy"] == row["accuracy"]
        assert f"{row['accuracy']:.4f}" in text and row["features"] in text
    rows = list(csv.DictReader(io.StringIO(table.to_csv(tmp_path / "table.csv"))))
    assert [float(r["accuracy"]) for r in rows] == [row["accuracy"] for row in table]
    assert document["feature_sets"][0]["pooling"] == "sum"
    assert document["settings"]["n_test"] == 30


def test_folds_protocol_reports_mean_and_sd():
    images, labels = synthetic_images()
    folds = [np.arange(0, 30), np.arange(30, 60)]
    train = Dataset(images[:60], labels[:60], ["a", "b", "c"], (12, 12, 3), folds)
    table = run_classification(train, (images[60:], labels[60:]),
                               ClassificationSettings(architectures=(), classifiers=("knn",)))
    all_row, fold_row = table.rows
    assert all_row["train_on"] == "all" and fold_row["train_on"] == "2 folds"
    assert len(fold_row["fold_accuracies"]) == 2
    assert fold_row["accuracy"] == pytest.approx(np.mean(fold_row["fold_accuracies"]))
    assert fold_row["accuracy_sd"] == pytest.approx(np.std(fold_row["fold_accuracies"]))
    assert "+-" in table.format()
    no_folds = run_classification(train, (images[60:], labels[60:]), ClassificationSettings(
        architectures=(), classifiers=("knn",), use_folds=False))
    assert [row["train_on"] for row in no_folds] == ["all"]


def test_deep_architecture_reports_each_feature_layer():
    table = _study(architectures=(SMALL, SMALL.replace(hidden=(8, 4, 8))),
                   feature_layers=("middle", "first", "concat"), strides=(4,), classifiers=("logistic",),
                   raw_pixels=False)
    assert [row["features"] for row in table] == [
        "ae 6 s4", "ae 8-4-8 s4", "ae 8-4-8 first s4", "ae 8-4-8 concat s4"]
    assert [row["n_features"] for row in table] == [54, 36, 72, 108]
    assert table.info["models"][1]["class"] == "StackedAutoencoder"
    # every architecture trains on the same patches (one seed, one patch size, one normalisation)
    shallow, deep = table.trained_models
    np.testing.assert_array_equal(shallow.example_patches_, deep.example_patches_)


def test_loaded_model_gives_the_results_of_the_trained_one(tmp_path):
    images, _ = synthetic_images()
    model = PatchModel(SMALL.replace(normalization="zca", random_state=1)).fit(images[:60])
    loaded = PatchModel.load(model.save(tmp_path / "model.npz"))
    first = _study(models=[model], architectures=(), strides=(4,), raw_pixels=False)
    second = _study(models=[loaded], architectures=(), strides=(4,), raw_pixels=False)
    assert [row["accuracy"] for row in first] == [row["accuracy"] for row in second]
    assert first.info["models"][0]["settings"]["num_patches"] == 400
    assert first.trained_models == [] and second.models == [loaded]


def test_same_settings_same_numbers():
    first, second = _study(strides=(4,)), _study(strides=(4,))
    assert [row["accuracy"] for row in first] == [row["accuracy"] for row in second]
    np.testing.assert_array_equal(first.models[0].network.theta, second.models[0].network.theta)
    other = _study(strides=(4,), architectures=(SMALL.replace(random_state=5),))
    assert not np.array_equal(first.models[0].network.theta, other.models[0].network.theta)


@pytest.mark.parametrize("options, message", [
    ({"classifiers": ("tree",)}, "unknown classifier 'tree'"),
    ({"classifiers": ()}, "classifiers must be a non-empty"),
    ({"classifier_options": {"logistc": {"C": 1}}}, "classifier_options names an unknown classifier 'logistc'"),
    ({"classifier_options": {"logistic": 1}}, "classifier_options['logistic'] must be a dict"),
    ({"strides": (0,)}, "stride must be a positive integer, got 0"),
    ({"feature_layers": ("last",)}, "feature_layers must hold middle, first, concat or layer numbers >= 1, got 'last'"),
    ({"feature_layers": (0,)}, "feature_layers must hold middle, first, concat or layer numbers >= 1, got 0"),
    ({"pooling": "median"}, "pooling must be one of none, sum, mean, max, got 'median'"),
    ({"pool_grid": 0}, "pool_grid must be a positive integer, got 0"),
    ({"feature_dtype": "int8"}, "feature_dtype"),
    ({"architectures": (SMALL.replace(normalization="white"),)}, "normalization must be one of"),
    ({"architectures": (), "raw_pixels": False}, "nothing to classify"),
    ({"mirror": "yes"}, "mirror must be True or False, got 'yes'"),
])
def test_bad_settings_fail_before_any_work(options, message):
    lines = []
    with pytest.raises(ValueError, match=re.escape(message)):
        _study(progress=lines.append, **options)
    assert lines == []


def test_result_table_best_and_empty_format():
    table = ResultTable([{"features": "a", "classifier": "knn", "accuracy": 0.5},
                         {"features": "b", "classifier": "knn", "accuracy": 0.7}])
    assert table.best()["features"] == "b"
    assert len(ResultTable().format().splitlines()) == 1
