"""The command line under hostile use: one ``error:`` line and status 2, all-or-nothing outputs, Ctrl-C = 130.

Most cases run as real processes (the exit status and stderr a user sees,
no traceback), started together to save time; the faults that cannot be
provoked from outside (a disk that fills while writing, a MemoryError) are
injected in-process through :func:`nnlite.cli.main`.  The library side is in
tests/test_hardening_api.py.
"""

import errno
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nnlite.cli.train as cli_train
from nnlite.cli import main
from nnlite.patch_model import PatchModel

from test_classify_cli import FAST, write_folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENVIRONMENT = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   PYTHONUNBUFFERED="1")
TINY = ["--patches", "300", "--hidden", "6", "--iterations", "3"]


def nnlite_process(argv, **options):
    return subprocess.Popen([sys.executable, "-m", "nnlite", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENVIRONMENT, **options)


def folder_hashes(folder):
    """{relative path: sha256} of every file under ``folder`` (hidden ones included)."""
    hashes = {}
    for where, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(where, name)
            with open(path, "rb") as handle:
                hashes[os.path.relpath(path, folder)] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


def assert_one_error_line(status, err, command, fragment):
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nnlite {command}: error: "), err
    assert fragment in lines[0], err


# ----------------------------------------------------------- bad input, as processes
@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Image folder, a trained model, a model with NaN weights, an output folder with a folder in the way."""
    root = tmp_path_factory.mktemp("hardening")
    images = write_folder(root / "train")
    assert main(["train", "folder", images, *TINY, "--patch-size", "4", "--output", str(root / "good"),
                 "--quiet"]) == 0
    archive = dict(np.load(root / "good" / "model.npz"))
    archive["estimator/theta"] = archive["estimator/theta"].copy()
    archive["estimator/theta"][3] = np.nan
    np.savez(root / "nan.npz", **archive)
    (root / "blocked" / "filters.png").mkdir(parents=True)
    (root / "a-file").write_text("not a folder")
    return root


def bad_input_cases(root):
    images = str(root / "train")
    classify = ["classify", "folder", images, "--holdout", "15", *FAST[:-2]]
    classify.remove("--quiet")
    return {
        "output is a file": (["train", "--output", str(root / "a-file")], "train", "is a file"),
        "output unwritable": (["train", "--output", "/proc/nnlite-out"], "train", "cannot be written"),
        "absurd patches": (["train", "--patches", "1000000000000", "--output", str(root / "o1")], "train",
                           "needs"),
        "absurd hidden": (["train", "--hidden", "100000000", "--output", str(root / "o2")], "train",
                          "choose smaller hidden layers"),
        "a folder in the way": (["train", "--output", str(root / "blocked")], "train", "filters.png"),
        "unknown classifier parameter": (classify + ["--set", "logistic.bogus=1"], "classify",
                                         "its parameters are C, "),
        "bad classifier value": (classify + ["--set", "logistic.C=-1"], "classify", "'C' parameter"),
        "misspelled classifier": (classify + ["--set", "logistc.C=1"], "classify", "'logistc'"),
        "json in a missing folder": (classify + ["--json", str(root / "no" / "run.json")], "classify",
                                     "--json"),
        "model with NaN weights": (classify + ["--model", str(root / "nan.npz")], "classify",
                                   "non-finite"),
        "absurd classify hidden": (classify + ["--hidden", "100000000"], "classify", "needs"),
    }


@pytest.fixture(scope="module")
def bad_input_results(workspace):
    cases = bad_input_cases(workspace)
    running = {name: nnlite_process(argv) for name, (argv, _, _) in cases.items()}
    return {name: (process.wait(timeout=300), *process.communicate()) for name, process in running.items()}


@pytest.mark.parametrize("case", sorted(bad_input_cases(pathlib.Path("."))))
def test_bad_input_is_one_error_line_before_any_work(workspace, bad_input_results, case):
    """Status 2, one line naming the input, no traceback, nothing else printed (no loading, no training)."""
    _, command, fragment = bad_input_cases(workspace)[case]
    status, _, err = bad_input_results[case]
    assert_one_error_line(status, err, command, fragment)
    assert not (workspace / "o1").exists() and not (workspace / "o2").exists()


def test_the_folder_in_the_way_is_left_alone(workspace, bad_input_results):
    assert sorted(os.listdir(workspace / "blocked")) == ["filters.png"]


# ------------------------------------------------------ all or nothing, in-process faults
def test_a_failure_while_writing_leaves_the_previous_results_byte_identical(tmp_path, monkeypatch, capsys):
    output = tmp_path / "out"
    assert main(["train", *TINY, "--output", str(output), "--quiet"]) == 0
    before = folder_hashes(output)
    assert set(before) == set(cli_train.OUTPUT_FILES)
    capsys.readouterr()
    real = cli_train.plot_loss_curve

    def disk_full(curve, path, **options):
        real(curve, path, **options)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(cli_train, "plot_loss_curve", disk_full)
    status = main(["train", *TINY, "--seed", "5", "--output", str(output), "--quiet"])
    err = capsys.readouterr().err
    assert_one_error_line(status, err, "train", "No space left on device")
    assert "free some disk space" in err and "loss_curve.png" in err
    assert folder_hashes(output) == before  # nothing replaced, no temporary files left


def test_a_failed_classify_run_leaves_output_and_json_untouched(tmp_path, monkeypatch, capsys):
    images = write_folder(tmp_path / "train")
    output, json_path = tmp_path / "out", tmp_path / "run.json"
    argv = ["classify", "folder", images, "--holdout", "15", "--classifiers", "logistic",
            "--output", str(output), "--json", str(json_path)] + FAST
    assert main(argv) == 0
    before, document = folder_hashes(output), json_path.read_bytes()
    capsys.readouterr()

    def broken_plot(self, path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    monkeypatch.setattr("nnlite.classify.results.ResultTable.plot", broken_plot)
    assert_one_error_line(main(argv), capsys.readouterr().err, "classify", "Permission denied")
    assert folder_hashes(output) == before and json_path.read_bytes() == document
    assert sorted(os.listdir(tmp_path)) == ["out", "run.json", "train"]


def test_memory_error_anywhere_is_one_error_line(tmp_path, monkeypatch, capsys):
    def exhausted(self, *args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(PatchModel, "fit", exhausted)
    status = main(["train", *TINY, "--output", str(tmp_path / "out"), "--quiet"])
    assert_one_error_line(status, capsys.readouterr().err, "train", "ran out of memory")
    assert not (tmp_path / "out").exists()


def test_programming_errors_keep_their_traceback(tmp_path, monkeypatch):
    def bug(self, *args, **kwargs):
        raise AttributeError("a bug")

    monkeypatch.setattr(PatchModel, "fit", bug)
    with pytest.raises(AttributeError):
        main(["train", *TINY, "--output", str(tmp_path / "out"), "--quiet"])


# --------------------------------------------------------------------- Ctrl-C = 130
def interrupt_after(argv, marker, timeout=240):
    """Run ``argv``, send SIGINT once a stderr line contains ``marker``; (status, stdout, stderr)."""
    process = nnlite_process(argv)
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            process.send_signal(signal.SIGINT)
            break
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, "".join(seen) + err


def test_ctrl_c_while_training_writes_the_best_model_and_exits_130(tmp_path):
    output = tmp_path / "out"
    status, out, err = interrupt_after(["train", "--patches", "2000", "--hidden", "30", "--iterations",
                                        "100000", "--output", str(output)], "iter ")
    assert status == 130 and "Traceback" not in err, err
    assert "interrupted" in out and f"wrote the best parameters so far to {output / 'model.npz'}" in err
    assert sorted(os.listdir(output)) == sorted(cli_train.OUTPUT_FILES)
    assert json.loads((output / "summary.json").read_text())["result"]["interrupted"] is True
    assert PatchModel.load(output / "model.npz").summary_["interrupted"] is True


def test_ctrl_c_during_stacked_pretraining_writes_nothing_and_exits_130(tmp_path):
    output = tmp_path / "out"
    status, _, err = interrupt_after(["train", "--patches", "2000", "--hidden", "30,10,30", "--iterations",
                                      "100000", "--output", str(output)], "iter ")
    assert status == 130 and "Traceback" not in err, err
    assert "nnlite train: interrupted" in err and "nothing was written" in err
    assert not output.exists()


def test_ctrl_c_during_classify_exits_130_without_outputs(tmp_path):
    images = write_folder(tmp_path / "train")
    output = tmp_path / "out"
    status, _, err = interrupt_after(["classify", "folder", images, "--holdout", "15", "--classifiers",
                                      "logistic", "--patch-size", "4", "--iterations", "100000",
                                      "--output", str(output)], "iter ")
    assert status == 130 and "Traceback" not in err, err
    assert "nnlite classify: interrupted" in err and not output.exists()


def test_every_help_states_the_exit_status_rule():
    for command in ("train", "classify", "report"):
        process = nnlite_process([command, "--help"])
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0 and "130" in out and "Exit status" in out, command
