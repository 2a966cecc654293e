"""``nnlite train`` end to end on tiny runs, its options, and its errors (exit status 2)."""

import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from nnlite.cli import build_parser, main
from nnlite.cli.options import FLAGS, patch_settings
from nnlite.cli.train import preset_settings
from nnlite.patch_model import PatchModel, PatchSettings

OUTPUTS = ("model.npz", "filters.png", "patches.png", "loss_curve.png", "summary.json")


def tiny(*extra, output):
    """Arguments of a run that takes about a second."""
    return ["train", *extra, "--patches", "300", "--hidden", "6", "--iterations", "3",
            "--output", str(output), "--quiet"]


def subparser(name):
    """The argparse parser of ``nnlite NAME``."""
    return build_parser()._subparsers._group_actions[0].choices[name]


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
    model = PatchModel.load(output / "model.npz")
    assert model.network.sizes == [192, 6, 192]
    assert [name for name, _ in model.preprocessor_.steps] == ["normalize", "zca"]   # the 'edges' preset
    assert model.settings.output_activation == "identity" and model.settings.epsilon == 0.1
    summary = json.loads((output / "summary.json").read_text())
    assert summary["data"]["source"] == "photos" and summary["data"]["patches"] == 300
    assert summary["result"]["n_iter"] <= 3
    assert 0 < summary["result"]["mean_hidden_activation"][0] < 1
    assert summary["settings"] == model.settings.to_dict()
    with Image.open(output / "filters.png") as image:
        assert max(image.size) >= 400
    printed = capsys.readouterr().out
    assert "final cost" in printed and "mean hidden act" in printed and str(output) in printed


def test_a_named_source_takes_the_defaults_classify_uses(tmp_path):
    # no --preset: 'edges' alone, SPEC's defaults with a named SOURCE (as nnlite classify has)
    folder = tmp_path / "imgs"
    args = build_parser().parse_args(["train", "folder", str(folder), "--quiet"])
    settings, source = preset_settings(args)
    assert source == ("folder", str(folder)) and settings == PatchSettings.preset("spec")
    args = build_parser().parse_args(["train", "folder", str(folder), "--preset", "edges", "--quiet"])
    assert preset_settings(args)[0] == PatchSettings.preset("whitened")


def test_preset_spec_is_specs_recipe_on_the_two_photographs():
    args = build_parser().parse_args(["train", "--preset", "spec", "--quiet"])
    settings, source = preset_settings(args)
    assert source == ("sample", None)
    assert settings == PatchSettings()   # the library's defaults, nothing of the command's own
    edges, source = preset_settings(build_parser().parse_args(["train", "--quiet"]))
    assert source == ("photos", None) and edges == PatchSettings.preset("whitened")
    assert preset_settings(build_parser().parse_args(["train", "--normalization", "spec", "--quiet"]))[1] == \
        ("photos", None)


def test_defaults_match_the_spec():
    args = build_parser().parse_args(["train", "--preset", "spec", "--quiet"])
    settings = patch_settings(args)
    assert settings == PatchSettings()   # the library's defaults, nothing of the command's own
    assert (settings.num_patches, settings.patch_size, settings.hidden, settings.sparsity_param,
            settings.lambda_, settings.beta, settings.max_iter, settings.normalization,
            settings.activation) == (10000, 8, (75,), 0.01, 1e-4, 3.0, 400, "spec", "sigmoid")
    assert args.output == "nnlite-out"


@pytest.mark.parametrize("command", ["train", "classify"])
def test_every_patch_setting_has_its_flag_in_both_commands(command):
    flags = {flag for action in subparser(command)._actions for flag in action.option_strings}
    assert set(FLAGS) == set(PatchSettings.fields()) - {"verbose"}   # verbose: --quiet
    assert set(FLAGS.values()) <= flags and "--quiet" in flags


@pytest.mark.parametrize("command", ["train", "classify"])
def test_help_shows_the_defaults_the_parser_uses(command):
    """Every default a flag documents is the value it gets (or, left unset, the library's)."""
    checked = 0
    for action in subparser(command)._actions:
        if (not action.option_strings or action.default is None or action.default is False
                or action.default in ([], "==SUPPRESS==")):
            continue
        documented = re.search(r"default: ([^)]*)", action.help or "")
        assert documented, f"{action.option_strings[0]} does not document its default {action.default!r}"
        value = format(action.default, "g") if isinstance(action.default, float) else str(action.default)
        assert value in documented.group(1), (action.option_strings[0], value, documented.group(1))
        checked += 1
    assert checked >= {"train": 10, "classify": 16}[command]   # train's --preset: default None, below
    helps = {action.dest: action.help for action in subparser(command)._actions}
    if command == "train":   # --preset is resolved from SOURCE: its help says how
        assert "default: edges when no SOURCE is named; spec with a named SOURCE" in \
            " ".join(helps["preset"].split())
    spec, zca = PatchSettings.from_options(normalization="spec"), PatchSettings.from_options(normalization="zca")
    for dest, field in (("rho", "sparsity_param"), ("lambda_", "lambda_"), ("beta", "beta"),
                        ("output_activation", "output_activation")):
        value = getattr(spec, field)
        first = format(value, "g") if isinstance(value, float) else value
        second = getattr(zca, field)
        second = format(second, "g") if isinstance(second, float) else second
        assert f"(default: {first}; {second} with zca)" in helps[dest], helps[dest]
    assert "(default: 75;" in helps["hidden"] and PatchSettings().hidden == (75,)


def test_folder_source_positional_and_synonyms(tmp_path, image_folder, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(tiny("folder", str(image_folder), "--patch-size", "5", "--seed", "3",
                     output=first)) == 0
    assert main(tiny("--dataset", "folder", "--data", str(image_folder), "--patch-size", "5",
                     "--seed", "3", output=second)) == 0
    one, two = (PatchModel.load(folder / "model.npz") for folder in (first, second))
    np.testing.assert_array_equal(one.network.theta, two.network.theta)   # same data, seed -> same model
    summary = json.loads((first / "summary.json").read_text())
    assert summary["data"]["n_images"] == 6 and summary["data"]["image_shape"] == [12, 12, 3]
    assert summary["model"]["sizes"] == [75, 6, 75]
    assert one.data_["source"] == "folder" and one.settings.random_state == 3


def test_zca_uses_a_linear_decoder_and_is_stored(tmp_path):
    output = tmp_path / "zca"
    assert main(tiny("--normalization", "zca", "--epsilon", "0.05", output=output)) == 0
    model = PatchModel.load(output / "model.npz")
    assert model.encoder_.output_activation == "identity"
    assert (model.encoder_.sparsity_param, model.encoder_.lambda_, model.encoder_.beta) == (0.035, 3e-3, 5.0)
    assert model.preprocessor_.named_steps["zca"].epsilon == 0.05
    assert model.preprocessor_.named_steps["normalize"].remove_mean


def test_stacked_hidden_sizes(tmp_path):
    output = tmp_path / "stacked"
    argv = tiny(output=output)
    argv[argv.index("--hidden") + 1] = "8,4,8"
    assert main(argv + ["--activation", "relu", "--output-activation", "sigmoid", "--rho", "0.02",
                        "--lambda", "1e-3", "--beta", "2", "--finetune-iterations", "0"]) == 0
    model = PatchModel.load(output / "model.npz")
    assert type(model.encoder_).__name__ == "StackedAutoencoder"
    assert (model.settings.sparsity_param, model.settings.lambda_, model.settings.beta) == (0.02, 1e-3, 2.0)
    assert model.settings.finetune_iter == 0 and model.settings.activation == "relu"
    assert model.network.sizes == [192, 8, 4, 8, 192]
    summary = json.loads((output / "summary.json").read_text())
    assert len(summary["result"]["mean_hidden_activation"]) == 3


@pytest.mark.parametrize("argv,message", [
    (["--patches", "0"], "--patches must be a positive integer, got 0"),
    (["--patch-size", "0"], "--patch-size must be a positive integer, got 0"),
    (["--iterations", "0"], "--iterations must be a positive integer, got 0"),
    (["--finetune-iterations", "-1"], "--finetune-iterations must be an integer >= 0, got -1"),
    (["--limit", "0"], "limit must be a positive integer, got 0"),
    (["--hidden", "10,5"], "symmetric"),
    (["--hidden", "ten"], "'ten'"),
    (["--hidden", "6", "--hidden", "8"], "give --hidden once"),
    (["--rho", "1.5"], "--rho must be in the open interval (0, 1), got 1.5"),
    (["--beta", "-1"], "--beta must be a finite number >= 0, got -1.0"),
    (["--epsilon", "nan"], "--epsilon"),
    (["--contrast", "0"], "--contrast must be a finite number > 0, got 0.0"),
    (["--preset", "spec", "--contrast", "0.01"], "contrast normalisation needs normalization 'mean-removed' or 'zca'"),
    (["--patch-size", "500", "--patches", "50"], "patch_size 500 is larger than the images (32x32)"),
    (["--preset", "spec", "--patch-size", "500", "--patches", "50"], "patch_size 500 is larger than the images (427x640)"),
    (["--patch-size", "500"], "10000 patches of 500x500x3 values"),
    (["--patches", "1000000000000"], "ask for fewer patches"),
    (["--hidden", "100000000"], "choose smaller hidden layers"),
    (["nosuch"], "unknown data source 'nosuch'"),
    (["folder"], "needs a path: nnlite train folder PATH"),
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
    err = capsys.readouterr().err
    assert err.startswith("nnlite train: error: ") and message in err and err.count("\n") == 1


def test_patch_larger_than_folder_images(image_folder, tmp_path, capsys):
    assert main(tiny("folder", str(image_folder), "--patch-size", "13", output=tmp_path / "o")) == 2
    assert "patch_size 13 is larger than the images (12x12)" in capsys.readouterr().err


def test_outputs_are_not_written_on_bad_input(tmp_path):
    output = tmp_path / "never"
    assert main(["train", "--patches", "-5", "--output", str(output)]) == 2
    assert not os.path.exists(output)


def test_output_that_cannot_be_a_folder_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for output, message in ((blocker, "is a file, not a folder"), (blocker / "sub", "is a file")):
        assert main(["train", "--iterations", "1", "--output", str(output)]) == 2
        err = capsys.readouterr().err
        assert message in err and "sampling" not in err   # refused before any work
