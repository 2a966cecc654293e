"""Study 4 (one hidden layer vs three, per-layer fine-tuning) on tiny labelled images."""

import json

import numpy as np
import pytest

from nnlite.estimator import SparseAutoencoder
from nnlite.patch_model import PatchModel, PatchSettings
from nnlite.studies.depth import (LAYERS, ONE_LAYER, VARIANTS, _layer_features, _variant_settings, default_base,
                                  figures_depth, macros_depth, run_depth, tables_depth)

SHAPE = (12, 12, 3)
BASE = PatchSettings.preset("whitened", hidden=(6, 3, 6), patch_size=4, num_patches=300, max_iter=8,
                            epsilon=0.01)
SIZES = dict(n_train=80, n_valid=40, holdout=40, n_eval=200)


def tiny_images(n_per_class=40, n_classes=4, seed=0):
    """Images whose class sets the direction of a colour gradient (something to learn), and labels."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:SHAPE[0], 0:SHAPE[1]] / SHAPE[0]
    images, labels = [], []
    for label in range(n_classes):
        angle = np.pi * label / n_classes
        ramp = np.cos(angle) * rows + np.sin(angle) * cols
        for _ in range(n_per_class):
            picture = ramp[..., None] * rng.uniform(0.5, 1.0, size=3) + rng.normal(0, 0.15, size=SHAPE)
            images.append(np.clip(picture * 200 + 20, 0, 255).astype(np.uint8).ravel())
            labels.append(label)
    return np.array(images), np.array(labels)


@pytest.fixture(scope="module")
def data():
    return tiny_images()


@pytest.fixture(scope="module")
def result(data):
    images, labels = data
    return run_depth(images, SHAPE, labels, base=BASE, variants=("pretrained", "uniform", "no-decoder"),
                     one_layer="stage", random_state=0, **SIZES)


def test_every_variant_and_layer_is_measured_and_the_result_is_json(result):
    assert json.loads(json.dumps(result)) == result
    assert [entry["name"] for entry in result["variants"]] == ["pretrained", "uniform", "no-decoder", ONE_LAYER]
    assert result["layers"] == list(LAYERS) and result["one_layer"] == "stage"
    assert result["mean_patch_error"] > 0
    assert result["protocol"]["n_validation"] == 40 and result["protocol"]["train_limit"] == 80
    for entry in result["variants"]:
        expected = ["first"] if entry["name"] == ONE_LAYER else list(LAYERS)
        assert sorted(entry["accuracy"]) == sorted(expected)
        assert all(0.0 <= value <= 1.0 for value in entry["accuracy"].values())
        assert np.isfinite(entry["reconstruction_error"]) and entry["reconstruction_error"] > 0
    entries = {entry["name"]: entry for entry in result["variants"]}
    assert entries["pretrained"]["n_iter"] == 0 and entries["uniform"]["n_iter"] > 0
    assert entries["no-decoder"]["settings"]["finetune_decoder_penalty"] is False
    assert entries[ONE_LAYER]["hidden"] == [6]
    # Every fine-tuned variant starts from the one pretrained stack.
    assert entries["uniform"]["pretrained_reconstruction_error"] == pytest.approx(
        entries["pretrained"]["training_reconstruction_error"])


def test_pretrained_only_first_layer_is_the_one_layer_model(result, data):
    """With one_layer='stage' the one-layer model is the first stage: same features, same accuracy."""
    entries = {entry["name"]: entry for entry in result["variants"]}
    assert entries[ONE_LAYER]["accuracy"]["first"] == entries["pretrained"]["accuracy"]["first"]


def test_first_stage_equals_a_one_layer_model_trained_on_the_same_patches(data):
    """The stack's first layer (pretrained only) is a one-layer model trained alone with the stage's seed."""
    images, _ = data
    stack = PatchModel(BASE.replace(finetune_iter=0, random_state=3)).fit(images, SHAPE)
    patches = stack.training_patches(images, SHAPE)
    stage_seed = int(np.random.default_rng(3).integers(0, 2**63 - 1, size=2)[0])
    alone = SparseAutoencoder(hidden_size=6, output_activation="identity", sparsity_param=BASE.sparsity_param,
                              lambda_=BASE.lambda_, beta=BASE.beta, max_iter=BASE.max_iter,
                              random_state=stage_seed).fit(patches)
    np.testing.assert_array_equal(stack.encoder_.network_.layers[0].W, alone.network_.layers[0].W)
    np.testing.assert_array_equal(stack.encoder_.encode(patches, layer=1), alone.transform(patches))


def test_figures_tables_and_macros(result, tmp_path):
    paths = figures_depth(result, tmp_path)
    assert sorted(p.rsplit(".", 1)[1] for p in paths) == ["pdf", "png"]
    tables = tables_depth(result)
    assert [row[0] for row in tables["DepthVariantTable"][1]] == [e["name"] for e in result["variants"]]
    header, rows = tables["DepthTable"]
    assert len(rows) == len(result["variants"]) and len(header) == len(rows[0])
    assert rows[-1][2] == "--"   # the one-layer model has no middle layer
    macros = macros_depth(result)
    assert macros["DepthHidden"] == "6-3-6" and "Pretrained only" in macros["DepthSentence"]


def test_without_labels_only_reconstruction_is_measured(data, tmp_path):
    images, _ = data
    result = run_depth(images, SHAPE, None, base=BASE.replace(max_iter=3), variants=("pretrained", "short"),
                       random_state=1, **SIZES)
    assert [entry["accuracy"] for entry in result["variants"]] == [None, None, None]
    assert all(entry["reconstruction_error"] > 0 for entry in result["variants"])
    assert "No classification" in macros_depth(result)["DepthSentence"]
    figures_depth(result, tmp_path)


def test_bad_arguments_are_refused(data):
    images, labels = data
    with pytest.raises(ValueError, match="unknown variants"):
        run_depth(images, SHAPE, labels, base=BASE, variants=("deeper",))
    with pytest.raises(ValueError, match="stacked"):
        run_depth(images, SHAPE, labels, base=BASE.replace(hidden=(6,)))
    with pytest.raises(ValueError, match="one_layer"):
        run_depth(images, SHAPE, labels, base=BASE, one_layer="both")


def test_default_bases_and_variants_are_valid():
    for quick in (True, False):
        base = default_base(quick)
        assert base.stacked and len(base.hidden) == 3
        for name, (_, changes) in VARIANTS.items():
            settings = _variant_settings(base, changes)
            assert settings.hidden == base.hidden and settings.sparsity_param == base.sparsity_param
    weak = _variant_settings(default_base(True), VARIANTS["weak-middle"][1])
    assert weak.finetune_sparsity_param == (0.035, 0.2, 0.035) and weak.finetune_beta == (5.0, 0.5, 5.0)
    strong = _variant_settings(default_base(True), VARIANTS["strong-first"][1])
    assert strong.finetune_beta == (20.0, 0.5, 20.0) and strong.finetune_decoder_penalty is False
    bare = _variant_settings(default_base(True), VARIANTS["no-encoder-decay"][1])
    assert bare.finetune_lambda_ == (0.0, 0.0, 3e-3, 3e-3)


def test_one_extraction_split_by_layer_is_each_layer_extracted_alone(data):
    images, _ = data
    stack = PatchModel(BASE.replace(finetune_iter=2)).fit(images[:60], SHAPE)
    split = _layer_features(stack, images[:20], SHAPE, stride=2)
    for layer in ("first", "middle"):
        alone = stack.encode(images[:20], stride=2, pooling="sum", pool_grid=2, layer=layer, image_shape=SHAPE)
        np.testing.assert_allclose(split[layer], alone, rtol=1e-6, atol=1e-7)
    assert split["concat"].shape[1] == split["first"].shape[1] + split["middle"].shape[1] == 4 * (6 + 3)
