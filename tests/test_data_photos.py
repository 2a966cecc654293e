"""Tests of the bundled photographs as a pyramid of tiles (nnlite.data.photo_pyramid)."""

import numpy as np
import pytest

from nnlite.data import load_dataset
from nnlite.data.photo_pyramid import bundled_photographs, load_photo_pyramid, pyramid_tiles


def test_tiles_by_hand():
    # a 64x96 photo: level 1/2 is 32x48 -> one 32x32 tile; 1/4 and 1/8 are smaller than a tile
    photo = np.zeros((64, 96, 3), dtype=np.uint8)
    photo[:, :32] = 200
    tiles = pyramid_tiles(photo, scales=(2, 4, 8), tile=32)
    assert tiles.shape == (1, 32 * 32 * 3) and tiles.dtype == np.uint8
    tile = tiles[0].reshape(32, 32, 3)
    assert tile[:, :14].min() > 190 and tile[:, 18:].max() < 10   # left third bright, anti-aliased edge


def test_tiles_are_cut_row_major_per_level():
    photo = np.arange(64 * 64 * 3, dtype=np.uint64).reshape(64, 64, 3) % 251
    tiles = pyramid_tiles(photo.astype(np.uint8), scales=(1,), tile=32)
    assert tiles.shape == (4, 3072)
    np.testing.assert_array_equal(tiles[1].reshape(32, 32, 3), photo[:32, 32:].astype(np.uint8))
    np.testing.assert_array_equal(tiles[2].reshape(32, 32, 3), photo[32:, :32].astype(np.uint8))


def test_load_photo_pyramid():
    dataset = load_photo_pyramid()
    n_photos = len(bundled_photographs())
    assert n_photos >= 2 and dataset.image_shape == (32, 32, 3) and dataset.labels is None
    assert dataset.images.shape[0] >= 150 and dataset.name == "photos"
    assert load_dataset("photos").images.shape == dataset.images.shape
    assert len(load_photo_pyramid(limit=10, random_state=0)) == 10
    with pytest.raises(ValueError, match="splits"):
        load_photo_pyramid(split="test")
    with pytest.raises(ValueError, match="takes no path"):
        load_dataset("photos", "somewhere")
