"""Smoke test of examples/pretrain_deep_autoencoder.py at a tiny size (4x4 patches, 3 iterations)."""

import importlib.util
import json
import os

from nnlite.estimator import load_model

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "pretrain_deep_autoencoder.py")


def load_example():
    spec = importlib.util.spec_from_file_location("pretrain_deep_autoencoder", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_writes_every_stage_the_model_the_filters_and_a_summary(tmp_path, capsys):
    example = load_example()
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
    with open(tmp_path / "summary.json", encoding="utf-8") as handle:
        summary = json.load(handle)
    assert summary["n_patches"] == 300 and len(summary["stages"]) == 2
    assert {"pretrained_reconstruction_error", "finetuned_reconstruction_error",
            "random_reconstruction_error", "training_time"} <= set(summary)
    assert "fine-tuning [48, 12, 6, 12, 48]" in capsys.readouterr().out
