"""STL-10 binary loader on small files written here in the official format."""

import os

import numpy as np
import pytest

from nnlite.data import Dataset, MappedImages, as_float, load_dataset, load_stl10
from nnlite.data.stl10 import rows_to_stl, stl_to_rows

from conftest import STL10_CLASSES, stl10_bytes, write_stl10_split

@pytest.fixture
def stl_dir(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    truth = {"train": write_stl10_split(folder, "train", 12, rng), "test": write_stl10_split(folder, "test", 5, rng),
             "unlabeled": write_stl10_split(folder, "unlabeled", 7, rng, labels=False)}
    (folder / "class_names.txt").write_text("\n".join(STL10_CLASSES) + "\n")
    folds = [np.arange(k, 12, 3) for k in range(10)]  # indices 0..11
    (folder / "fold_indices.txt").write_text("\n".join(" ".join(map(str, f)) for f in folds) + "\n")
    return folder, truth, folds


def test_train_split_rows_labels_names_and_folds(stl_dir):
    folder, truth, folds = stl_dir
    data = load_stl10(folder, "train")
    rows, y = truth["train"]
    assert isinstance(data, Dataset) and data.name == "stl10-train"
    assert isinstance(data.images, np.ndarray) and data.images.dtype == np.uint8
    assert data.images.shape == (12, 27648) and data.image_shape == (96, 96, 3)
    np.testing.assert_array_equal(data.images, rows)
    np.testing.assert_array_equal(data.labels, y)
    assert data.labels.dtype == np.int64 and data.labels.min() == 0
    assert data.class_names == STL10_CLASSES
    assert len(data.folds) == 10
    for loaded, expected in zip(data.folds, folds):
        np.testing.assert_array_equal(loaded, expected)


def test_pixel_positions_match_the_file_bytes(stl_dir):
    """Pixel (row, col, channel) of image i sits at byte c*9216 + col*96 + row of image i."""
    folder, _, _ = stl_dir
    raw = np.fromfile(folder / "test_X.bin", dtype=np.uint8).reshape(5, 27648)
    data = load_stl10(folder, "test")
    for image, row, col, channel in [(0, 0, 1, 2), (1, 5, 90, 0), (4, 95, 3, 1), (3, 40, 41, 2)]:
        assert data.images[image].reshape(96, 96, 3)[row, col, channel] == \
            raw[image, channel * 9216 + col * 96 + row]
    np.testing.assert_array_equal(rows_to_stl(data.images), raw)
    np.testing.assert_array_equal(stl_to_rows(raw), data.images)


def test_unlabeled_is_memory_mapped_and_indexes_lazily(stl_dir):
    folder, truth, _ = stl_dir
    rows, _ = truth["unlabeled"]
    data = load_stl10(folder, "unlabeled")
    images = data.images
    assert isinstance(images, MappedImages) and isinstance(images._native, np.memmap)
    assert data.labels is None and data.folds is None
    assert images.shape == (7, 27648) and len(images) == 7 and images.dtype == np.uint8
    np.testing.assert_array_equal(images[3], rows[3])
    np.testing.assert_array_equal(images[-1], rows[-1])
    np.testing.assert_array_equal(images[2:5], rows[2:5])
    np.testing.assert_array_equal(images[np.array([6, 0, 6, 2])], rows[[6, 0, 6, 2]])
    mask = np.array([True, False, True, False, False, False, True])
    np.testing.assert_array_equal(images[mask], rows[mask])
    picks, columns = np.array([[1], [4]]), np.array([[0, 5, 27647]])
    np.testing.assert_array_equal(images[picks, columns], rows[picks, columns])
    np.testing.assert_array_equal(images[5, 100:110], rows[5, 100:110])
    np.testing.assert_array_equal(images.hwc, rows.reshape(7, 96, 96, 3))
    np.testing.assert_array_equal(np.asarray(images), rows)
    np.testing.assert_array_equal(as_float(images, chunk_rows=3), rows.astype(np.float64))
    with pytest.raises(IndexError):
        images[7]


def test_limit_keeps_unlabeled_lazy_and_train_stratified(stl_dir):
    folder, truth, _ = stl_dir
    small = load_stl10(folder, "unlabeled", limit=3)
    assert isinstance(small.images, MappedImages) and isinstance(small.images._native, np.memmap)
    np.testing.assert_array_equal(np.asarray(small.images), truth["unlabeled"][0][:3])
    train = load_stl10(folder, "train", limit=10, random_state=0)
    assert len(train) == 10 and sorted(np.bincount(train.labels, minlength=10)) == [1] * 10
    full_rows = truth["train"][0]
    index = [int(np.flatnonzero((full_rows == row).all(axis=1))[0]) for row in train.images]
    assert all(fold.max() < 10 for fold in train.folds)
    assert index == sorted(index)


def test_mmap_option_for_labelled_split(stl_dir):
    folder, truth, _ = stl_dir
    data = load_stl10(folder, "train", mmap=True)
    assert isinstance(data.images, MappedImages)
    np.testing.assert_array_equal(data.images[[0, 11]], truth["train"][0][[0, 11]])
    eager = load_stl10(folder, "unlabeled", mmap=False)
    np.testing.assert_array_equal(eager.images, truth["unlabeled"][0])


def test_truncated_bin_is_refused_with_its_name(stl_dir):
    folder, _, _ = stl_dir
    path = folder / "train_X.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="train_X.bin.*27648"):
        load_stl10(folder, "train")


def test_label_count_mismatch_and_bad_labels(stl_dir):
    folder, _, _ = stl_dir
    (folder / "test_y.bin").write_bytes(bytes([1, 2, 3]))
    with pytest.raises(ValueError, match=r"3 labels.*5 images"):
        load_stl10(folder, "test")
    (folder / "test_y.bin").write_bytes(bytes([0, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match="1..10"):
        load_stl10(folder, "test")


def test_missing_files_and_bad_split(stl_dir, tmp_path):
    folder, _, _ = stl_dir
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_stl10(tmp_path / "nowhere")
    os.remove(folder / "test_y.bin")
    with pytest.raises(FileNotFoundError, match="test_y.bin"):
        load_stl10(folder, "test")
    with pytest.raises(ValueError, match="valid"):
        load_stl10(folder, "valid")
    (folder / "fold_indices.txt").write_text("0 1 99\n")
    with pytest.raises(ValueError, match="fold_indices.txt"):
        load_stl10(folder, "train")


def test_load_dataset_dispatches_to_stl10(stl_dir):
    folder, truth, _ = stl_dir
    data = load_dataset("stl10", folder, split="test", limit=None, cache_dir=None)
    np.testing.assert_array_equal(data.images, truth["test"][0])
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("stl10", folder, image_size=(32, 32))


def test_patch_sampler_reads_the_lazy_split_like_an_array(stl_dir):
    from nnlite.data.patches import sample_patches_raw

    folder, truth, _ = stl_dir
    lazy = load_stl10(folder, "unlabeled").images
    patches = sample_patches_raw(lazy, num_patches=300, patch_size=8, random_state=4)
    expected = sample_patches_raw(truth["unlabeled"][0], num_patches=300, patch_size=8, random_state=4)
    assert patches.dtype == np.uint8
    np.testing.assert_array_equal(patches, expected)
    with pytest.raises(ValueError, match="27648"):
        stl_to_rows(np.zeros((2, 100), np.uint8))
