"""``spec_api.sample_patches`` and ``spec_api.display_layer`` equal the library they wrap."""

import numpy as np
import pytest
from PIL import Image

from nnlite.data.patches import sample_patches_raw as library_sample
from nnlite.display import tile_grid
from nnlite.preprocessing import normalize_data as library_normalize
from spec_api import display_layer as spec_display
from spec_api import sample_patches as spec


@pytest.fixture
def images(rng):
    return rng.integers(0, 256, size=(6, 16 * 16 * 3), dtype=np.uint8)


def test_normalize_data_equals_library(images):
    np.testing.assert_array_equal(spec.normalize_data(images), library_normalize(images))


def test_sample_patches_raw_equals_library_under_numpy_global_seed(images):
    np.random.seed(3)
    got = spec.sample_patches_raw(images, 50, 8)
    np.random.seed(3)
    seed = int(np.random.randint(0, 2**63 - 1, dtype=np.int64))
    np.testing.assert_array_equal(got, library_sample(images, 50, 8, random_state=seed))
    assert got.shape == (50, 192) and got.dtype == np.uint8
    np.random.seed(3)
    np.testing.assert_array_equal(spec.sample_patches_raw(images, 50, 8), got)   # reproducible


def test_defaults_and_sample_patches_is_raw_then_normalised(images):
    np.random.seed(0)
    patches = spec.sample_patches(images)
    np.random.seed(0)
    raw = spec.sample_patches_raw(images)
    assert patches.shape == raw.shape == (10000, 192)
    np.testing.assert_array_equal(patches, library_normalize(raw))
    assert patches.min() >= 0.1 and patches.max() <= 0.9


def test_sample_patches_bad_input(images):
    with pytest.raises(ValueError, match="patch_size 17"):
        spec.sample_patches(images, 10, 17)
    with pytest.raises(ValueError, match="num_patches"):
        spec.sample_patches_raw(images, 0)


def test_display_layer_writes_the_library_grid(tmp_path, rng):
    X = rng.normal(size=(100, 192))
    path = tmp_path / "layer.png"
    grid = spec_display.display_layer(X, str(path))
    np.testing.assert_array_equal(grid, tile_grid(X))
    with Image.open(path) as image:
        assert image.mode == "RGB" and min(image.size) >= 400


def test_display_layer_default_filename(tmp_path, monkeypatch, rng):
    monkeypatch.chdir(tmp_path)
    spec_display.display_layer(rng.normal(size=(16, 27648)))
    assert (tmp_path / "layer.png").exists()
