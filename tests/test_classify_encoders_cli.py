"""``nnlite classify --encoder/--alpha/--select-c`` end to end on a tiny folder, its progress lines and --quiet."""

import json

import pytest

from nnlite.cli import main

from test_classify_cli import write_folder

FAST = ["--patch-size", "4", "--patches", "300", "--iterations", "10", "--seed", "0", "--no-raw",
        "--normalization", "zca", "--strides", "2", "--pooling", "sum", "--holdout", "15"]


def _folder(root):
    return write_folder(root)


def test_soft_threshold_with_C_chosen_on_validation(tmp_path, capsys):
    root = _folder(tmp_path / "train")
    json_path = tmp_path / "run.json"
    status = main(["classify", "folder", root, "--encoder", "soft-threshold", "--alpha", "0.1", "--select-c",
                   "--classifiers", "l2svm,logistic", "--json", str(json_path)] + FAST)
    assert status == 0
    captured = capsys.readouterr()
    rows = json.loads(json_path.read_text())["results"]
    assert [row["features"] for row in rows] == ["ae 75 soft-threshold s2 sum2x2"] * 2
    assert rows[0]["classifier"] == f"l2svm C={rows[0]['C']:g}" and len(rows[0]["C_grid"]) == 4
    assert rows[0]["n_features"] == 4 * 150 and rows[0]["alpha"] == 0.1
    assert rows[1]["classifier"].startswith("logistic C=")
    assert "C=" in captured.out
    err = captured.err
    assert "l2svm: fitting on all (45 images, 600 features) ..." in err
    assert "validation accuracy" in err and "refitted in" in err


def test_quiet_silences_the_progress(tmp_path, capsys):
    root = _folder(tmp_path / "train")
    status = main(["classify", "folder", root, "--encoder", "triangle", "--select-c", "--classifiers", "l2svm",
                   "--quiet"] + FAST)
    assert status == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "ae 75 triangle s2 sum2x2" in captured.out


@pytest.mark.parametrize("argv, message", [
    (["--encoder", "kmeans"], "invalid choice"),
    (["--alpha", "big"], "--alpha takes 'auto' or a number"),
    (["--alpha", "-1"], "--alpha must be 'auto' or a number >= 0"),
    (["--classifiers", "l2svm", "--set", "l2svm.C=-1"], "'C' parameter of L2SVM must be a float"),
])
def test_bad_encoder_options(tmp_path, capsys, argv, message):
    root = _folder(tmp_path / "train")
    with pytest.raises(SystemExit) if "invalid" in message else _no_exit():
        status = main(["classify", "folder", root, "--quiet"] + FAST + argv)
        assert status == 2
    assert message in capsys.readouterr().err


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
