"""Every script in examples/ runs at a tiny size (4x4 patches, a few iterations) and writes what it says."""

import importlib.util
import json
import os

import numpy as np

from nnlite.estimator import load_model
from nnlite.patch_model import PatchModel

FOLDER = os.path.join(os.path.dirname(__file__), "..", "examples")
TESTED = {"pretrain_deep_autoencoder.py", "train_patch_model.py"}


def load_example(name):
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(FOLDER, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_has_a_test():
    assert {name for name in os.listdir(FOLDER) if name.endswith(".py")} == TESTED


def test_deep_example_writes_every_stage_the_model_the_filters_and_a_summary(tmp_path, capsys):
    example = load_example("pretrain_deep_autoencoder.py")
    status = example.main(["--hidden", "12,6,12", "--patches", "300", "--patch-size", "4",
                           "--pretrain-iter", "3", "--finetune-iter", "3", "--compare-random",
                           "--out", str(tmp_path)])
    assert status == 0
    assert sorted(os.listdir(tmp_path)) == ["filters.png", "stacked.npz", "stage1.npz",
                                            "stage2.npz", "summary.json"]
    stages = [load_model(tmp_path / f"stage{number}.npz") for number in (1, 2)]
    assert [stage.network_.sizes for stage in stages] == [[48, 12, 48], [12, 6, 12]]
    model = load_model(tmp_path / "stacked.npz")
    assert type(model).__name__ == "StackedAutoencoder" and model.network_.sizes == [48, 12, 6, 12, 48]
    assert [record["cost"] for record in model.stage_results_] == [stage.cost_ for stage in stages]
    assert PatchModel.load(tmp_path / "stacked.npz").patch_shape_ == (4, 4, 3)
    with open(tmp_path / "summary.json", encoding="utf-8") as handle:
        summary = json.load(handle)
    assert summary["n_patches"] == 300 and len(summary["stages"]) == 2
    assert {"pretrained_reconstruction_error", "finetuned_reconstruction_error",
            "random_reconstruction_error", "training_time"} <= set(summary)
    assert "fine-tuning [48, 12, 6, 12, 48]" in capsys.readouterr().out


def test_patch_model_example_saves_loads_and_encodes(tmp_path, capsys):
    example = load_example("train_patch_model.py")
    status = example.main(["--hidden", "5", "--patches", "300", "--patch-size", "4",
                           "--iterations", "3", "--normalization", "zca", "--out", str(tmp_path)])
    assert status == 0
    assert sorted(os.listdir(tmp_path)) == ["describe.json", "filters.png", "model.npz"]
    model = PatchModel.load(tmp_path / "model.npz")
    assert model.settings.lambda_ == 3e-3 and model.network.activation_names == ["sigmoid", "identity"]
    with open(tmp_path / "describe.json", encoding="utf-8") as handle:
        assert json.load(handle) == model.describe()
    assert model.encode(np.zeros((1, 8 * 8 * 3)), stride=4).shape == (1, 2 * 2 * 5)
    assert "20 features per photo (ae 5 s8 sum2x2), identical to the trained model's: True" in \
        capsys.readouterr().out
