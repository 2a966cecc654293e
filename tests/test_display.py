"""Tile grids: tile k at (k // cols, k % cols), per-tile contrast, RGB/grey, PNG files, loss plots."""

import numpy as np
import pytest
from PIL import Image

from nnlite.display import display_layer, plot_loss_curve, tile_grid, tile_shape


def tile_at(grid, k, columns, height, width, padding=1):
    """The pixels of cell ``k`` of a grid made by :func:`tile_grid`."""
    top = padding + (k // columns) * (height + padding)
    left = padding + (k % columns) * (width + padding)
    return grid[top:top + height, left:left + width]


@pytest.mark.parametrize("n_tiles,columns", [(1, None), (7, None), (9, None), (10, 4), (5, 1)])
def test_tile_k_lands_at_its_grid_position(n_tiles, columns, rng):
    X = rng.normal(size=(n_tiles, 4 * 5 * 3))
    grid = tile_grid(X, image_shape=(4, 5, 3), columns=columns)
    cols = columns or int(np.ceil(np.sqrt(n_tiles)))
    rows = int(np.ceil(n_tiles / cols))
    assert grid.shape == (rows * 5 + 1, cols * 6 + 1, 3)
    for k in range(n_tiles):
        tile = tile_at(grid, k, cols, 4, 5)
        stretched = (X[k] - X[k].min()) / (X[k].max() - X[k].min())
        np.testing.assert_allclose(tile, stretched.reshape(4, 5, 3))
    # Empty cells after the last tile are background.
    for k in range(n_tiles, rows * cols):
        np.testing.assert_array_equal(tile_at(grid, k, cols, 4, 5), 0.0)


def test_borders_have_the_background_value(rng):
    grid = tile_grid(rng.normal(size=(4, 12)), image_shape=(2, 2, 3), padding=2, background=1.0)
    assert grid.shape == (2 * 4 + 2, 2 * 4 + 2, 3)
    for line in (0, 1, 4, 5, 8, 9):
        np.testing.assert_array_equal(grid[line], 1.0)
        np.testing.assert_array_equal(grid[:, line], 1.0)


def test_each_tile_is_stretched_on_its_own_and_constant_tiles_are_grey():
    X = np.stack([np.linspace(0, 1e-3, 192), np.linspace(-500, 500, 192), np.full(192, 3.0)])
    grid = tile_grid(X)
    for k in range(2):
        tile = tile_at(grid, k, 2, 8, 8)
        assert tile.min() == 0.0 and tile.max() == 1.0
    np.testing.assert_array_equal(tile_at(grid, 2, 2, 8, 8), 0.5)


def test_grey_tiles_and_shape_inference(rng):
    grid = tile_grid(rng.normal(size=(3, 36)))   # 36 = 6*6 grey (not d*d*3)
    assert grid.ndim == 2 and grid.shape == (2 * 7 + 1, 2 * 7 + 1)
    assert tile_shape(192) == (8, 8, 3)
    assert tile_shape(27648) == (96, 96, 3)
    assert tile_shape(64) == (8, 8, 1)
    assert tile_shape(12, (3, 4)) == (3, 4, 1)
    with pytest.raises(ValueError, match="length 50"):
        tile_shape(50)
    with pytest.raises(ValueError, match="holds 48"):
        tile_shape(192, (4, 4, 3))
    with pytest.raises(ValueError, match=r"1 or 3 channel.*\(8, 8, 2\)"):
        tile_shape(128, (8, 8, 2))
    with pytest.raises(ValueError, match="positive ints"):
        tile_shape(192, (8, 8, True))


def test_bad_arguments(rng):
    X = rng.normal(size=(4, 192))
    for kwargs, message in [({"padding": -1}, "padding"), ({"columns": 0}, "columns"),
                            ({"background": 2}, "background")]:
        with pytest.raises(ValueError, match=message):
            tile_grid(X, **kwargs)
    with pytest.raises(ValueError, match="scale"):
        display_layer(X, filename="unused.png", scale=0)


def test_display_layer_writes_an_upscaled_png(tmp_path, rng):
    X = rng.normal(size=(100, 192))
    path = tmp_path / "sub" / "layer.png"
    grid = display_layer(X, path)
    assert grid.shape == (91, 91, 3)
    with Image.open(path) as image:
        assert image.mode == "RGB"
        pixels = np.asarray(image)
    scale = pixels.shape[0] // 91
    assert pixels.shape == (91 * scale, 91 * scale, 3) and 91 * scale >= 400
    np.testing.assert_array_equal(pixels[::scale, ::scale], np.rint(grid * 255).astype(np.uint8))


def test_display_layer_whole_images_and_grey(tmp_path, rng):
    grid = display_layer(rng.integers(0, 256, size=(16, 27648)), tmp_path / "images.png", scale=1)
    assert grid.shape == (4 * 97 + 1, 4 * 97 + 1, 3)
    display_layer(rng.normal(size=(5, 64)), tmp_path / "grey.png")
    with Image.open(tmp_path / "grey.png") as image:
        assert image.mode == "L"
    assert display_layer(rng.normal(size=(2, 12)), None, image_shape=(2, 2, 3)).shape == (4, 7, 3)


def test_plot_loss_curve(tmp_path):
    loss = [10.0, 3.0, 1.0, 0.5, 0.4]
    path = plot_loss_curve(loss, tmp_path / "loss.png", time_curve=[0, 0.1, 0.2, 0.3, 0.4])
    with Image.open(path) as image:
        assert image.size[0] > image.size[1] > 100
    plot_loss_curve([1.0, -1.0], tmp_path / "linear.png")   # non-positive: linear axis
    with pytest.raises(ValueError, match="time_curve has 2"):
        plot_loss_curve(loss, tmp_path / "bad.png", time_curve=[0, 1])
    with pytest.raises(ValueError, match="empty"):
        plot_loss_curve([], tmp_path / "empty.png")
