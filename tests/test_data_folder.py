"""Image-folder loader: PNGs written here with Pillow, the cache, and the real CIFAR-10 JPEGs."""

import os
import time

import numpy as np
import pytest
from PIL import Image

from nnlite.data import load_dataset, load_image_folder

REAL_FOLDER = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                           "cifar10-jpeg", "train"))


def write_png(path, pixels, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels) if mode is None else Image.fromarray(pixels).convert(mode)
    image.save(path)


@pytest.fixture
def folder(tmp_path):
    """root/cat: 3 RGB PNGs, root/dog: 2 (one grey, one RGBA); all 6 x 5; plus a stray text file."""
    rng = np.random.default_rng(7)
    root = tmp_path / "pets"
    truth = {}
    for name in ("c0.png", "c1.png", "c2.png"):
        pixels = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
        write_png(root / "cat" / name, pixels)
        truth[f"cat/{name}"] = pixels
    grey = rng.integers(0, 256, size=(6, 5), dtype=np.uint8)
    write_png(root / "dog" / "d0.png", grey)
    truth["dog/d0.png"] = np.repeat(grey[:, :, None], 3, axis=2)
    rgba = rng.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    write_png(root / "dog" / "d1.PNG", rgba)
    truth["dog/d1.PNG"] = rgba[:, :, :3]
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    return root, truth


def test_rows_labels_classes_in_sorted_order(folder):
    root, truth = folder
    data = load_image_folder(root, progress=False)
    assert data.class_names == ["cat", "dog"] and data.image_shape == (6, 5, 3)
    np.testing.assert_array_equal(data.labels, [0, 0, 0, 1, 1])
    expected = np.stack([truth[key].reshape(-1) for key in sorted(truth)])
    np.testing.assert_array_equal(data.images, expected)
    assert data.images.dtype == np.uint8 and data.name == "folder-pets"


def test_mixed_sizes_error_names_both_files_then_resize(folder):
    root, _ = folder
    write_png(root / "dog" / "d2.png", np.zeros((9, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r"cat/c0.png.*5x6.*dog/d2.png.*4x9.*image_size"):
        load_image_folder(root, progress=False, n_jobs=2)
    data = load_image_folder(root, image_size=(8, 7), progress=False)
    assert data.image_shape == (8, 7, 3) and data.images.shape == (6, 8 * 7 * 3)
    big = np.full((9, 4, 3), 200, np.uint8)
    write_png(root / "dog" / "d2.png", big)
    resized = load_image_folder(root, image_size=(8, 7), progress=False)
    assert (resized.images[-1] == 200).all()  # a flat image stays flat after resizing
    with pytest.raises(ValueError, match="image_size"):
        load_image_folder(root, image_size=(8, 0))


def test_cache_hit_and_stale_rebuild(folder, tmp_path, capsys):
    root, truth = folder
    cache = tmp_path / "cache"
    first = load_image_folder(root, cache_dir=cache)
    assert "decoding images" in capsys.readouterr().err
    files = sorted(os.listdir(cache))
    assert len(files) == 2 and files[0].endswith(".npy") and files[1].endswith(".npz")
    second = load_image_folder(root, cache_dir=cache)
    assert "using cached images" in capsys.readouterr().err
    assert isinstance(second.images, np.memmap) and not second.images.flags.writeable
    np.testing.assert_array_equal(second.images, first.images)
    np.testing.assert_array_equal(second.labels, first.labels)
    assert second.class_names == first.class_names and second.image_shape == first.image_shape
    # Change one file: same names and count, new content and mtime -> rebuilt.
    changed = np.zeros((6, 5, 3), np.uint8)
    write_png(root / "cat" / "c1.png", changed)
    future = time.time() + 10
    os.utime(root / "cat" / "c1.png", (future, future))
    third = load_image_folder(root, cache_dir=cache)
    assert "decoding images" in capsys.readouterr().err
    assert not third.images[1].any()
    # Another option is another cache entry.
    load_image_folder(root, cache_dir=cache, image_size=(3, 3), progress=False)
    assert len(os.listdir(cache)) == 4


def test_limit_takes_the_first_of_each_class(folder):
    root, truth = folder
    data = load_image_folder(root, limit=2, progress=False)
    np.testing.assert_array_equal(data.labels, [0, 1])
    np.testing.assert_array_equal(data.images[1], truth["dog/d0.png"].reshape(-1))
    seeded = load_image_folder(root, limit=3, random_state=0, progress=False)
    assert len(seeded) == 3 and set(seeded.labels) == {0, 1}


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        load_image_folder(tmp_path / "absent")
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(tmp_path)
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="holds no images"):
        load_dataset("folder", tmp_path)
    (tmp_path / "cls" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="broken.jpg"):
        load_dataset("folder", tmp_path, progress=False)


@pytest.mark.data
def test_real_cifar10_jpeg_folder(tmp_path):
    if not os.path.isdir(REAL_FOLDER):
        pytest.skip(f"real images not found at {REAL_FOLDER} (../shared/data is absent here)")
    data = load_dataset("folder", REAL_FOLDER, limit=200, cache_dir=tmp_path, progress=False)
    assert data.images.shape == (200, 32 * 32 * 3) and data.images.dtype == np.uint8
    assert data.image_shape == (32, 32, 3) and len(data.class_names) == 10
    assert sorted(np.bincount(data.labels)) == [20] * 10
    assert 60 < data.images.mean() < 200  # real photographs, not blank
    again = load_dataset("folder", REAL_FOLDER, limit=200, cache_dir=tmp_path, progress=False)
    assert isinstance(again.images, np.memmap)
    np.testing.assert_array_equal(again.images, data.images)
