"""Tests of nnlite.data.strided: patches on a regular grid."""

import numpy as np
import pytest

from nnlite.data.strided import grid_patches, grid_shape, resolve_image_shape


def _images(n, h, w, c, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, h * w * c)).astype(np.uint8)


def test_assignment_example_twelve_by_sixteen_gives_six_patches():
    images = _images(1, 12, 16, 3)
    patches, grid = grid_patches(images, 8, 4, image_shape=(12, 16, 3))
    assert grid == (2, 3)
    assert patches.shape == (6, 192)
    assert patches.dtype == np.uint8


def test_rows_are_image_major_then_row_major_positions():
    n, h, w, c, p, s = 3, 10, 9, 2, 4, 3
    images = _images(n, h, w, c, seed=1)
    patches, (n_rows, n_cols) = grid_patches(images, p, s, image_shape=(h, w, c))
    assert (n_rows, n_cols) == (3, 2)
    index = 0
    for i in range(n):
        image = images[i].reshape(h, w, c)
        for r in range(n_rows):
            for col in range(n_cols):
                expected = image[r * s:r * s + p, col * s:col * s + p, :].ravel()
                np.testing.assert_array_equal(patches[index], expected)
                index += 1
    assert index == patches.shape[0]


def test_square_rgb_shape_is_inferred():
    patches, grid = grid_patches(_images(2, 32, 32, 3), 8, 8)
    assert grid == (4, 4)
    assert patches.shape == (32, 192)


def test_stride_one_covers_every_position():
    patches, grid = grid_patches(_images(1, 6, 6, 1), 3, 1, image_shape=(6, 6))
    assert grid == (4, 4)
    assert patches.shape == (16, 9)


def test_memmap_input(tmp_path):
    images = _images(2, 8, 8, 3)
    path = tmp_path / "images.npy"
    np.save(path, images)
    mapped = np.load(path, mmap_mode="r")
    np.testing.assert_array_equal(grid_patches(mapped, 4, 2)[0], grid_patches(images, 4, 2)[0])


@pytest.mark.parametrize("stride", [0, -1, 33])
def test_bad_stride_is_named(stride):
    with pytest.raises(ValueError, match=f"stride.*{stride}"):
        grid_patches(_images(1, 32, 32, 3), 8, stride)


@pytest.mark.parametrize("patch_size", [0, 33])
def test_bad_patch_size_is_named(patch_size):
    with pytest.raises(ValueError, match=f"patch_size.*{patch_size}"):
        grid_patches(_images(1, 32, 32, 3), patch_size, 4)


def test_bad_image_shape():
    with pytest.raises(ValueError, match="not d\\*d\\*3"):
        resolve_image_shape(100)
    with pytest.raises(ValueError, match="holds 300 values"):
        resolve_image_shape(192, (10, 10, 3))
    with pytest.raises(ValueError, match="2-D"):
        grid_patches(np.zeros(192), 8, 4)


def test_grid_shape_formula():
    assert grid_shape((32, 32, 3), 8, 1) == (25, 25)
    assert grid_shape((32, 32, 3), 8, 32) == (1, 1)
