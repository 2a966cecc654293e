"""The report runner: resumable (skips stored results), --force redoes, missing studies, PDF build."""

import argparse
import functools
import json
import os
import shutil

import numpy as np
import pytest

from nnlite.cli import report as cli_report
from nnlite.data import Dataset
from nnlite.patch_model import PatchSettings
from nnlite.studies import (REGISTRY, STUDY_NAMES, classification, depth, gpu, hyperparameters, pictures, relu,
                            runner, sample_size)
from nnlite.studies.runner import Study, run_report

TINY = PatchSettings(hidden=(6,), patch_size=4, num_patches=300, max_iter=10)


@pytest.fixture(scope="module")
def dataset():
    """12 random 12x12 colour images (no labels)."""
    images = np.random.default_rng(3).integers(0, 256, size=(12, 12 * 12 * 3)).astype(np.uint8)
    return Dataset(images, None, [], (12, 12, 3), None, "tiny")


def counting_study(calls):
    """A fake study that records each run and returns its quick flag."""
    def run(images, image_shape, quick=False, random_state=0, progress=None):
        calls.append(quick)
        return {"n_images": int(images.shape[0]), "quick": quick}
    return Study("fake", run, macros=lambda result: {"FakeImages": str(result["n_images"])})


def test_runner_skips_stored_results_and_force_redoes(dataset, tmp_path):
    calls, lines = [], []
    registry = (counting_study(calls), Study("pending"))
    first = run_report(dataset=dataset, output_dir=tmp_path, pdf=False, registry=registry,
                       progress=lines.append)
    assert first["ran"] == ["fake"] and calls == [False]
    stored = json.loads((tmp_path / "results" / "fake.json").read_text())
    assert stored["result"] == {"n_images": 12, "quick": False} and stored["data"] == "tiny"
    second = run_report(dataset=dataset, output_dir=tmp_path, pdf=False, registry=registry)
    assert second["skipped"] == ["fake"] and second["ran"] == [] and calls == [False]
    assert second["results"]["fake"] == stored["result"]
    run_report(dataset=dataset, output_dir=tmp_path, pdf=False, registry=registry, force=True)
    assert calls == [False, False]
    run_report(dataset=dataset, output_dir=tmp_path, pdf=False, registry=registry, quick=True)
    assert calls == [False, False, True]  # a result of the other mode is not reused
    assert "\\newcommand{\\FakeImages}{12}" in (tmp_path / "generated" / "fake.tex").read_text()
    assert "\\newcommand" not in (tmp_path / "generated" / "pending.tex").read_text()
    assert any("pending: not implemented yet" in line for line in lines)


def test_runner_subset_keeps_the_other_stored_results(dataset, tmp_path):
    calls = []
    other = Study("other", lambda *args, **options: {"x": 1}, macros=lambda result: {"OtherX": "1"})
    registry = (counting_study(calls), other)
    run_report(dataset=dataset, output_dir=tmp_path, pdf=False, registry=registry)
    outcome = run_report(dataset=dataset, output_dir=tmp_path, pdf=False, registry=registry,
                         studies=["other"], force=True)
    assert outcome["ran"] == ["other"] and calls == [False]
    assert outcome["results"]["fake"] == {"n_images": 12, "quick": False}
    assert "\\newcommand{\\FakeImages}{12}" in (tmp_path / "generated" / "fake.tex").read_text()


def test_runner_passes_labels_to_studies_that_need_them(tmp_path):
    images = np.zeros((4, 12), dtype=np.uint8)
    labelled = Dataset(images, [0, 1, 0, 1], ["a", "b"], (2, 2, 3), None, "labelled")
    seen = []
    study = Study("labels", lambda images, shape, labels=None, **options: seen.append(labels) or {},
                  needs_labels=True)
    run_report(dataset=labelled, output_dir=tmp_path, pdf=False, registry=(study,))
    assert np.array_equal(seen[0], [0, 1, 0, 1])


def test_runner_skips_a_study_that_requires_labels(dataset, tmp_path):
    lines = []
    study = Study("labelled", lambda *args, **options: {}, needs_labels=True, labels_required=True)
    outcome = run_report(dataset=dataset, output_dir=tmp_path, pdf=False, registry=(study,), progress=lines.append)
    assert outcome["ran"] == [] and outcome["results"]["labelled"] is None
    assert any("carry no labels" in line for line in lines)
    assert "\\newcommand{\\ProtocolLabels}{no}" in (tmp_path / "generated" / "report.tex").read_text()


def test_runner_gives_the_hook_and_the_images_outside_the_splits(tmp_path):
    rng = np.random.default_rng(5)
    labelled = Dataset(rng.integers(0, 256, size=(40, 12)).astype(np.uint8), np.repeat([0, 1], 20), ["a", "b"],
                       (2, 2, 3), None, "labelled")
    seen = {}

    def study(images, shape, evaluate=None, **options):
        seen.update(n_images=len(images), evaluate=evaluate)
        return {}

    run_report(dataset=labelled, output_dir=tmp_path, pdf=False,
               registry=(Study("hooked", study, needs_evaluate=True),))
    protocol = seen["evaluate"].protocol
    assert protocol["n_holdout"] == 8 and seen["n_images"] == protocol["n_train_pool"] == 40 - 8 - 10
    stored = json.loads((tmp_path / "results" / "hooked.json").read_text())
    assert stored["hook_protocol"] == protocol and stored["n_study_images"] == seen["n_images"]
    generated = (tmp_path / "generated" / "report.tex").read_text()
    assert "\\newcommand{\\ProtocolHoldout}{8}" in generated


def test_runner_leaves_out_a_stored_result_the_code_cannot_read(dataset, tmp_path):
    calls, lines = [], []
    old = Study("fake", counting_study(calls).run, macros=lambda result: {"FakeImages": str(result["n_images"])})
    run_report(dataset=dataset, output_dir=tmp_path, pdf=False, registry=(old,))
    newer = Study("fake", old.run, macros=lambda result: {"FakeKey": str(result["a_new_key"])})
    outcome = run_report(dataset=dataset, output_dir=tmp_path, pdf=False, registry=(newer,), progress=lines.append)
    assert outcome["skipped"] == ["fake"] and outcome["results"]["fake"] is None
    assert any("does not fit the current code" in line and "--force" in line for line in lines)
    assert "\\newcommand" not in (tmp_path / "generated" / "fake.tex").read_text()


def test_runner_rejects_unknown_studies(dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown studies"):
        run_report(dataset=dataset, output_dir=tmp_path, studies=["nope"], pdf=False)


def test_build_pdf_names_what_to_install(monkeypatch, tmp_path):
    lines = []
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert runner.build_pdf(str(tmp_path), progress=lines.append) is None
    assert "latexmk" in lines[0] and runner.TEX_INSTALL in lines[0]


def test_registry_names():
    assert STUDY_NAMES == ("pictures", "hyperparameters", "classification", "depth", "sample_size",
                           "relu", "gpu")
    assert all(study.run is None or callable(study.run) for study in REGISTRY)


@pytest.fixture(scope="module")
def labelled():
    """60 random 12x12 colour images in 3 classes (a bright channel per class)."""
    rng = np.random.default_rng(9)
    labels = np.repeat(np.arange(3), 20)
    images = rng.integers(0, 160, size=(60, 12, 12, 3))
    images[np.arange(60), :, :, labels] += 90
    return Dataset(images.reshape(60, -1).astype(np.uint8), labels, ["r", "g", "b"], (12, 12, 3), None, "tiny")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk is not installed")
def test_report_builds_from_tiny_studies(labelled, tmp_path):
    """The real studies at toy size on labelled images, then report/report.tex typeset with their inputs."""
    dataset = labelled
    benchmark = tmp_path / "bench.json"
    benchmark.write_text(json.dumps({"machine": {"cpu": "CPU_1 & co"}, "evaluations": [
        {"backend": backend, "dtype": "float32", "n_samples": 100, "hidden": 6, "seconds": seconds}
        for backend, seconds in (("numpy", 0.01), ("cupy", 0.001))]}))
    tiny = {
        "gpu": dict(run=functools.partial(gpu.run_gpu, benchmark=str(benchmark))),
        "pictures": dict(run=functools.partial(pictures.run_pictures, settings=TINY, n_images=4)),
        "hyperparameters": dict(run=functools.partial(
            hyperparameters.run_hyperparameters, base=TINY, n_eval=100,
            sweeps={name: values[:2] for name, values in hyperparameters.QUICK_SWEEPS.items()})),
        "sample_size": dict(run=functools.partial(sample_size.run_sample_size, sizes=[50, 100], n_seeds=2,
                                                  base=TINY, n_eval=100)),
        "relu": dict(run=functools.partial(relu.run_relu, base=TINY, n_seeds=2, n_eval=100)),
        "classification": dict(run=functools.partial(
            classification.run_classification_study, base=TINY, classifiers=("logistic", "knn"),
            sizes={"models": (30, 12), "strides": (20, 12)})),
        "depth": dict(run=functools.partial(
            depth.run_depth, base=PatchSettings.preset("whitened", hidden=(6, 3, 6), patch_size=4, num_patches=300,
                                                       max_iter=5, epsilon=0.01),
            variants=("pretrained", "uniform"), n_train=24, n_valid=12, holdout=12, n_eval=100)),
    }
    registry = tuple(study if study.name not in tiny else Study(**dict(study.__dict__, **tiny[study.name]))
                     for study in REGISTRY)
    outcome = run_report(dataset=dataset, output_dir=tmp_path, registry=registry)
    assert outcome["pdf"] == os.path.join(str(tmp_path), "report.pdf")
    assert os.path.getsize(outcome["pdf"]) > 10000
    assert sorted(outcome["ran"]) == sorted(tiny)
    log = (tmp_path / "report.log").read_text(errors="replace")
    assert "Undefined control sequence" not in log and "LaTeX Error" not in log


def report_command(argv):
    """Parse ``argv`` with the ``nnlite report`` sub-parser alone and run it."""
    parser = argparse.ArgumentParser(prog="nnlite")
    cli_report.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report"] + argv)
    return args.func(args)


def test_report_command_runs_a_subset(tmp_path, capsys):
    assert report_command(["--studies", "classification", "--no-pdf", "--quiet",
                           "--output", str(tmp_path)]) == 0
    assert (tmp_path / "generated" / "classification.tex").exists()
    assert "output in" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown studies"):
        report_command(["--studies", "nope", "--no-pdf", "--quiet", "--output", str(tmp_path)])
