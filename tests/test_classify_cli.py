"""End-to-end tests of ``nnlite classify`` on tiny image folders written by the tests."""

import csv
import json
import os
import re
import shlex

import numpy as np
import pytest
from PIL import Image

from nnlite.cli import build_parser, main
from nnlite.cli.classify import classification_settings
from nnlite.cli.options import (parse_classifier_options, parse_feature_layers, parse_holdout,
                                parse_strides, patch_settings)
from nnlite.patch_model import PatchModel

from conftest import STL10_CLASSES, synthetic_images, write_stl10_split

CLASSES = ("apple", "boat", "cloud")
FAST = ["--patch-size", "4", "--patches", "300", "--iterations", "10", "--seed", "0", "--quiet",
        "--set", "logistic.max_iter=200"]


def write_folder(root, n=60, seed=0, classes=CLASSES):
    """A ``root/<class>/<k>.png`` tree of 12x12 RGB images with a class-dependent band."""
    images, labels = synthetic_images(n, seed=seed)
    for k, (image, label) in enumerate(zip(images, labels)):
        if CLASSES[label] not in classes:
            continue
        folder = os.path.join(root, CLASSES[label])
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(image.reshape(12, 12, 3)).save(os.path.join(folder, f"{k:03d}.png"))
    return str(root)


def test_classify_end_to_end_with_holdout(tmp_path, capsys):
    root = write_folder(tmp_path / "train")
    out, json_path = tmp_path / "out", tmp_path / "run.json"
    status = main(["classify", "folder", root, "--holdout", "15", "--classifiers", "logistic,knn",
                   "--strides", "4,8", "--output", str(out), "--json", str(json_path)] + FAST)
    assert status == 0
    printed = capsys.readouterr().out.splitlines()
    document = json.loads(json_path.read_text())
    assert document == json.loads((out / "results.json").read_text())
    rows = document["results"]
    assert [(row["features"], row["classifier"]) for row in rows] == [
        (name, classifier) for name in ("raw pixels", "ae 75 s4", "ae 75 s8")
        for classifier in ("logistic", "knn")]
    # every table line on stdout shows a row of the JSON, with the same accuracy
    assert len(printed) == 1 + len(rows) + 2
    for line, row in zip(printed[1:], rows):
        assert line.startswith(row["features"]) and f"{row['accuracy']:.4f}" in line
    assert printed[-2].startswith("best:") and printed[-1].startswith("time: load data")
    steps = [timing["step"] for timing in document["timings"]]
    assert steps[0] == "load data" and steps[-1] == "end to end"
    assert all(f"{t['step']} {t['seconds']:.1f} s" in printed[-1] for t in document["timings"])
    data = document["data"]
    assert data["test"] == "stratified hold-out" and data["n_holdout"] == 15
    assert document["settings"]["n_test"] == 15 and document["settings"]["n_train"] == 45
    assert document["arguments"]["strides"] == "4,8"
    with open(out / "table.csv", newline="") as handle:
        assert [float(r["accuracy"]) for r in csv.DictReader(handle)] == [row["accuracy"] for row in rows]
    assert (out / "accuracy.png").stat().st_size > 0
    assert document["files"]["models"] == [str(out / "model-75.npz")]


def test_classify_separate_test_folder_and_trained_model(tmp_path, capsys):
    train_root = write_folder(tmp_path / "train")
    test_root = write_folder(tmp_path / "test", n=30, seed=5, classes=("boat", "cloud"))
    model_dir = tmp_path / "model"
    assert main(["train", "folder", train_root, "--output", str(model_dir), "--hidden", "5",
                 "--patch-size", "4", "--patches", "200", "--iterations", "5", "--quiet"]) == 0
    capsys.readouterr()
    json_path = tmp_path / "run.json"
    assert main(["classify", "folder", train_root, "--test-data", test_root, "--model",
                 str(model_dir / "model.npz"), "--classifiers", "knn", "--no-raw",
                 "--pooling", "mean", "--json", str(json_path)] + FAST) == 0
    document = json.loads(json_path.read_text())
    assert document["data"]["test"] == "separate"
    assert document["settings"]["n_test"] == 20 and document["settings"]["n_train"] == 60
    assert [row["features"] for row in document["results"]] == ["ae 5 s4 mean2x2"]
    assert document["models"][0]["source"].endswith("model.npz")


def test_validation_split_leaves_the_test_set_unused(tmp_path, capsys):
    root = write_folder(tmp_path / "train", n=90)
    json_path = tmp_path / "run.json"
    assert main(["classify", "folder", root, "--holdout", "30", "--validation", "15", "--train-limit", "30",
                 "--classifiers", "knn", "--hidden", "4", "--json", str(json_path)] + FAST) == 0
    document = json.loads(json_path.read_text())
    assert document["data"]["test"].startswith("validation split") and document["data"]["n_validation"] == 15
    assert document["settings"]["n_test"] == 15 and document["settings"]["n_train"] == 30


def test_stacked_model_without_fine_tuning(tmp_path):
    root = write_folder(tmp_path / "train", n=45)
    json_path = tmp_path / "run.json"
    assert main(["classify", "folder", root, "--holdout", "15", "--classifiers", "knn", "--no-raw",
                 "--hidden", "6", "--hidden", "6,3,6", "--finetune-iterations", "0",
                 "--feature-layer", "first", "--json", str(json_path)] + FAST) == 0
    document = json.loads(json_path.read_text())
    assert [row["features"] for row in document["results"]] == ["ae 6 s4", "ae 6-3-6 first s4"]
    single, stacked = document["models"]
    assert stacked["n_iter"] == 0 and stacked["settings"]["finetune_iter"] == 0
    assert single["n_iter"] == 10 and single["settings"]["hidden"] == [6]


def test_classify_refuses_test_classes_missing_from_training(tmp_path, capsys):
    train_root = write_folder(tmp_path / "train", classes=("apple", "boat"))
    test_root = write_folder(tmp_path / "test", n=30, seed=5)
    status = main(["classify", "folder", train_root, "--test-data", test_root] + FAST)
    assert status == 2
    assert "classes the training set lacks: ['cloud']" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["--strides", "0"], "--strides must be a positive integer, got 0"),
    (["--strides", "13"], "stride 13 is larger than the 12x12 image"),
    (["--classifiers", "svm"], "unknown classifier 'svm'"),
    (["--holdout", "-3"], "--holdout must be a positive integer or a fraction"),
    (["--feature-layer", "last"], "--feature-layer takes middle, first, concat or an integer, got 'last'"),
    (["--hidden", "10,5"], "must be symmetric"),
    (["--pool-grid", "0"], "--pool-grid must be a positive integer, got 0"),
    (["--patch-split", "train"], "would let the autoencoder see test images"),
    (["--set", "logistc.C=1"], "--set names an unknown classifier 'logistc'"),
    (["--finetune-iterations", "-1"], "--finetune-iterations must be an integer >= 0, got -1"),
    (["--rho", "0"], "--rho must be in the open interval (0, 1), got 0.0"),
    (["--memory-limit", "0"], "--memory-limit must be a positive integer, got 0"),
    (["--model", "/no/such/model.npz"], "/no/such/model.npz"),
    (["--json", "/no/such/dir/run.json"], "--json '/no/such/dir/run.json' cannot be written"),
])
def test_classify_bad_arguments(tmp_path, capsys, arguments, message):
    root = write_folder(tmp_path / "train", n=30)
    status = main(["classify", "folder", root, "--holdout", "9", "--classifiers", "knn"] + arguments + FAST)
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("nnlite classify: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("where", ["--output", "--json"])
def test_unwritable_outputs_fail_before_loading_or_training(tmp_path, capsys, where):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "out" if where == "--output" else tmp_path
    status = main(["classify", "folder", str(tmp_path / "no-such-images"), where, str(target),
                   "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    # refused on the path, before the (missing) image folder was even looked at
    assert where in err and "no-such-images" not in err


MODEL_FLAGS = [
    ["--normalization", "zca"],
    ["--normalization", "zca", "--rho", "0.05", "--epsilon", "0.01", "--hidden", "8,4,8"],
    ["--normalization", "mean-removed", "--activation", "relu", "--optimizer", "lbfgs", "--dtype", "float32"],
    ["--lambda", "1e-3", "--output-activation", "identity", "--iterations", "7", "--finetune-iterations", "0",
     "--backend", "numpy", "--seed", "4", "--patches", "123", "--patch-size", "6"],
]


@pytest.mark.parametrize("flags", MODEL_FLAGS)
def test_train_and_classify_read_the_same_settings_from_the_same_flags(flags):
    parser = build_parser()
    hidden = flags[flags.index("--hidden") + 1] if "--hidden" in flags else None
    trained = patch_settings(parser.parse_args(["train", *flags]), hidden)
    classified = patch_settings(parser.parse_args(["classify", "folder", "x", *flags]), hidden)
    assert trained == classified
    if "zca" in flags and "--rho" not in flags:
        assert (trained.sparsity_param, trained.lambda_, trained.beta, trained.output_activation) == (
            0.035, 3e-3, 5.0, "identity")


def test_train_and_classify_build_the_same_zca_model(tmp_path):
    """The same flags and images: nnlite train and nnlite classify train the same network."""
    train_root = write_folder(tmp_path / "train", n=30)
    test_root = write_folder(tmp_path / "test", n=15, seed=3)
    flags = ["--normalization", "zca", "--hidden", "5", "--patch-size", "4", "--patches", "200",
             "--iterations", "5", "--seed", "2", "--quiet"]
    assert main(["train", "folder", train_root, "--output", str(tmp_path / "t"), *flags]) == 0
    assert main(["classify", "folder", train_root, "--test-data", test_root, "--classifiers", "knn",
                 "--no-raw", "--output", str(tmp_path / "c"), *flags]) == 0
    trained, classified = (PatchModel.load(path) for path in (tmp_path / "t" / "model.npz",
                                                              tmp_path / "c" / "model-5.npz"))
    assert trained.settings == classified.settings
    assert trained.settings.sparsity_param == 0.035 and trained.settings.output_activation == "identity"
    assert trained.network.activation_names == classified.network.activation_names == ["sigmoid", "identity"]
    np.testing.assert_array_equal(trained.network.theta, classified.network.theta)


def test_parsers():
    assert parse_strides("1, 2,4") == [1, 2, 4]
    assert parse_feature_layers("middle,first,concat,2") == ["middle", "first", "concat", 2]
    assert parse_classifier_options(["logistic.C=0.5", "knn.weights=distance"]) == {
        "logistic": {"C": 0.5}, "knn": {"weights": "distance"}}
    assert parse_holdout("10000") == 10000 and parse_holdout("0.25") == 0.25
    with pytest.raises(ValueError, match="NAME.PARAM=VALUE"):
        parse_classifier_options(["C=1"])
    with pytest.raises(ValueError, match="--holdout"):
        parse_holdout("1.5")


@pytest.mark.data
def test_classify_on_real_cifar_jpegs(cifar_jpeg_train, tmp_path, capsys):
    json_path = tmp_path / "run.json"
    assert main(["classify", "folder", cifar_jpeg_train, "--limit", "400", "--holdout", "100",
                 "--classifiers", "logistic", "--hidden", "10", "--patches", "1000", "--iterations", "20",
                 "--seed", "0", "--quiet", "--json", str(json_path)]) == 0
    document = json.loads(json_path.read_text())
    assert [row["features"] for row in document["results"]] == ["raw pixels", "ae 10 s4"]
    assert document["data"]["class_names"][0] == "airplane" and document["settings"]["n_test"] == 100
    for row in document["results"]:  # a whole number of the 100 test images; chance is 0.1
        assert row["accuracy"] * 100 == pytest.approx(round(row["accuracy"] * 100), abs=1e-9)
        assert row["accuracy"] > 0.2


def test_classify_stl10_uses_test_split_folds_and_unlabeled_patches(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    write_stl10_split(folder, "train", 20, rng)
    write_stl10_split(folder, "test", 10, rng)
    write_stl10_split(folder, "unlabeled", 6, rng, labels=False)
    (folder / "class_names.txt").write_text("\n".join(STL10_CLASSES) + "\n")
    folds = [np.arange(k, 20, 10) for k in range(10)]
    (folder / "fold_indices.txt").write_text("\n".join(" ".join(map(str, f)) for f in folds) + "\n")
    json_path = tmp_path / "run.json"
    assert main(["classify", "stl10", str(folder), "--patch-split", "unlabeled", "--hidden", "4",
                 "--strides", "32", "--pooling", "sum", "--classifiers", "knn", "--set", "knn.n_neighbors=1",
                 "--json", str(json_path)] + FAST) == 0
    document = json.loads(json_path.read_text())
    assert document["data"]["test"] == "test split" and document["settings"]["n_test"] == 10
    assert [(row["features"], row["train_on"]) for row in document["results"]] == [
        ("raw pixels", "all"), ("raw pixels", "10 folds"), ("ae 4 s32 sum2x2", "all"), ("ae 4 s32 sum2x2", "10 folds")]
    assert len(document["results"][1]["fold_accuracies"]) == 10


def documented_commands():
    """Every ``nnlite train`` / ``nnlite classify`` command line of README.md and docs/classification.md."""
    root = os.path.join(os.path.dirname(__file__), "..")
    commands = []
    for name in ("README.md", os.path.join("docs", "classification.md")):
        with open(os.path.join(root, name), encoding="utf-8") as handle:
            text = handle.read().replace("\\\n", " ")
        for match in re.finditer(r"(?:^|`)\s*(nnlite (?:train|classify)\b[^`\n#]*)", text, re.M):
            line = match.group(1).strip()
            if "[" not in line and "SOURCE PATH" not in line and "--help" not in line:
                commands.append(shlex.split(line)[1:])
    return commands


def test_every_documented_command_parses_into_settings():
    parser, commands = build_parser(), documented_commands()
    assert len(commands) >= 20
    for argv in commands:
        args = parser.parse_args(argv)
        if args.command == "train":
            settings = [patch_settings(args, args.hidden[0] if args.hidden else None)]
        else:
            settings = classification_settings(args).architectures
        for model in settings:   # the flags given are the model's, the rest the normalisation's preset
            if "--rho" in argv:
                assert model.sparsity_param == float(argv[argv.index("--rho") + 1])
            elif model.normalization == "zca":
                assert model.sparsity_param == 0.035 and model.output_activation == "identity"
            else:
                assert (model.sparsity_param, model.lambda_, model.beta) == (0.01, 1e-4, 3.0)


def test_mirror_flag_reaches_the_settings():
    parser = build_parser()
    for argv, expected in ((["classify", "sample", "--mirror"], True), (["classify", "sample"], False)):
        assert classification_settings(parser.parse_args(argv)).mirror is expected
