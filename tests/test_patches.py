"""Random patch sampling: positions, real blocks, dtypes, memory maps, lazy stores, bad input."""

import numpy as np
import pytest

from nnlite.data import patches as patches_module
from nnlite.data.patches import image_side, sample_patches_raw


def coded_images(n_images, height, width, channels=3):
    """int64 images whose every value is its own flat index: a patch tells where it came from."""
    return np.arange(n_images * height * width * channels, dtype=np.int64).reshape(n_images, -1)


def decode_corners(patches, height, width, channels):
    """(image, row, col) of each patch of :func:`coded_images`, from its first value."""
    first = patches[:, 0]
    image, rest = np.divmod(first, height * width * channels)
    row, rest = np.divmod(rest, width * channels)
    return image, row, rest // channels


def expected_blocks(images, image, row, col, patch_size, shape):
    """The patches cut out of the images one by one (the slow, obvious way)."""
    return np.stack([images[n].reshape(shape)[r:r + patch_size, q:q + patch_size].ravel()
                     for n, r, q in zip(image, row, col)])


class CountingStore:
    """A lazy image store: only ``shape``, ``dtype`` and ``store[int_array]``; records requests."""

    def __init__(self, images):
        self._images = images
        self.shape = images.shape
        self.dtype = images.dtype
        self.requests = []

    def __getitem__(self, index):
        index = np.asarray(index)
        self.requests.append(index.copy())
        return self._images[index]


def test_every_patch_is_a_real_block_of_its_image():
    height, width, channels, size = 9, 13, 3, 4
    images = coded_images(5, height, width, channels)
    patches = sample_patches_raw(images, 300, size, image_shape=(height, width, channels),
                                 random_state=0)
    assert patches.shape == (300, size * size * channels)
    image, row, col = decode_corners(patches, height, width, channels)
    expected = expected_blocks(images, image, row, col, size, (height, width, channels))
    np.testing.assert_array_equal(patches, expected)


def test_positions_cover_the_whole_valid_range_and_nothing_else():
    height, width, size = 5, 6, 3
    images = coded_images(4, height, width)
    patches = sample_patches_raw(images, 4000, size, image_shape=(height, width, 3), random_state=1)
    image, row, col = decode_corners(patches, height, width, 3)
    assert set(image.tolist()) == {0, 1, 2, 3}
    assert set(row.tolist()) == set(range(height - size + 1))
    assert set(col.tolist()) == set(range(width - size + 1))
    # Roughly uniform: each of the 3 x 4 corners gets about 1/12 of the draws.
    counts = np.bincount(row * (width - size + 1) + col, minlength=12)
    assert counts.min() > 4000 / 12 * 0.7


def test_square_rgb_default_layout_and_patch_equal_to_image_when_same_size():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(3, 8 * 8 * 3), dtype=np.uint8)
    patches = sample_patches_raw(images, 10, 8, random_state=0)
    assert patches.dtype == np.uint8
    # A patch as large as the image is the whole image.
    assert all(any(np.array_equal(p, img) for img in images) for p in patches)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int16])
def test_dtype_is_kept(dtype):
    images = (coded_images(2, 10, 10) % 200).astype(dtype)
    patches = sample_patches_raw(images, 7, 3, random_state=0)
    assert patches.dtype == dtype and patches.shape == (7, 27)


def test_grey_images_and_two_value_image_shape():
    images = coded_images(3, 7, 9, channels=1)
    patches = sample_patches_raw(images, 50, 4, image_shape=(7, 9), random_state=3)
    assert patches.shape == (50, 16)
    image, row, col = decode_corners(patches, 7, 9, 1)
    np.testing.assert_array_equal(patches, expected_blocks(images, image, row, col, 4, (7, 9, 1)))


def test_same_seed_same_patches_and_generator_accepted():
    images = coded_images(6, 12, 12)
    first = sample_patches_raw(images, 20, 5, random_state=42)
    np.testing.assert_array_equal(first, sample_patches_raw(images, 20, 5, random_state=42))
    other = sample_patches_raw(images, 20, 5, random_state=np.random.default_rng(42))
    np.testing.assert_array_equal(first, other)


def test_non_contiguous_input_works():
    images = coded_images(6, 10, 10)[::2]
    patches = sample_patches_raw(images, 30, 4, random_state=0)
    image, row, col = decode_corners(patches, 10, 10, 3)
    np.testing.assert_array_equal(patches, expected_blocks(coded_images(6, 10, 10), image, row, col,
                                                           4, (10, 10, 3)))


def test_memory_mapped_file_gives_the_same_patches(tmp_path):
    images = (coded_images(20, 16, 16) % 251).astype(np.uint8)
    np.save(tmp_path / "images.npy", images)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="r")
    from_map = sample_patches_raw(mapped, 200, 8, random_state=7)
    assert type(from_map) is np.ndarray and from_map.dtype == np.uint8
    np.testing.assert_array_equal(from_map, sample_patches_raw(images, 200, 8, random_state=7))


def test_lazy_store_fetches_only_distinct_drawn_images():
    images = coded_images(50, 10, 10)
    store = CountingStore(images)
    expected = sample_patches_raw(images, 30, 4, random_state=5)
    got = sample_patches_raw(store, 30, 4, random_state=5)
    np.testing.assert_array_equal(got, expected)
    requested = np.concatenate(store.requests)
    drawn = np.unique(decode_corners(expected, 10, 10, 3)[0])
    np.testing.assert_array_equal(np.sort(requested), drawn)  # each drawn image once, no others


def test_lazy_store_in_several_chunks(monkeypatch):
    images = coded_images(40, 10, 10)
    monkeypatch.setattr(patches_module, "LAZY_CHUNK_BYTES", 3 * 300 * 8)  # 3 images per chunk
    store = CountingStore(images)
    got = sample_patches_raw(store, 500, 4, random_state=9)
    np.testing.assert_array_equal(got, sample_patches_raw(images, 500, 4, random_state=9))
    assert len(store.requests) > 1 and max(len(r) for r in store.requests) <= 3


def test_mapped_images_with_column_major_storage(tmp_path):
    dataset = pytest.importorskip("nnlite.data.dataset")
    rng = np.random.default_rng(0)
    native = rng.integers(0, 256, size=(6, 3, 12, 12), dtype=np.uint8)  # (image, channel, col, row)
    np.save(tmp_path / "native.npy", native)
    mapped = dataset.MappedImages(np.load(tmp_path / "native.npy", mmap_mode="r"), (0, 3, 2, 1))
    rows = np.ascontiguousarray(native.transpose(0, 3, 2, 1)).reshape(6, -1)
    got = sample_patches_raw(mapped, 100, 5, random_state=11)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, sample_patches_raw(rows, 100, 5, random_state=11))


@pytest.mark.parametrize("num_patches", [0, -3, 2.5, True])
def test_bad_num_patches(num_patches):
    with pytest.raises(ValueError, match="num_patches"):
        sample_patches_raw(coded_images(2, 8, 8), num_patches, 4)


@pytest.mark.parametrize("patch_size", [0, -1])
def test_non_positive_patch_size(patch_size):
    with pytest.raises(ValueError, match="patch_size"):
        sample_patches_raw(coded_images(2, 8, 8), 10, patch_size)


def test_patch_larger_than_image_names_both():
    with pytest.raises(ValueError, match=r"patch_size 9 .*8x8"):
        sample_patches_raw(coded_images(2, 8, 8), 10, 9)
    with pytest.raises(ValueError, match=r"patch_size 6 .*5x9"):
        sample_patches_raw(coded_images(2, 5, 9), 10, 6, image_shape=(5, 9, 3))


def test_empty_images_and_bad_shapes():
    with pytest.raises(ValueError, match="empty"):
        sample_patches_raw(np.zeros((0, 192), np.uint8), 10, 8)
    with pytest.raises(ValueError, match="100"):
        sample_patches_raw(np.zeros((2, 100), np.uint8), 10, 4)
    with pytest.raises(ValueError, match="2-D"):
        sample_patches_raw(np.zeros(192, np.uint8), 10, 4)
    with pytest.raises(ValueError, match="holds 150"):
        sample_patches_raw(np.zeros((2, 192), np.uint8), 10, 4, image_shape=(5, 10, 3))


def test_image_side():
    assert image_side(192) == 8
    assert image_side(27648) == 96
    assert image_side(64, channels=1) == 8
    with pytest.raises(ValueError, match="row length 100"):
        image_side(100)
    with pytest.raises(ValueError, match="row length"):
        image_side(0)


def test_grid_patches_is_re_exported():
    strided = pytest.importorskip("nnlite.data.strided")
    from nnlite.data.patches import grid_patches
    assert grid_patches is strided.grid_patches


@pytest.mark.parametrize("storage", [(0, 1, 2, 3), (0, 3, 2, 1), (0, 3, 1, 2), (0, 2, 1, 3),
                                     (0, 1, 3, 2), (0, 2, 3, 1)])
@pytest.mark.parametrize("patch_size", [1, 4])
def test_strided_views_in_every_storage_order(storage, patch_size):
    """``gather_patches_hwc`` on a (n, h, w, c) view of any storage order equals the row gather."""
    from nnlite.data.patches import gather_patches, gather_patches_hwc, patch_positions

    height, width, channels = 7, 9, 3
    rows = coded_images(5, height, width, channels)
    hwc = rows.reshape(5, height, width, channels)
    stored = hwc.transpose(storage).copy()                      # how a file might hold them
    view = stored.transpose(np.argsort(storage))                # back to (n, h, w, c), no copy
    assert not np.shares_memory(view, rows) and view.shape == hwc.shape
    image, row, col = patch_positions(5, (height, width, channels), 200, patch_size, 0)
    np.testing.assert_array_equal(gather_patches_hwc(view, image, row, col, patch_size),
                                  gather_patches(rows, image, row, col, patch_size,
                                                 (height, width, channels)))
