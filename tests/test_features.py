"""Tests of nnlite.features.ConvolutionalFeatures (worked examples, chunking, errors)."""

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from nnlite import SparseAutoencoder
from nnlite.autoencoder import build_autoencoder
from nnlite.data.strided import grid_patches
from nnlite.features import ConvolutionalFeatures, pool_codes, resolve_layers
from nnlite.layers.dense import Dense
from nnlite.network import Network
from nnlite.preprocessing import PatchNormalizer


def _hand_network():
    """4 inputs (2x2x1 patches) -> 2 identity units -> 4 outputs.

    Unit 1 reads the patch's top-left pixel, unit 2 its bottom-right pixel + 10.
    """
    network = Network([Dense(4, 2, "identity"), Dense(2, 4, "identity")])
    network.layers[0].W = np.array([[1.0, 0, 0, 0], [0, 0, 0, 1.0]])
    network.layers[0].b = np.array([0.0, 10.0])
    return network


IMAGE = np.arange(16, dtype=np.uint8).reshape(1, 16)  # a 4x4x1 image with pixel (r, c) = 4r + c


def _extract(**options):
    extractor = ConvolutionalFeatures(_hand_network(), patch_size=2, image_shape=(4, 4, 1), **options)
    return extractor.fit_transform(IMAGE)


def test_none_by_hand():
    # stride 2: positions (0,0) (0,2) (2,0) (2,2); unit 1 = pixel (r, c), unit 2 = pixel (r+1, c+1) + 10
    np.testing.assert_array_equal(_extract(stride=2), [[0, 15, 2, 17, 8, 23, 10, 25]])


@pytest.mark.parametrize("pooling, expected", [
    # stride 1: 3x3 positions, code1 = 4r + c, code2 = code1 + 15; k = 2 cells: rows {0}, {1, 2}
    ("sum", [0, 15, 3, 33, 12, 42, 30, 90]),
    ("mean", [0, 15, 1.5, 16.5, 6, 21, 7.5, 22.5]),
    ("max", [0, 15, 2, 17, 8, 23, 10, 25]),
])
def test_pooling_by_hand(pooling, expected):
    np.testing.assert_allclose(_extract(stride=1, pooling=pooling, pool_grid=2), [expected])


@pytest.mark.parametrize("pooling, expected", [("sum", [45, 180]), ("mean", [5, 20]), ("max", [10, 25])])
def test_single_cell_pooling_by_hand(pooling, expected):
    np.testing.assert_allclose(_extract(stride=1, pooling=pooling, pool_grid=1), [expected])


def test_pool_codes_shapes():
    codes = np.random.default_rng(0).normal(size=(3, 5, 7, 4))
    assert pool_codes(codes, "none", 2).shape == (3, 140)
    pooled = pool_codes(codes, "sum", 2)
    assert pooled.shape == (3, 16)
    np.testing.assert_allclose(pooled.reshape(3, 4, 4).sum(axis=1), codes.sum(axis=(1, 2)))


def _fitted_encoder(hidden=(6,), visible=48, seed=0):
    rng = np.random.default_rng(seed)
    return SparseAutoencoder(hidden_size=list(hidden), max_iter=3, random_state=seed).fit(
        rng.uniform(0.1, 0.9, size=(60, visible)))


def _images(n, side=12, seed=1):
    return np.random.default_rng(seed).integers(0, 256, size=(n, side * side * 3)).astype(np.uint8)


def _scaler(images):
    return StandardScaler().fit(grid_patches(images, 4, 2)[0].astype(float))


@pytest.mark.parametrize("pooling", ["none", "sum", "mean", "max"])
def test_chunked_equals_one_shot(pooling):
    images = _images(7)
    encoder, scaler = _fitted_encoder(), _scaler(images)
    options = dict(patch_size=4, stride=2, pooling=pooling, preprocessor=scaler)
    whole = ConvolutionalFeatures(encoder, memory_limit=None, **options).fit(images)
    chunked = ConvolutionalFeatures(encoder, memory_limit=1, **options).fit(images)
    assert chunked.chunk_size_ == 1 and whole.chunk_size_ is None
    np.testing.assert_allclose(chunked.transform(images), whole.transform(images), rtol=1e-12, atol=1e-14)


def test_features_match_encoder_on_patches():
    images = _images(2)
    encoder = _fitted_encoder()
    features = ConvolutionalFeatures(encoder, patch_size=4, stride=4).fit_transform(images)
    patches, grid = grid_patches(images, 4, 4)
    expected = encoder.transform(patches.astype(float)).reshape(2, -1)
    assert grid == (3, 3) and features.shape == (2, 9 * 6)
    np.testing.assert_allclose(features, expected)


def test_fitted_normalisation_is_reused_not_refitted():
    train = _images(10, seed=2)
    scaler = _scaler(train)
    mean_before = scaler.mean_.copy()
    extractor = ConvolutionalFeatures(_fitted_encoder(), patch_size=4, stride=2, pooling="mean",
                                      preprocessor=scaler).fit(train)
    others = _images(5, seed=3)
    alone = extractor.transform(others[:1])
    in_batch = extractor.transform(np.vstack([others[:1], train, others[1:]]))[0]
    np.testing.assert_allclose(alone[0], in_batch, rtol=1e-12)
    np.testing.assert_array_equal(scaler.mean_, mean_before)


def test_layer_choice_for_three_hidden_layers():
    network = build_autoencoder(48, [7, 3, 7])
    network.initialize(0)
    images = _images(2)
    patches = grid_patches(images, 4, 4)[0]
    first = network.forward(patches, stop=1)
    middle = network.forward(patches, stop=2)
    for layer, codes in (("first", first), (None, middle), ("middle", middle), (2, middle),
                         ("concat", np.hstack([first, middle])), ([1, 2], np.hstack([first, middle]))):
        extractor = ConvolutionalFeatures(network, patch_size=4, stride=4, layer=layer).fit(images)
        np.testing.assert_allclose(extractor.transform(images), codes.reshape(2, -1))
    assert resolve_layers("concat", 5) == [1, 2, 3]
    assert resolve_layers(None, 1) == [1]


def test_runs_on_requested_backend_and_dtype():
    encoder = _fitted_encoder()
    extractor = ConvolutionalFeatures(encoder, patch_size=4, stride=4, backend="numpy").fit(_images(1))
    assert extractor.network_.backend.name == "numpy"
    assert extractor.network_ is not encoder.network_
    assert extractor.transform(_images(1)).dtype == np.float64
    scaled = _images(1) / 255.0
    single = ConvolutionalFeatures(encoder, patch_size=4, stride=4, dtype="float32").fit(scaled)
    assert single.transform(scaled).dtype == np.float32
    np.testing.assert_allclose(single.transform(scaled), extractor.transform(scaled), rtol=1e-4)


def test_bad_inputs():
    encoder, images = _fitted_encoder(), _images(2)
    with pytest.raises(ValueError, match="patch_size 5 gives .* 75 values .* 48 inputs"):
        ConvolutionalFeatures(encoder, patch_size=5).fit(images)
    fitted = ConvolutionalFeatures(encoder, patch_size=4, stride=4).fit(images)
    with pytest.raises(ValueError, match="fitted on 12x12x3"):
        fitted.transform(_images(2, side=16))
    for stride in (0, 13):
        with pytest.raises(ValueError, match=f"stride.*{stride}"):
            ConvolutionalFeatures(encoder, patch_size=4, stride=stride).fit(images)
    with pytest.raises(ValueError, match="pooling must be one of .* 'median'"):
        ConvolutionalFeatures(encoder, patch_size=4, pooling="median").fit(images)
    with pytest.raises(ValueError, match="pool_grid .* got 4"):
        ConvolutionalFeatures(encoder, patch_size=4, stride=4, pooling="sum", pool_grid=4).fit(images)
    with pytest.raises(ValueError, match="layer must be an integer in \\[1, 1\\], got 2"):
        ConvolutionalFeatures(encoder, patch_size=4, layer=2).fit(images)
    with pytest.raises(ValueError, match="layer must name hidden layers in \\[1, 1\\], got \\[\\]"):
        ConvolutionalFeatures(encoder, patch_size=4, layer=[]).fit(images)
    with pytest.raises(ValueError, match="layer must be an integer .* got True"):
        ConvolutionalFeatures(encoder, patch_size=4, layer=[True]).fit(images)
    with pytest.raises(ValueError, match="memory_limit"):
        ConvolutionalFeatures(encoder, patch_size=4, memory_limit=0).fit(images)
    with pytest.raises(ValueError, match="not fitted"):
        ConvolutionalFeatures(SparseAutoencoder(), patch_size=4).fit(images)
    with pytest.raises(ValueError, match="not fitted|NotFitted|instance is not fitted"):
        ConvolutionalFeatures(encoder, patch_size=4, preprocessor=StandardScaler()).fit(images)


@pytest.mark.parametrize("remove_mean", [False, True])
def test_patch_normalizer_applied_per_image_equals_per_patch(remove_mean):
    images = _images(4)
    normalizer = PatchNormalizer(remove_mean=remove_mean).fit(grid_patches(images, 4, 2)[0])
    encoder = _fitted_encoder()
    extractor = ConvolutionalFeatures(encoder, patch_size=4, stride=1, preprocessor=normalizer).fit(images)
    patches = normalizer.transform(grid_patches(images, 4, 1)[0])
    expected = encoder.transform(patches).reshape(4, -1)
    np.testing.assert_allclose(extractor.transform(images), expected, rtol=1e-12, atol=1e-15)


# ------------------------------------------------- the fused block path against the reference path

def _straightforward(extractor, images, monkeypatch):
    """Features by the chunk path that materialises every code (no fused blocks)."""
    with monkeypatch.context() as patch:
        patch.setattr(ConvolutionalFeatures, "_fused", lambda self: False)
        return extractor.transform(images)


@pytest.mark.parametrize("block_bytes", [1 << 20, 4096])  # whole images per task; bands of grid rows
@pytest.mark.parametrize("encoding, dtype", [("activation", "float32"), ("soft-threshold", "float32"),
                                             ("soft-threshold", "float64"), ("triangle", "float32")])
@pytest.mark.parametrize("pooling, stride, pool_grid", [("none", 2, 2), ("sum", 1, 2), ("sum", 1, 3),
                                                        ("mean", 2, 2), ("max", 1, 2)])
@pytest.mark.parametrize("preprocessing", ["zca", "spec", "scaler"])  # folded; per image; kept whole
def test_fused_blocks_equal_the_straightforward_codes(monkeypatch, block_bytes, encoding, dtype, pooling,
                                                      stride, pool_grid, preprocessing):
    from nnlite import features as module
    from nnlite.preprocessing import make_preprocessor

    monkeypatch.setattr(module, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(module, "FUSED_CHUNK_IMAGES", 2)  # several chunks
    monkeypatch.setattr(module, "MIN_TASKS", 1)
    images = _images(5, side=14)
    raw = grid_patches(images, 4, 2)[0].astype(float)
    preprocessor = _scaler(images) if preprocessing == "scaler" else \
        make_preprocessor(preprocessing, epsilon=0.1).fit(raw)
    encoder = _fitted_encoder(hidden=(7,))
    extractor = ConvolutionalFeatures(encoder, patch_size=4, stride=stride, pooling=pooling, pool_grid=pool_grid,
                                      preprocessor=preprocessor, encoding=encoding, alpha=0.2, dtype=dtype,
                                      memory_limit=200000).fit(images)
    assert extractor._fused() and extractor.chunk_size_ < images.shape[0]
    per_task, band = extractor._block_plan()
    if block_bytes == 4096:
        assert band < extractor.grid_[0]
    elif dtype == "float32" and stride == 1 and encoding != "triangle":  # 121 rows fit in memory_limit / 4
        assert band == extractor.grid_[0]
    got = extractor.transform(images)
    expected = _straightforward(extractor, images, monkeypatch)
    assert got.dtype == expected.dtype == np.dtype(dtype)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance * np.abs(expected).max())
    if pooling == "max" or (pooling == "none" and encoding != "activation"):
        np.testing.assert_array_equal(got >= 0, True)
    if encoding == "soft-threshold":
        np.testing.assert_array_equal(got == 0, expected == 0)


def test_fused_soft_threshold_sums_by_hand():
    # identity weights on 1x1x1 patches: s = pixel value; alpha = 1; one cell
    network = Network([Dense(1, 1, "identity"), Dense(1, 1, "identity")])
    network.layers[0].W, network.layers[0].b = np.array([[2.0]]), np.array([0.0])
    extractor = ConvolutionalFeatures(network, patch_size=1, stride=1, pooling="sum", pool_grid=1,
                                      image_shape=(2, 2, 1), encoding="soft-threshold", alpha=1.0)
    images = np.array([[0.0, 3.0, -2.0, -0.5]])
    # positive: max(s - 1, 0) = 0, 2, 0, 0; negative: max(-s - 1, 0) = 0, 0, 1, 0
    np.testing.assert_allclose(extractor.fit_transform(images), [[2.0, 1.0]])
    extractor.set_params(pooling="max").fit(images)
    np.testing.assert_array_equal(extractor.transform(images), [[2.0, 1.0]])


def test_fused_blocks_do_not_depend_on_the_thread_count():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    images = _images(40, side=14)
    extractor = ConvolutionalFeatures(_fitted_encoder(hidden=(7,)), patch_size=4, stride=1, pooling="sum",
                                      preprocessor=PatchNormalizer(remove_mean=True).fit(
                                          grid_patches(images, 4, 2)[0].astype(float)),
                                      encoding="soft-threshold", alpha=0.2, dtype="float32").fit(images)
    results = []
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            results.append(extractor.transform(images))
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("stride, hidden", [(1, 7), (4, 3)])  # one image per task; several per task
def test_fused_blocks_split_at_multiples_of_the_chunk_size_give_the_same_bytes(stride, hidden):
    # what nnlite.distributed relies on: tasks of a multiple of chunk_size_ images group them alike
    images = _images(37, side=16)
    extractor = ConvolutionalFeatures(_fitted_encoder(hidden=(hidden,)), patch_size=4, stride=stride,
                                      pooling="sum", encoding="soft-threshold", alpha=0.2, dtype="float32",
                                      memory_limit=4e5).fit(images)
    step, (per_task, _) = extractor.chunk_size_, extractor._block_plan()
    assert step is not None and step < images.shape[0] and step % per_task == 0 and (per_task > 1) == (stride == 4)
    whole = extractor.transform(images)
    parts = [extractor.transform(images[start:start + step]) for start in range(0, 37, step)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
