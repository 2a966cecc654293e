"""Tests of the encoders at feature time (nnlite.encoders), the folded preprocessing and the progress line."""

import io

import numpy as np
import pytest

from nnlite import SparseAutoencoder
from nnlite.data.strided import grid_patches
from nnlite.encoders import ENCODERS, PatchEncoder, soft_threshold, triangle, unit_norm_rows
from nnlite.features import ConvolutionalFeatures
from nnlite.folding import fold_preprocessor
from nnlite.layers.dense import Dense
from nnlite.network import Network
from nnlite.preprocessing import make_preprocessor
from nnlite.progress import Progress, format_seconds

# ------------------------------------------------------------- by hand


def test_soft_threshold_by_hand():
    s = np.array([[0.5, -2.0, 1.25], [0.0, 3.0, -0.5]])
    expected = [[0.0, 0.0, 0.25, 0.0, 1.0, 0.0],      # s - 1 then -s - 1, clipped at 0
                [0.0, 2.0, 0.0, 0.0, 0.0, 0.0]]
    np.testing.assert_array_equal(soft_threshold(s, 1.0), expected)
    np.testing.assert_array_equal(soft_threshold(s, 0.0)[:, 3:], np.maximum(-s, 0))


def test_triangle_by_hand():
    # distances 1, 2, 6: mean 3 -> 2, 1, 0 (the farthest centroid gives 0)
    np.testing.assert_array_equal(triangle(np.array([[1.0, 2.0, 6.0], [4.0, 4.0, 4.0]])),
                                  [[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_unit_norm_rows_by_hand():
    np.testing.assert_allclose(unit_norm_rows([[3.0, 4.0], [0.0, 0.0]]), [[0.6, 0.8], [0.0, 0.0]])


def _hand_network():
    """2 inputs -> 2 sigmoid units; weights (3, 4) and (0, -2), biases (1, 0)."""
    network = Network([Dense(2, 2, "sigmoid"), Dense(2, 2, "identity")])
    network.layers[0].W = np.array([[3.0, 4.0], [0.0, -2.0]])
    network.layers[0].b = np.array([1.0, 0.0])
    return network


def _encode(encoding, patch, alpha=0.0):
    layer = _hand_network().layers[0]
    encoder = PatchEncoder(layer.W, layer.b, "sigmoid", None, encoding, alpha=alpha, dtype="float64")
    return encoder.encode(np.array([patch], dtype=float))[0]


def test_patch_encoder_activation_by_hand():
    # z = (3*1 + 4*1 + 1, -2*1) = (8, -2)
    np.testing.assert_allclose(_encode("activation", [1.0, 1.0]), 1 / (1 + np.exp([-8.0, 2.0])))


def test_patch_encoder_soft_threshold_by_hand():
    # unit rows (0.6, 0.8) and (0, -1): s = (0.6*2 + 0.8*1, -1) = (2, -1); alpha 0.5
    np.testing.assert_allclose(_encode("soft-threshold", [2.0, 1.0], alpha=0.5), [1.5, 0.0, 0.0, 0.5])


def test_patch_encoder_triangle_by_hand():
    # x = (0.6, 0.8) is centroid 1: z = (0, ||(0.6, 1.8)|| = sqrt(3.6)); mean = sqrt(3.6) / 2
    z2 = np.sqrt(0.36 + 1.8 ** 2)
    np.testing.assert_allclose(_encode("triangle", [0.6, 0.8]), [z2 / 2, 0.0])


# ------------------------------------------------------------- folding


@pytest.mark.parametrize("name, contrast", [("spec", None), ("mean-removed", None), ("zca", None),
                                            ("mean-removed", 0.01), ("zca", 0.01)])
def test_folded_preprocessor_equals_the_preprocessor(name, contrast):
    rng = np.random.default_rng(0)
    patches = rng.integers(0, 256, size=(500, 48)).astype(float)
    patches[:50] *= rng.uniform(0.05, 1.0, size=(50, 1))  # patches of different contrasts
    preprocessor = make_preprocessor(name, epsilon=0.1, contrast=contrast).fit(patches)
    folded = fold_preprocessor(preprocessor, 48)
    assert (folded.variance_offset is None) == (contrast is None)
    new = rng.integers(0, 256, size=(20, 48)).astype(float)
    expected = preprocessor.transform(new)
    got = folded.transform(folded.on_images(new))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    weights, bias = rng.normal(size=(5, 48)), rng.normal(size=5)
    folded_w, folded_b = folded.fold(weights, bias)
    np.testing.assert_allclose(folded.elementwise_(folded.on_images(new).copy()) @ folded_w + folded_b,
                               expected @ weights.T + bias, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------- through ConvolutionalFeatures


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 12 * 12 * 3)).astype(np.uint8)
    raw = grid_patches(images, 4, 2)[0].astype(float)
    preprocessor = make_preprocessor("zca", epsilon=0.1).fit(raw)
    encoder = SparseAutoencoder(hidden_size=5, max_iter=5, output_activation="identity",
                                random_state=0).fit(preprocessor.transform(raw))
    return images, preprocessor, encoder


def _reference_codes(encoding, images, preprocessor, encoder, alpha):
    """The encoders written out on explicitly preprocessed patches (no folding)."""
    patches = preprocessor.transform(grid_patches(images, 4, 2)[0].astype(float))
    W, b = encoder.network_.layers[0].W, encoder.network_.layers[0].b
    if encoding == "activation":
        return 1 / (1 + np.exp(-(patches @ W.T + b)))
    unit = W / np.linalg.norm(W, axis=1, keepdims=True)
    if encoding == "soft-threshold":
        s = patches @ unit.T
        return np.hstack([np.maximum(s - alpha, 0), np.maximum(-s - alpha, 0)])
    distances = np.linalg.norm(patches[:, None, :] - unit[None, :, :], axis=2)
    return triangle(distances)


@pytest.mark.parametrize("encoding", ENCODERS)
def test_every_encoding_matches_its_definition_on_whitened_patches(trained, encoding):
    images, preprocessor, encoder = trained
    extractor = ConvolutionalFeatures(encoder, patch_size=4, stride=2, pooling="sum", pool_grid=1,
                                      preprocessor=preprocessor, encoding=encoding, alpha=0.3, dtype="float64")
    features = extractor.fit_transform(images)
    codes = _reference_codes(encoding, images, preprocessor, encoder, 0.3)
    expected = codes.reshape(images.shape[0], -1, codes.shape[1]).sum(axis=1)
    np.testing.assert_allclose(features, expected, rtol=1e-8, atol=1e-8)
    assert features.shape[1] == (10 if encoding == "soft-threshold" else 5)


def test_auto_alpha_is_half_the_median_response(trained):
    images, preprocessor, encoder = trained
    extractor = ConvolutionalFeatures(encoder, patch_size=4, stride=2, preprocessor=preprocessor,
                                      encoding="soft-threshold", dtype="float64").fit(images)
    patches = preprocessor.transform(grid_patches(images, 4, 2)[0].astype(float))
    W = encoder.network_.layers[0].W
    s = patches @ (W / np.linalg.norm(W, axis=1, keepdims=True)).T
    assert extractor.alpha_ == pytest.approx(0.5 * np.median(np.abs(s)), rel=1e-9)


def test_float32_agrees_with_float64(trained):
    images, preprocessor, encoder = trained
    options = dict(patch_size=4, stride=2, pooling="sum", preprocessor=preprocessor, encoding="soft-threshold",
                   alpha=0.2)
    single = ConvolutionalFeatures(encoder, dtype="float32", **options).fit_transform(images)
    double = ConvolutionalFeatures(encoder, dtype="float64", **options).fit_transform(images)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, double, rtol=1e-4, atol=1e-4)


def test_bad_encoding_and_alpha(trained):
    images, preprocessor, encoder = trained
    with pytest.raises(ValueError, match="encoding|encoder must be one of"):
        ConvolutionalFeatures(encoder, patch_size=4, encoding="kmeans").fit(images)
    with pytest.raises(ValueError, match="alpha"):
        ConvolutionalFeatures(encoder, patch_size=4, encoding="soft-threshold", alpha=-1.0).fit(images)


def test_input_images_are_not_modified():
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 1, size=(3, 4 * 4 * 3))
    before = images.copy()
    raw = images.copy()
    preprocessor = make_preprocessor("mean-removed").fit(raw)
    encoder = SparseAutoencoder(hidden_size=3, max_iter=2, random_state=0).fit(preprocessor.transform(raw))
    ConvolutionalFeatures(encoder, patch_size=4, stride=4, preprocessor=preprocessor).fit_transform(images)
    np.testing.assert_array_equal(images, before)


# ------------------------------------------------------------- progress


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_line_rate_and_time_left():
    lines, clock = [], _Clock()
    counter = Progress(1000, "features", lines.append, interval=5.0, clock=clock)
    clock.now = 2.0
    counter.update(100)          # before the interval: silent
    clock.now = 10.0
    counter.update(250)          # 25 images/s, 750 left -> 30 s
    clock.now = 40.0
    counter.close()
    assert lines == ["features: 250/1,000 images (25%), 25 images/s, 30 s left",
                     "features: 1,000 images done in 40 s"]


def test_progress_short_step_is_silent_and_none_is_quiet():
    lines, clock = [], _Clock()
    counter = Progress(10, "x", lines.append, clock=clock)
    clock.now = 1.0
    counter.update(10)
    counter.close()
    assert lines == []
    quiet = Progress(10, "x", None, interval=0.0)
    quiet.update(5)
    quiet.close(always=True)     # nothing to say to


def test_format_seconds():
    assert [format_seconds(s) for s in (4.25, 42, 130, 4000)] == ["4.2 s", "42 s", "2 min 10 s", "1 h 06 min"]


def test_extraction_reports_progress(trained):
    images, preprocessor, encoder = trained
    stream = io.StringIO()
    extractor = ConvolutionalFeatures(encoder, patch_size=4, stride=2, preprocessor=preprocessor, memory_limit=1,
                                      progress=lambda line: print(line, file=stream), progress_interval=0.0)
    extractor.fit_transform(images)
    lines = stream.getvalue().splitlines()
    assert len(lines) == images.shape[0] + 1
    assert lines[0].startswith("features (activation, stride 2): 1/12 images") and "left" in lines[0]
    assert lines[-1].startswith("features (activation, stride 2): 12 images done in")
    silent = ConvolutionalFeatures(encoder, patch_size=4, stride=2, preprocessor=preprocessor, memory_limit=1,
                                   progress=None, progress_interval=0.0)
    np.testing.assert_array_equal(silent.fit_transform(images), extractor.transform(images))
