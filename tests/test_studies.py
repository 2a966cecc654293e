"""The report's study functions on tiny data: shapes, JSON round trip, figures, LaTeX, monotone sanity."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from nnlite.patch_model import PatchModel, PatchSettings
from nnlite.studies import (classification, display, evaluation, gpu, hyperparameters, latex, pictures, relu, runner,
                            sample_size)
from nnlite.studies.common import decode_png, encode_png

#: A model small enough to train in a fraction of a second.
TINY = PatchSettings(hidden=(8,), patch_size=4, num_patches=400, max_iter=20)
SHAPE = (16, 16, 3)


@pytest.fixture(scope="module")
def images():
    """24 smooth random colour images of 16x16 (uint8), as rows."""
    rng = np.random.default_rng(7)
    fields = rng.normal(size=(24,) + SHAPE).cumsum(axis=1).cumsum(axis=2)
    low, high = fields.min(axis=(1, 2, 3), keepdims=True), fields.max(axis=(1, 2, 3), keepdims=True)
    return np.rint(255 * (fields - low) / (high - low)).astype(np.uint8).reshape(24, -1)


def round_trip(result):
    """The result after a trip through JSON text (must be equal)."""
    restored = json.loads(json.dumps(result))
    assert restored == result
    return restored


def test_png_encoding_round_trip():
    grid = np.random.default_rng(0).uniform(size=(9, 7, 3))
    assert np.array_equal(decode_png(encode_png(grid)), np.rint(grid * 255).astype(np.uint8))


def test_pictures(images, tmp_path):
    result = round_trip(pictures.run_pictures(images, SHAPE, settings=TINY, n_images=4, random_state=3))
    assert result["n_images"] == 4
    assert decode_png(result["filters_png"]).shape == (3 * 5 + 1, 3 * 5 + 1, 3)  # 8 tiles: 3x3 grid
    assert decode_png(result["patches_png"]).ndim == 3
    assert result["settings"]["random_state"] == 3
    paths = pictures.figures_pictures(result, tmp_path)
    assert sorted(os.path.basename(p) for p in paths) == ["pictures.pdf", "pictures.png"]
    assert all(os.path.getsize(p) > 0 for p in paths)
    assert pictures.macros_pictures(result)["PicturesHidden"] == "8"


def test_hyperparameters_share_the_default_and_follow_the_theory(images, tmp_path):
    sweeps = {"sparsity_param": [0.01, 0.3], "max_iter": [2, 20, 80]}
    result = round_trip(hyperparameters.run_hyperparameters(images, SHAPE, base=TINY, sweeps=sweeps,
                                                            n_eval=500))
    # the default (rho 0.01, 20 iterations) is trained once and shared by both sweeps
    assert len(result["models"]) == 4
    assert result["sweeps"]["sparsity_param"][0] == result["sweeps"]["max_iter"][1]
    rho = [result["models"][i] for i in result["sweeps"]["sparsity_param"]]
    assert rho[1]["mean_activation"] > rho[0]["mean_activation"]  # mean activation grows with rho
    iterations = [result["models"][i]["reconstruction_error"] for i in result["sweeps"]["max_iter"]]
    assert iterations[0] > iterations[1] > iterations[2]  # more iterations, better reconstruction
    for model in result["models"]:
        assert 0.0 <= model["dead_fraction"] <= 1.0 and 0.0 <= model["saturated_fraction"] <= 1.0
    names = sorted(os.path.basename(p) for p in hyperparameters.figures_hyperparameters(result, tmp_path))
    assert names == sorted(f"hyper_{n}.{e}" for n in ("rho", "iterations", "numbers") for e in ("png", "pdf"))
    header, rows = hyperparameters.tables_hyperparameters(result)["HyperTable"]
    assert len(rows) == 5 and all(len(row) == len(header) for row in rows)
    macros = hyperparameters.macros_hyperparameters(result)
    assert macros["HyperRhoSentence"].startswith("The mean hidden activation rises")
    assert "falls with every increase" in macros["HyperIterSentence"]


def test_hyperparameters_name_the_settings_with_dead_units():
    models = [{"dead_fraction": dead, "saturated_fraction": 0.0} for dead in (0.5, 0.0)]
    result = {"models": models, "sweeps": {"beta": [0, 1]}, "values": {"beta": [0.0, 3.0]}}
    sentence = hyperparameters._unit_sentence(result)
    assert "units are dead with $\\beta$ = $0$ (50\\%)." in sentence
    assert "No model has more than 10\\% of its units saturated." in sentence


def test_hyperparameters_normalisation_takes_its_preset(images):
    result = hyperparameters.run_hyperparameters(images, SHAPE, base=TINY, n_eval=200,
                                                 sweeps={"normalization": ["spec", "zca"]})
    zca = result["models"][result["sweeps"]["normalization"][1]]["settings"]
    assert zca["normalization"] == "zca" and zca["output_activation"] == "identity"
    assert zca["hidden"] == [8] and zca["max_iter"] == TINY.max_iter


def test_hyperparameters_reject_unknown_names(images):
    with pytest.raises(ValueError, match="cannot sweep"):
        hyperparameters.run_hyperparameters(images, SHAPE, base=TINY, sweeps={"momentum": [0.9]})


def test_sample_size_with_a_classifier_hook(images, tmp_path):
    calls = []

    def evaluate(model):  # a stand-in classifier: accuracy grows with the number of patches
        calls.append(model.settings.num_patches)
        return 0.1 + model.settings.num_patches / 1000

    result = round_trip(sample_size.run_sample_size(images, SHAPE, sizes=[50, 200], n_seeds=3, base=TINY,
                                                    evaluate=evaluate, n_eval=200))
    assert len(result["runs"]) == 6 and len(set(result["seeds"])) == 3
    assert calls == [50, 50, 50, 200, 200, 200]
    sizes, means, stds = sample_size.summarize(result, "accuracy")
    assert sizes == [50, 200] and np.allclose(means, [0.15, 0.3]) and np.allclose(stds, 0)
    assert all(run["training_time"] > 0 for run in result["runs"])
    assert len(sample_size.figures_sample_size(result, tmp_path)) == 2
    assert "more patches helped" in sample_size.macros_sample_size(result)["SampleSizeSentence"]
    header, rows = sample_size.tables_sample_size(result)["SampleSizeTable"]
    assert rows[0][0] == "50" and "15.0" in rows[0][1]


def test_sample_size_without_hook_reports_no_accuracy(images):
    result = sample_size.run_sample_size(images, SHAPE, sizes=[50], n_seeds=2, base=TINY, n_eval=100)
    assert all(run["accuracy"] is None for run in result["runs"])
    assert "No classification accuracy" in sample_size.macros_sample_size(result)["SampleSizeSentence"]


def test_relu_against_sigmoid(images, tmp_path):
    result = round_trip(relu.run_relu(images, SHAPE, base=TINY, n_seeds=3, n_eval=200))
    assert [run["activation"] for run in result["runs"]] == ["sigmoid", "relu"] * 3
    for run in result["runs"]:
        assert len(run["loss_curve"]) == len(run["time_curve"]) == run["n_iter"] + 1
        assert run["loss_curve"][-1] < run["loss_curve"][0]
        assert 0 <= run["iterations_99"] <= run["n_iter"]
    # same seed -> same patches and weights: the two activations start from the same reconstruction
    assert result["runs"][0]["seed"] == result["runs"][1]["seed"]
    assert relu.figures_relu(result, tmp_path)[0].endswith("relu_convergence.png")
    sentence = relu.macros_relu(result)["ReluSentence"]
    assert sentence.endswith(("ReLU converged faster here.", "ReLU did not converge faster here."))
    assert len(relu.tables_relu(result)["ReluTable"][1]) == 2


def _curve_run(activation, costs, step):
    return {"activation": activation, "loss_curve": costs, "final_cost": costs[-1],
            "time_curve": [step * k for k in range(len(costs))],
            "iterations_99": relu.time_to_fraction(costs, range(len(costs)))[0],
            "seconds_99": relu.time_to_fraction(costs, [step * k for k in range(len(costs))])[1]}


def test_relu_conclusion_is_chosen_by_the_data():
    fast, slow = [10.0, 2.0, 1.0, 1.0, 1.0], [10.0, 8.0, 6.0, 3.0, 1.5]
    base = {"max_iter": 4, "num_patches": 100}
    quicker = {"runs": [_curve_run("sigmoid", slow, 0.1), _curve_run("relu", fast, 0.1)], "seeds": [1],
               "base": base}
    macros = relu.macros_relu(quicker)
    assert macros["ReluSentence"].endswith("ReLU converged faster here.")
    assert macros["ReluReachSentence"].startswith("ReLU reached the sigmoid's final cost in 50")
    slower = {"runs": [_curve_run("sigmoid", fast, 0.1), _curve_run("relu", slow, 0.1)], "seeds": [1],
              "base": base}
    macros = relu.macros_relu(slower)
    assert macros["ReluSentence"].endswith("ReLU did not converge faster here.")
    assert "stayed above the sigmoid's final cost in 1 of 1" in macros["ReluReachSentence"]


def test_time_to_fraction():
    costs, times = [10.0, 5.0, 2.0, 1.1, 1.0], [0.0, 0.1, 0.2, 0.3, 0.4]
    assert relu.time_to_fraction(costs, times, 0.5) == (1, 0.1)
    assert relu.time_to_fraction(costs, times, 0.85) == (2, 0.2)
    assert relu.time_to_fraction(costs, times, 0.99) == (4, 0.4)


def test_gpu_reads_a_stored_benchmark(tmp_path):
    evaluations = [{"backend": backend, "dtype": "float64", "n_samples": n, "hidden": 75,
                    "seconds": seconds * n / 1000, "speedup_vs_numpy_float64": 0.0}
                   for backend, seconds in (("numpy", 0.02), ("cupy", 0.001)) for n in (1000, 10000)]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"machine": {"cpu": "Test CPU", "gpu": {"name": "Test GPU"}},
                                "notes": ["cudamat skipped"], "evaluations": evaluations}))
    result = round_trip(gpu.run_gpu(benchmark=str(path)))
    assert len(result["evaluations"]) == 4 and result["training"] == []
    assert gpu.figures_gpu(result, tmp_path)[0].endswith("gpu_speed.png")
    header, rows = gpu.tables_gpu(result)["GpuTable"]
    assert [row[-1] for row in rows if row[0] == "cupy"] == ["20.0$\\times$"] * 2
    macros = gpu.macros_gpu(result)
    assert macros["GpuDevice"] == "Test GPU" and "20$\\times$ over numpy float64" in macros["GpuSentence"]
    with pytest.raises(FileNotFoundError, match="run_gpu.sh"):
        gpu.run_gpu(benchmark=str(tmp_path / "missing.json"))


# ------------------------------------------------------------------ LaTeX
def test_escape_every_special_character():
    assert latex.escape("a_b & 50% $x$ #1 {y} ~ ^ \\") == (
        r"a\_b \& 50\% \$x\$ \#1 \{y\} \textasciitilde{} \textasciicircum{} \textbackslash{}")
    assert latex.escape(latex.Tex(r"$\rho$")) == r"$\rho$"


def test_format_number():
    assert latex.format_number(0.0123) == "$0.0123$"
    assert latex.format_number(1.5e-5) == r"$1.5\times10^{-5}$"
    assert latex.format_number(1e-4) == "$0.0001$"
    assert latex.format_number(1e-5) == "$10^{-5}$"
    assert latex.format_number(0) == "$0$"
    assert latex.format_number(float("nan")) == "--"
    assert latex.format_number(2e-5, plain=True) == "2e-5"


def test_macro_names_are_letters_only():
    assert latex.macro_definition("StudyX", "a_b") == r"\newcommand{\StudyX}{a\_b}"
    for bad in ("Study1", "my_macro", ""):
        with pytest.raises(ValueError, match="letters only"):
            latex.macro_name(bad)


def test_tabular_body_checks_row_length():
    body = latex.tabular_body(["a", "b_c"], [[1, latex.Tex("$x$")]])
    assert body.splitlines() == [r"a & b\_c \\", r"\midrule", r"1 & $x$ \\"]
    with pytest.raises(ValueError, match="cells"):
        latex.tabular_body(["a", "b"], [[1]])


def test_render_study_marks_a_missing_study():
    assert r"\newcommand" not in latex.render_study("sample_size")
    text = latex.render_study("sample_size", {"Value": "1"}, {"Table": (["x"], [["y"]])})
    assert r"\newcommand{\StudySampleSizeDone}{1}" in text and r"\newcommand{\Table}" in text


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_generated_macros_typeset(tmp_path):
    nasty = "50% of a_b & {c} #1 ~ ^ \\ $"
    latex.write_generated(tmp_path, "demo", {"Nasty": nasty, "Math": latex.Tex(latex.format_number(3e-7))},
                          {"DemoTable": (["h_1", "h%2"], [[nasty, latex.Tex("$x$")]])})
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\\usepackage[T1]{fontenc}\\usepackage{booktabs}\\input{demo.tex}"
        "\\begin{document}\\Nasty\\ \\Math\\begin{tabular}{ll}\\DemoTable\\end{tabular}"
        "\\ifcsname StudyDemoDone\\endcsname done\\fi\\end{document}\n")
    status = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert status.returncode == 0, status.stdout[-2000:]


@pytest.fixture(scope="module")
def labelled():
    """90 images of 16x16 in 3 classes (a horizontal or vertical ramp, or none) and their labels."""
    rng = np.random.default_rng(11)
    labels = np.repeat(np.arange(3), 30)
    fields = rng.normal(size=(90,) + SHAPE).cumsum(axis=1).cumsum(axis=2)
    fields[labels == 1] += np.linspace(0, 40, 16)[None, :, None, None]
    fields[labels == 2] += np.linspace(0, 40, 16)[None, None, :, None]
    low, high = fields.min(axis=(1, 2, 3), keepdims=True), fields.max(axis=(1, 2, 3), keepdims=True)
    images = np.rint(255 * (fields - low) / (high - low)).astype(np.uint8).reshape(90, -1)
    return images, labels


def test_report_split_is_disjoint_stratified_and_seeded(labelled):
    images, labels = labelled
    dataset = evaluation.labelled_dataset(images, labels, SHAPE)
    split = evaluation.report_split(dataset, random_state=4, validation=15)
    assert split["protocol"]["n_holdout"] == 18 == len(split["holdout"])  # a fifth of 90 (< HOLDOUT)
    assert len(split["validation"]) == 15 and len(split["train"]) == 90 - 18 - 15
    rows = [{tuple(row) for row in split[key].images} for key in ("train", "holdout", "validation")]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    assert np.array_equal(np.bincount(split["holdout"].labels), [6, 6, 6])
    again = evaluation.report_split(dataset, random_state=4, validation=15)
    assert np.array_equal(again["holdout"].images, split["holdout"].images)
    other = evaluation.report_split(dataset, random_state=5, validation=15)
    assert not np.array_equal(other["holdout"].images, split["holdout"].images)


def test_classification_hook(labelled):
    images, labels = labelled
    assert evaluation.classification_hook(images, None, SHAPE) is None
    hook = evaluation.classification_hook(images, labels, SHAPE, random_state=2)
    protocol = hook.protocol
    assert protocol["n_holdout"] == 18 and protocol["n_validation"] == (90 - 18) // 3
    assert len(hook.patch_images) == protocol["n_train_pool"] == 90 - 18 - protocol["n_validation"]
    held = {tuple(row) for row in hook.valid.images}
    assert not held & {tuple(row) for row in hook.patch_images}
    model = PatchModel(TINY).fit(hook.patch_images, SHAPE)
    accuracy = evaluation.accuracy_of(hook, model)
    assert 0.0 <= accuracy <= 1.0 and accuracy > 0.5  # three easy classes: far above chance (1/3)
    assert json.loads(json.dumps(protocol)) == protocol


def test_classification_study(labelled, tmp_path):
    images, labels = labelled
    result = round_trip(classification.run_classification_study(
        images, SHAPE, labels, base=TINY, classifiers=("logistic", "knn"), strides=(1, 2, 4, 8),
        sizes={"models": (40, 18), "strides": (30, 12)}, random_state=1))
    assert result["protocol"]["n_holdout"] == 18 and result["protocol"]["n_train_pool"] == 72
    assert [(row["classifier"], row["kind"]) for row in result["models"]] == [
        ("logistic", "raw"), ("knn", "raw"), ("logistic", "autoencoder"), ("knn", "autoencoder")]
    assert all(0.0 <= row["accuracy"] <= 1.0 for row in result["models"] + result["strides"])
    assert result["protocol"]["n_train_strides"] == 30 and result["protocol"]["n_test_strides"] == 12
    none = {row["stride"]: row["n_features"] for row in result["strides"] if row["pooling"] == "none"}
    pooled = {row["stride"]: row["n_features"] for row in result["strides"] if row["pooling"] == "sum"}
    # 16x16 images, 4x4 patches, 8 units: ((16 - 4) // s + 1)^2 positions; sum pooling: 2x2 regions
    assert none == {s: ((16 - 4) // s + 1) ** 2 * 8 for s in (1, 2, 4, 8)}
    assert set(pooled.values()) == {4 * 8}
    paths = classification.figures_classification(result, tmp_path)
    assert sorted(os.path.basename(p) for p in paths) == sorted(
        ["classification_models.png", "classification_models.pdf", "classification_strides.png",
         "classification_strides.pdf"])
    macros = classification.macros_classification(result)
    assert macros["ClassificationHoldout"] == "18" and "per classifier: logistic regression" in \
        macros["ClassificationSentence"]
    tables = classification.tables_classification(result)
    assert len(tables["ClassificationTable"][1]) == 2 and len(tables["ClassificationStrideTable"][1]) == 4
    latex.render_study("classification", macros, tables)


def test_classification_study_needs_labels(images):
    with pytest.raises(ValueError, match="needs labels"):
        classification.run_classification_study(images, SHAPE, None, base=TINY)


def test_classification_conclusion_weighs_the_noise():
    """A gap counts only beyond two binomial standard errors of the difference."""
    assert np.isclose(classification.two_standard_errors(0.5, 0.5, 10000), 2 * np.sqrt(0.5 / 10000))

    def result(raw, learned, n_test):
        rows = [{"classifier": "logistic", "kind": "raw", "accuracy": raw},
                {"classifier": "logistic", "kind": "autoencoder", "accuracy": learned}]
        strides = [{"stride": s, "pooling": p, "accuracy": 0.4, "n_features": 10} for s in (1, 2) for p in ("none", "sum")]
        return {"protocol": {"n_test_models": n_test, "n_holdout": n_test, "n_train_models": 10, "n_train_strides": 10,
                             "n_test_strides": n_test, "n_train_pool": 10, "model_stride": 4, "pool_grid": 2},
                "models": rows, "strides": strides, "base": {"hidden": [8], "num_patches": 100},
                "autoencoder": {"n_iter": 1, "training_time": 1.0}, "classifier_options": {}}

    clear = classification.macros_classification(result(0.30, 0.40, 10000))["ClassificationSentence"]
    assert "beyond two standard errors" in clear and "beats the best raw-pixel one" in clear
    noisy = classification.macros_classification(result(0.30, 0.31, 100))["ClassificationSentence"]
    assert "within two standard errors" in noisy and "for 0 of the 1 classifiers" in noisy
    worse = classification.macros_classification(result(0.40, 0.30, 10000))["ClassificationSentence"]
    assert "raw-pixel classifier beats" in worse
    flat = classification.macros_classification(result(0.3, 0.4, 100))["ClassificationStrideSentence"]
    assert "no stride or pooling is distinguishable" in flat


def test_relu_accuracy_sentence_weighs_the_seeds():
    sigmoid = [{"accuracy": value} for value in (0.40, 0.42, 0.41)]
    assert "sigmoid features are better" in relu.accuracy_sentence(sigmoid, [{"accuracy": v} for v in (0.35, 0.36, 0.34)])
    assert "within the spread" in relu.accuracy_sentence(sigmoid, [{"accuracy": v} for v in (0.40, 0.43, 0.41)])
    assert "No classification accuracy" in relu.accuracy_sentence([{"accuracy": None}], sigmoid)


def test_display_turns_the_report_latex_into_markdown():
    assert display.plain(r"$\beta$ = $0$ (11\%), $1.2\times10^{-3}$, $38.6 \pm 1.2$") == \
        "β = 0 (11%), 1.2×10^-3, 38.6 ± 1.2"
    table = display.markdown_table(["a", latex.Tex(r"b (\%)")], [["x|y", latex.Tex("$1$")]])
    assert table.splitlines() == ["| a | b (%) |", "|---|---|", "| x/y | 1 |"]
    study = runner.Study("fake", macros=lambda result: {"FakeSentence": latex.Tex(r"Up by 5\%."), "FakeN": "7"},
                         tables=lambda result: {"FakeTable": (["n"], [["7"]])})
    text = display.study_markdown(study, {"n": 7})
    assert text.startswith("Up by 5%.") and "FakeN = 7" in text and "| n |" in text
    assert "has not run" in display.study_markdown(study, None)
