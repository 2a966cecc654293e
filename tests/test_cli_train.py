"""``nnlite train`` end to end on tiny runs, its options, and its errors (exit status 2)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from nnlite.cli import build_parser, main
from nnlite.preprocessing import load_model_preprocessor

OUTPUTS = ("model.npz", "filters.png", "patches.png", "loss_curve.png", "summary.json")


def tiny(*extra, output):
    """Arguments of a run that takes about a second."""
    return ["train", *extra, "--patches", "300", "--hidden", "6", "--iterations", "3",
            "--output", str(output), "--quiet"]


@pytest.fixture
def image_folder(tmp_path):
    """root/<class>/<n>.png: 2 classes x 3 RGB images of 12x12."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for index in range(3):
            pixels = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index}.png")
    return root


def test_default_source_end_to_end(tmp_path, capsys):
    output = tmp_path / "out"
    assert main(tiny(output=output)) == 0
    for name in OUTPUTS:
        assert (output / name).is_file(), name
    model, preprocessor = load_model_preprocessor(output / "model.npz")
    assert model.network_.sizes == [192, 6, 192]
    assert type(preprocessor).__name__ == "PatchNormalizer" and not preprocessor.remove_mean
    summary = json.loads((output / "summary.json").read_text())
    assert summary["data"]["source"] == "sample" and summary["data"]["patches"] == 300
    assert summary["result"]["n_iter"] <= 3
    assert 0 < summary["result"]["mean_hidden_activation"][0] < 1
    with Image.open(output / "filters.png") as image:
        assert max(image.size) >= 400
    printed = capsys.readouterr().out
    assert "final cost" in printed and "mean hidden act" in printed and str(output) in printed


def test_defaults_match_the_spec():
    from nnlite.cli.train import check_arguments

    args = build_parser().parse_args(["train"])
    check_arguments(args)
    assert (args.patches, args.patch_size, args.hidden, args.rho, args.lambda_, args.beta,
            args.iterations, args.normalization, args.activation) == \
        (10000, 8, "75", 0.01, 1e-4, 3.0, 400, "spec", "sigmoid")
    assert args.output == "nnlite-out"


def test_folder_source_positional_and_synonyms(tmp_path, image_folder, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(tiny("folder", str(image_folder), "--patch-size", "5", "--seed", "3",
                     output=first)) == 0
    assert main(tiny("--dataset", "folder", "--data", str(image_folder), "--patch-size", "5",
                     "--seed", "3", output=second)) == 0
    one, two = (np.load(folder / "model.npz")["theta"] for folder in (first, second))
    np.testing.assert_array_equal(one, two)   # same data, same seed -> same model
    summary = json.loads((first / "summary.json").read_text())
    assert summary["data"]["n_images"] == 6 and summary["data"]["image_shape"] == [12, 12, 3]
    assert summary["model"]["sizes"] == [75, 6, 75]


def test_zca_uses_a_linear_decoder_and_is_stored(tmp_path):
    output = tmp_path / "zca"
    assert main(tiny("--normalization", "zca", "--epsilon", "0.05", output=output)) == 0
    model, preprocessor = load_model_preprocessor(output / "model.npz")
    assert model.output_activation == "identity"
    assert (model.sparsity_param, model.lambda_, model.beta) == (0.035, 3e-3, 5.0)
    assert preprocessor.named_steps["zca"].epsilon == 0.05
    assert preprocessor.named_steps["normalize"].remove_mean


def test_stacked_hidden_sizes(tmp_path):
    output = tmp_path / "stacked"
    argv = tiny(output=output)
    argv[argv.index("--hidden") + 1] = "8,4,8"
    assert main(argv + ["--activation", "relu", "--output-activation", "sigmoid", "--rho", "0.02",
                        "--lambda", "1e-3", "--beta", "2"]) == 0
    model, _ = load_model_preprocessor(output / "model.npz")
    assert type(model).__name__ == "StackedAutoencoder"
    assert (model.sparsity_param, model.lambda_, model.beta) == (0.02, 1e-3, 2.0)
    assert model.network_.sizes == [192, 8, 4, 8, 192]
    summary = json.loads((output / "summary.json").read_text())
    assert len(summary["result"]["mean_hidden_activation"]) == 3


@pytest.mark.parametrize("argv,message", [
    (["--patches", "0"], "--patches must be >= 1, got 0"),
    (["--patch-size", "0"], "--patch-size must be >= 1"),
    (["--iterations", "0"], "--iterations"),
    (["--limit", "0"], "--limit"),
    (["--hidden", "10,5"], "symmetric"),
    (["--hidden", "ten"], "'ten'"),
    (["--rho", "1.5"], "--rho"),
    (["--beta", "-1"], "--beta"),
    (["--patch-size", "500"], "patch_size 500 is larger than the images (427x640)"),
    (["nosuch"], "unknown data source 'nosuch'"),
    (["folder"], "needs a path"),
    (["sample", "x"], "takes no path"),
    (["folder", "/no/such/dir"], "/no/such/dir"),
    (["--dataset", "stl10", "folder", "x"], "contradicts"),
    (["--image-size", "big"], "--image-size"),
])
def test_bad_input_exits_2_naming_the_problem(argv, message, tmp_path, capsys):
    full = ["train", *argv, "--output", str(tmp_path / "bad"), "--quiet"]
    if "--iterations" not in argv:
        full += ["--iterations", "1"]
    assert main(full) == 2
    assert message in capsys.readouterr().err


def test_patch_larger_than_folder_images(image_folder, tmp_path, capsys):
    assert main(tiny("folder", str(image_folder), "--patch-size", "13", output=tmp_path / "o")) == 2
    assert "patch_size 13 is larger than the images (12x12)" in capsys.readouterr().err


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    for action in train._actions:
        for flag in action.option_strings:
            assert flag in text
        assert action.help, f"{action.dest} has no help"
    for source in ("stl10", "cifar10", "folder", "pickle", "sample"):
        assert source in text


def test_outputs_are_not_written_on_bad_input(tmp_path):
    output = tmp_path / "never"
    assert main(["train", "--patches", "-5", "--output", str(output)]) == 2
    assert not os.path.exists(output)
