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
from nnlite.studies import REGISTRY, STUDY_NAMES, gpu, hyperparameters, pictures, relu, runner, sample_size
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


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk is not installed")
def test_report_builds_from_tiny_studies(dataset, tmp_path):
    """The real studies at toy size, then report/report.tex typeset with their generated inputs."""
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
